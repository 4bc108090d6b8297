//! `proxylab bench relay`: what an idle link relay costs. Runs `scenarios/relay-overhead.toml`
//! (5,000 req/s through our proxy; `--ci`: 1,000 req/s for 3 s) without a relay (`base`), with
//! the relay on `loadgen->proxy` (`relay-client`) and on `proxy->api` (`relay-upstream`), in
//! alternating rounds, and prints side by side the medians of p50, p99, the relay's and the
//! proxy's CPU and the rate achieved, with the added p50/p99 against `base`. Every figure is
//! marked "under load" when other processes took more than 10 % of a core during any run.

use super::record;
use super::support::{machine_load, median};
use crate::report::summary::RunSummary;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The runs compared, in print order.
const VARIANTS: [&str; 3] = ["base", "relay-client", "relay-upstream"];
/// Other processes' CPU (percent of one core) above which the figures are "under load".
const QUIET_OTHERS_PCT: f64 = 10.0;

/// Flags of `proxylab bench relay`.
#[derive(clap::Args, Debug, Clone)]
pub struct RelayArgs {
    /// The scenario file.
    #[arg(long, default_value = "scenarios/relay-overhead.toml")]
    pub scenario: PathBuf,
    /// Alternating rounds (medians over them).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// The scenario's `ci` variant (1,000 req/s for 3 s) instead of 5,000 req/s for 10 s.
    #[arg(long)]
    pub ci: bool,
}

/// One run's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    p50: f64,
    p99: f64,
    relay_cpu: f64,
    proxy_cpu: f64,
    rate: f64,
    others: f64,
}

fn figures(s: &RunSummary) -> Figures {
    let cpu = |c: &str| s.components.get(c).map_or(0.0, |u| u.cpu_avg);
    Figures {
        p50: s.total.latency_ms.get("p50").copied().unwrap_or(f64::NAN),
        p99: s.total.latency_ms.get("p99").copied().unwrap_or(f64::NAN),
        relay_cpu: cpu("relay"),
        proxy_cpu: cpu("proxy"),
        rate: s.total.achieved_rate,
        others: s.provenance.as_ref().map_or(0.0, |p| p.others_cpu_pct),
    }
}

/// Runs one variant into `out` and reads its summary back.
fn run_one(a: &RelayArgs, variant: &str, out: &Path) -> anyhow::Result<RunSummary> {
    let dir = out.join(format!("{variant}-{}", std::process::id()));
    let mut cmd = Command::new(crate::run::launch::self_exe());
    cmd.arg("run")
        .arg(&a.scenario)
        .args(["--variant", variant, "--no-compare", "--out"])
        .arg(&dir)
        .stdout(Stdio::null());
    if a.ci {
        cmd.arg("--ci");
    }
    let st = cmd.status().context("cannot start `proxylab run`")?;
    let summary = find_summary(&dir).with_context(|| {
        format!("`proxylab run … --variant {variant}` left no summary.json ({st})")
    })?;
    let text = std::fs::read_to_string(&summary)?;
    let s: RunSummary = serde_json::from_str(&text)
        .with_context(|| format!("{}: unreadable summary", summary.display()))?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(s)
}

/// The one `summary.json` under `dir` (the runner writes `dir/SCENARIO/STAMP-VARIANT/`).
fn find_summary(dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "summary.json") {
                return Some(p);
            }
        }
    }
    None
}

/// Runs the comparison and prints the table.
pub fn run(a: &RelayArgs) -> anyhow::Result<()> {
    if !a.scenario.is_file() {
        bail!(
            "{} not found (run from the repository root or pass --scenario)",
            a.scenario.display()
        );
    }
    let out = tempfile::Builder::new()
        .prefix("proxylab-bench-relay-")
        .tempdir()?;
    let mut got: Vec<Vec<Figures>> = vec![Vec::new(); VARIANTS.len()];
    for round in 0..a.rounds as usize {
        // Alternate the order so that no variant always runs first (warmest / coldest).
        for k in 0..VARIANTS.len() {
            let i = (k + round) % VARIANTS.len();
            eprintln!("round {}: {}", round + 1, VARIANTS[i]);
            got[i].push(figures(&run_one(a, VARIANTS[i], out.path())?));
        }
    }
    print_table(&got, a);
    Ok(())
}

fn print_table(got: &[Vec<Figures>], a: &RelayArgs) {
    let med = |i: usize, f: fn(&Figures) -> f64| median(&got[i].iter().map(f).collect::<Vec<_>>());
    let others = got.iter().flatten().map(|f| f.others).fold(0.0, f64::max);
    let tag = if others > QUIET_OTHERS_PCT {
        format!("UNDER LOAD: other processes took up to {others:.0} % of a core")
    } else {
        "quiet machine".to_string()
    };
    println!(
        "\nrelay overhead ({}, medians of {} alternating rounds; {tag}; {})",
        if a.ci {
            "1,000 req/s for 3 s"
        } else {
            "5,000 req/s for 10 s"
        },
        a.rounds,
        machine_load()
    );
    println!(
        "{:<16} {:>9} {:>9} {:>10} {:>10} {:>11} {:>11} {:>10}",
        "run", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms", "relay cpu%", "proxy cpu%", "req/s"
    );
    let (b50, b99) = (med(0, |f| f.p50), med(0, |f| f.p99));
    for (i, name) in VARIANTS.iter().enumerate() {
        let (p50, p99) = (med(i, |f| f.p50), med(i, |f| f.p99));
        println!(
            "{name:<16} {p50:>9.3} {p99:>9.3} {:>+10.3} {:>+10.3} {:>11.1} {:>11.1} {:>10.0}",
            p50 - b50,
            p99 - b99,
            med(i, |f| f.relay_cpu),
            med(i, |f| f.proxy_cpu),
            med(i, |f| f.rate),
        );
    }
    record_rows(&med, if a.ci { "1,000 req/s" } else { "5,000 req/s" });
}

/// A recorded figure: its name, unit and how to read it from one run.
type Measure = (&'static str, &'static str, fn(&Figures) -> f64);

/// Records each relay's p50, p99 and proxy CPU against the run without a relay (for the
/// reference table; informational, no target).
fn record_rows(med: &dyn Fn(usize, fn(&Figures) -> f64) -> f64, rate: &str) {
    let measures: [Measure; 3] = [
        ("p50", "ms", |f| f.p50),
        ("p99", "ms", |f| f.p99),
        ("proxy CPU", "% of a core", |f| f.proxy_cpu),
    ];
    for (i, link) in [(1, "loadgen->proxy"), (2, "proxy->api")] {
        for (what, unit, f) in measures {
            record::figure(&format!("idle relay on {link}, {rate}: {what}"), unit);
            record::ratio((VARIANTS[i], med(i, f)), ("no relay", med(0, f)), None);
        }
    }
}
