//! `proxylab merge-shards DIR`: waits (bounded) for every shard's `shard.json`, adds the
//! shards' interval logs, series, summaries and samples, evaluates the scenario's assertions
//! on the merged data and writes one run directory (`DIR/merged`): one report, one
//! `summary.json`, one `junit.xml`, one exit code.

use super::combine::{self, ShardLog};
use super::{SHARD_INFO, ShardInfo, shard_dir};
use crate::results::assertions::{self, Data};
use crate::results::loadgen_out::{HistLog, parse_series, read_summary};
use crate::run::{RunOutput, Timings, hlog_origin, loadgen_paths};
use crate::run_cmd::{BAD_SCENARIO, COMPONENT, FAILED, PASS};
use crate::scenario::{self, Overrides, Scenario};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Why shards cannot be merged, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MergeError {
    /// 2: bad input (no scenario, mismatched shards); 3: a shard missing or failed.
    pub code: u8,
    /// What is wrong.
    pub message: String,
}

fn err(code: u8, message: impl Into<String>) -> MergeError {
    MergeError {
        code,
        message: message.into(),
    }
}

/// Finished shards in `dir` (those with a `shard.json`), by index.
fn finished(dir: &Path) -> Vec<ShardInfo> {
    let mut v: Vec<ShardInfo> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("shard-"))
        .filter_map(|e| ShardInfo::read(&e.path()).ok())
        .collect();
    v.sort_by_key(|s| s.index);
    v
}

