//! The end of one shard's run: its report without verdicts (assertions need every shard), its
//! samples on the loadgen's clock, and `shard.json` last, which marks the shard finished.

use super::ShardInfo;
use crate::run::{RunOutput, Samples};
use crate::scenario::Scenario;
use std::path::Path;

/// File of a shard's samples, re-expressed on its loadgen's clock (`t,column,value`).
pub const SAMPLES: &str = "shard-samples.csv";

/// Finishes shard `shard` (0-based index, count) in `dir`: writes what the merge reads and
/// returns the shard's exit code (`code`, or 3 when its files cannot be written).
pub fn done(
    file: &Path,
    variant: &str,
    shard: (u32, u32),
    start_at: Option<&str>,
    dir: &Path,
    finished: Option<(&Scenario, &RunOutput)>,
    code: u8,
) -> u8 {
    let mut code = code;
    if let Some((s, out)) = finished {
        let written = crate::report::write_run(s, out, Vec::new())
            .and_then(|_| write_samples(&dir.join(SAMPLES), &out.samples));
        match written {
            Ok(()) => println!(
                "shard {} of {} finished: {} (assertions are decided by `proxylab merge-shards` over every shard)",
                shard.0,
                shard.1,
                dir.display()
            ),
            Err(e) => {
                eprintln!("error: shard {}: {e}", shard.0);
                code = crate::run_cmd::COMPONENT;
            }
        }
    }
    let info = ShardInfo {
        index: shard.0,
        count: shard.1,
        scenario: std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()),
        variant: variant.to_string(),
        start_at: start_at.map(str::to_string),
        code,
    };
    if let Err(e) = info.write(dir) {
        eprintln!("error: {e}");
        return crate::run_cmd::COMPONENT;
    }
    code
}

/// Writes `samples` in long form (`t,column,value`, one line per value).
pub fn write_samples(path: &Path, samples: &Samples) -> Result<(), String> {
    let mut out = String::from("t,column,value\n");
    for c in samples.columns() {
        for (t, v) in samples.points(&c) {
            out.push_str(&format!("{t},{c},{v}\n"));
        }
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a file of [`write_samples`] (missing: no samples).
pub fn read_samples(path: &Path) -> Vec<super::combine::SampleCell> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.splitn(3, ',');
            let t = f.next()?.parse().ok()?;
            let c = f.next()?.to_string();
            let v = f.next()?.parse().ok()?;
            Some((t, c, v))
        })
        .collect()
}
