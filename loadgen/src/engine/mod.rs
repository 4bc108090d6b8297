//! The engine: runs a plan on worker threads (one single-threaded runtime each), collects the
//! per-second snapshots (streamed to the series CSV and the interval log as each second
//! closes) and returns the summary and the warnings.

pub mod collector;
pub mod ctx;
mod drivers;
mod pool;
mod shared;
mod timer;
mod worker;

pub use collector::Row;
pub use shared::EngineError;

use crate::plan::Plan;
use crate::record::Stats;
use crate::record::build;
use crate::record::hlog::HlogWriter;
use crate::record::series::SeriesWriter;
use crate::record::summary::Summary;
use shared::Shared;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Schedule lag p99 above which the run is reported as "generator behind schedule" (µs):
/// twice the timer granularity (tokio timers fire on whole milliseconds).
pub const LAG_WARN_US: u64 = 2000;

/// The result of a run.
#[derive(Debug)]
pub struct RunResult {
    /// The summary (what `--summary-json` writes).
    pub summary: Summary,
    /// Population names, in plan order.
    pub names: Vec<String>,
    /// Run totals per population (histograms included), for merging and reports.
    pub totals: Vec<Stats>,
    /// Loud problems: the generator fell behind, output files failed.
    pub warnings: Vec<String>,
    /// True when stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// Runs `plan`; `stop` turning true ends it early (partial results are still returned);
/// `on_second` sees every completed second (one row per population, then the all-populations
/// row). The series CSV and the interval log of `plan.output` are created (headers flushed)
/// before the first request and grow by one flushed second at a time.
pub fn run(
    plan: &Plan,
    stop: watch::Receiver<bool>,
    on_second: &mut dyn FnMut(&[Row]),
) -> Result<RunResult, EngineError> {
    run_live(plan, stop, on_second, None)
}

/// [`run`], also folding every closed second into `live` (live metrics).
pub fn run_live(
    plan: &Plan,
    stop: watch::Receiver<bool>,
    on_second: &mut dyn FnMut(&[Row]),
    live: Option<&crate::metrics::Live>,
) -> Result<RunResult, EngineError> {
    let shared = Arc::new(Shared::new(plan, Duration::from_millis(20))?);
    let names: Vec<String> = plan.populations.iter().map(|p| p.name.clone()).collect();
    let mut warnings = Vec::new();
    let start_wall = SystemTime::now() + Duration::from_millis(20);
    let mut hlog = match &plan.output.hlog {
        None => None,
        Some(p) => Some(
            HlogWriter::create(p, names.clone(), start_wall)
                .map_err(|e| EngineError::Setup(format!("--hlog {}: {e}", p.display())))?,
        ),
    };
    let mut series = match &plan.output.series_csv {
        None => None,
        Some(p) => Some(
            SeriesWriter::create(p, names.clone())
                .map_err(|e| EngineError::Setup(format!("--series-csv {}: {e}", p.display())))?,
        ),
    };
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for k in 0..shared.threads {
        let (s, t, st) = (shared.clone(), tx.clone(), stop.clone());
        let h = std::thread::Builder::new()
            .name(format!("loadgen-{k}"))
            .spawn(move || worker::run_worker(s, k, t, st))
            .map_err(|e| EngineError::Setup(format!("cannot start worker thread: {e}")))?;
        handles.push(h);
    }
    drop(tx);
    let sinks = collector::Sinks {
        hlog: hlog.as_mut(),
        series: series.as_mut(),
        live,
    };
    let collected = collector::collect(rx, shared.threads, names.len(), sinks, on_second);
    for h in handles {
        let _ = h.join();
    }
    if let Some(h) = hlog
        && let Err(e) = h.finish()
    {
        warnings.push(format!("writing the interval log failed: {e}"));
    }
    if let Some(w) = series
        && let Err(e) = w.finish()
    {
        warnings.push(format!("writing the series CSV failed: {e}"));
    }
    let stopped_at = collected
        .stopped_at
        .unwrap_or_else(Instant::now)
        .min(shared.run_end);
    let interrupted = *stop.borrow() && stopped_at < shared.run_end;
    let secs = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64();
    let pops: Vec<(String, String, &Stats, f64)> = shared
        .pops
        .iter()
        .zip(&collected.totals)
        .map(|(ps, s)| {
            (
                ps.pop.name.clone(),
                ps.pop.behaviour.name().to_string(),
                s,
                secs(ps.start, ps.end.min(stopped_at)),
            )
        })
        .collect();
    let first_start = shared
        .pops
        .iter()
        .map(|p| p.start)
        .min()
        .unwrap_or(shared.t0);
    let last_end = shared
        .pops
        .iter()
        .map(|p| p.end)
        .max()
        .unwrap_or(shared.run_end);
    let summary = build::summary(&pops, secs(first_start, last_end.min(stopped_at)));
    for (name, p) in &summary.populations {
        if p.schedule_lag_us.p99 > LAG_WARN_US {
            warnings.push(format!(
                "GENERATOR BEHIND SCHEDULE in population {name}: schedule lag p99 {:.1} ms, max {:.1} ms \
                 (latency is still measured from the intended send time; add threads or lower the rate)",
                p.schedule_lag_us.p99 as f64 / 1000.0,
                p.schedule_lag_us.max as f64 / 1000.0
            ));
        }
    }
    Ok(RunResult {
        summary,
        names,
        totals: collected.totals,
        warnings,
        interrupted,
    })
}