/// Waits up to `wait` until `expected` shards (default: the count the first one names) have
/// finished; checks they are one complete, successful set.
pub fn collect(
    dir: &Path,
    expected: Option<u32>,
    wait: Duration,
) -> Result<Vec<ShardInfo>, MergeError> {
    let until = Instant::now() + wait;
    let mut shown = usize::MAX;
    loop {
        let got = finished(dir);
        let want = expected.or(got.first().map(|s| s.count));
        if want.is_some_and(|n| got.len() as u32 >= n) {
            return check_set(got, want.unwrap_or(0));
        }
        if Instant::now() >= until {
            let have: Vec<String> = got.iter().map(|s| s.index.to_string()).collect();
            return Err(err(
                COMPONENT,
                format!(
                    "{}: {} of {} shards finished (have: [{}]); each writes shard-INDEX/{SHARD_INFO} when done",
                    dir.display(),
                    got.len(),
                    want.map_or("?".into(), |n| n.to_string()),
                    have.join(", ")
                ),
            ));
        }
        if got.len() != shown {
            shown = got.len();
            eprintln!(
                "merge-shards: {shown} of {} shard(s) finished in {}, waiting (up to {} s)",
                want.map_or("?".into(), |n| n.to_string()),
                dir.display(),
                until.saturating_duration_since(Instant::now()).as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn check_set(got: Vec<ShardInfo>, n: u32) -> Result<Vec<ShardInfo>, MergeError> {
    for (i, s) in got.iter().enumerate() {
        if s.count != n || s.index != i as u32 {
            return Err(err(
                BAD_SCENARIO,
                format!(
                    "shard-{} says it is shard {} of {}, expected {i} of {n}: results of different runs in one directory?",
                    s.index, s.index, s.count
                ),
            ));
        }
        if s.code != PASS {
            return Err(err(
                COMPONENT,
                format!(
                    "shard {} failed (exit {}): see shard-{}/logs/",
                    s.index, s.code, s.index
                ),
            ));
        }
        if s.variant != got[0].variant || s.scenario != got[0].scenario {
            return Err(err(
                BAD_SCENARIO,
                format!(
                    "shard {} ran another scenario or variant than shard 0",
                    s.index
                ),
            ));
        }
    }
    Ok(got)
}

/// The scenario to judge by: `given`, else the one shard 0 ran, else the copy in its run
/// directory; with the variants the shards applied.
pub fn scenario_of(
    dir: &Path,
    info: &ShardInfo,
    given: Option<&Path>,
) -> Result<Scenario, MergeError> {
    let copy = shard_dir(dir, 0).join("scenario.toml");
    let path = given
        .map(Path::to_path_buf)
        .or_else(|| info.scenario.is_file().then(|| info.scenario.clone()))
        .unwrap_or(copy);
    let ov = Overrides {
        variants: info
            .variant
            .split('+')
            .filter(|v| !v.is_empty() && *v != "base")
            .map(str::to_string)
            .collect(),
        proxy: None,
    };
    scenario::load(&path, &ov).map_err(|e| err(BAD_SCENARIO, format!("error: {e}")))
}

/// Adds the shards' outputs into `out_dir`, returning the merged run and how many whole
/// seconds the latest shard started after the earliest (its seconds are placed that much
/// later in the merged timeline).
pub fn merge_outputs(
    dir: &Path,
    shards: &[ShardInfo],
    s: &Scenario,
    out_dir: &Path,
) -> Result<(RunOutput, u64), MergeError> {
    let io = |e: String| err(COMPONENT, e);
    std::fs::create_dir_all(out_dir).map_err(|e| io(format!("{}: {e}", out_dir.display())))?;
    let dirs: Vec<PathBuf> = shards.iter().map(|i| shard_dir(dir, i.index)).collect();
    let origins: Vec<SystemTime> = dirs
        .iter()
        .map(|d| {
            hlog_origin(&loadgen_paths(d).2)
                .ok_or_else(|| io(format!("{}: no interval log with a StartTime", d.display())))
        })
        .collect::<Result<_, _>>()?;
    let origin = origins
        .iter()
        .min()
        .copied()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let offsets: Vec<u64> = origins
        .iter()
        .map(|o| {
            o.duration_since(origin)
                .map_or(0, |d| d.as_secs_f64().round() as u64)
        })
        .collect();
    let mut logs = Vec::new();
    let mut summaries = Vec::new();
    let mut series = Vec::new();
    let mut samples = Vec::new();
    for (d, off) in dirs.iter().zip(&offsets) {
        let (sum_p, ser_p, hlog_p) = loadgen_paths(d);
        let bytes = std::fs::read(&hlog_p).map_err(|e| io(format!("{}: {e}", hlog_p.display())))?;
        logs.push(ShardLog {
            bytes,
            offset: *off,
        });
        summaries.push(read_summary(&sum_p).map_err(io)?);
        let text =
            std::fs::read_to_string(&ser_p).map_err(|e| io(format!("{}: {e}", ser_p.display())))?;
        series.push((parse_series(&text), *off));
        samples.push((
            super::shard::read_samples(&d.join(super::shard::SAMPLES)),
            *off,
        ));
    }
    let tags: Vec<String> = s.loads.iter().map(|l| l.name.clone()).collect();
    let (sum_p, ser_p, hlog_p) = loadgen_paths(out_dir);
    combine::merge_hlogs(&logs, &tags, origin, &hlog_p).map_err(io)?;
    let hlog = HistLog::read(&hlog_p);
    let merged = proxylab_loadgen::merge::merge(&summaries).map_err(|e| err(BAD_SCENARIO, e))?;
    let json = serde_json::to_string_pretty(&merged).map_err(|e| io(e.to_string()))?;
    std::fs::write(&sum_p, json + "\n").map_err(|e| io(format!("{}: {e}", sum_p.display())))?;
    let series = combine::merge_series(&series, &hlog);
    std::fs::write(&ser_p, combine::series_csv(&series))
        .map_err(|e| io(format!("{}: {e}", ser_p.display())))?;
    let (wall, timings) = slowest(&dirs);
    let samples = combine::merge_samples(&samples, s.sample_interval.as_secs_f64());
    super::shard::write_samples(&out_dir.join(super::shard::SAMPLES), &samples).map_err(io)?;
    let late = offsets.iter().copied().max().unwrap_or(0);
    let run = RunOutput {
        dir: out_dir.to_path_buf(),
        samples,
        markers: Vec::new(),
        series,
        hlog,
        summary: Some(merged),
        proxy_config: String::new(),
        components: vec!["loadgen".into()],
        wall,
        timings,
        // shards may run on several machines: no single machine's provenance
        provenance: Default::default(),
    };
    Ok((run, late))
}

/// The slowest shard's wall time and its breakdown (from its `summary.json`).
fn slowest(dirs: &[PathBuf]) -> (Duration, Timings) {
    let mut best = (0.0f64, Timings::default());
    for d in dirs {
        let Ok(text) = std::fs::read_to_string(d.join("summary.json")) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let wall = v["wall_s"].as_f64().unwrap_or(0.0);
        if wall > best.0 {
            let t = serde_json::from_value(v["timings"].clone()).unwrap_or_default();
            best = (wall, t);
        }
    }
    (Duration::from_secs_f64(best.0.max(0.0)), best.1)
}

/// Merges, evaluates and writes the one report; returns the exit code (0 every assertion
/// held, 1 one failed, 2 bad input, 3 a shard missing or failed).
pub fn run(
    dir: &Path,
    expected: Option<u32>,
    wait: Duration,
    scenario: Option<&Path>,
    out: Option<&Path>,
) -> u8 {
    match run_inner(dir, expected, wait, scenario, out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("proxylab merge-shards: {e}");
            e.code
        }
    }
}

fn run_inner(
    dir: &Path,
    expected: Option<u32>,
    wait: Duration,
    scenario: Option<&Path>,
    out: Option<&Path>,
) -> Result<u8, MergeError> {
    let shards = collect(dir, expected, wait)?;
    let first = shards.first().ok_or_else(|| err(COMPONENT, "no shard"))?;
    let mut s = scenario_of(dir, first, scenario)?;
    let out_dir = out.map_or_else(|| dir.join("merged"), Path::to_path_buf);
    let (run, late) = merge_outputs(dir, &shards, &s, &out_dir)?;
    if late > 0 {
        // A shard that started late ran its whole load later: the run's window (whole-run
        // counts, rates, percentiles) grows by as much, so none of its seconds fall outside.
        eprintln!(
            "merge-shards: a shard started {late} s after the first (see its logs); the merged run is {late} s longer than the scenario and phases are on the first shard's clock"
        );
        s.duration += Duration::from_secs(late);
    }
    let verdicts = assertions::evaluate(
        &s,
        Data {
            series: &run.series,
            hlog: &run.hlog,
            summary: run.summary.as_ref(),
            samples: &run.samples,
            run_dir: None,
        },
    );
    let (summary, index) =
        crate::report::write_run(&s, &run, verdicts).map_err(|e| err(COMPONENT, e))?;
    println!("{} shards merged", shards.len());
    print!("{}", crate::report::table::terminal(&summary));
    println!("report: {}", index.display());
    Ok(if summary.passed { PASS } else { FAILED })
}
