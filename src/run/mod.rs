//! Orchestration of one scenario run: start the upstreams, the proxy and the loadgen as
//! process groups, wait for readiness, apply the fault timeline, sample every interval, watch
//! for deaths, tear everything down (also on error and Ctrl-C), and collect the outputs.

pub mod child;
pub mod fault;
pub mod hold;
pub mod launch;
pub mod live;
pub mod machine;
pub mod memlimit;
pub mod os;
pub mod pgwire;
pub mod probe;
pub mod procstat;
pub mod samples;
pub mod services;
mod state;
pub mod tls;

pub use samples::{Sample, SampleLog, Samples};
pub use state::hlog_origin;

use crate::results::loadgen_out::{HistLog, SeriesRow, parse_series, read_summary};
use crate::scenario::Scenario;
use launch::StartError;
use proxylab_loadgen::record::summary::Summary;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run directory to create and fill.
    pub dir: PathBuf,
    /// Show a live progress bar (a terminal, not `--ci`).
    pub progress: bool,
    /// Set by the Ctrl-C handler: stop everything now.
    pub stop: Arc<AtomicBool>,
    /// Run only this shard (0-based index, count) of the scenario's load.
    pub shard: Option<(u32, u32)>,
    /// Live metrics: serve and push.
    pub metrics: proxylab_loadgen::cli::live::MetricsFlags,
}

/// A fault as it happened, for plots and the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Marker {
    /// Seconds since the start of the load.
    pub t: f64,
    /// What happened (`kill api.0`, `restart api.0`, `reload proxy`).
    pub label: String,
    /// Error, when the action failed.
    pub error: Option<String>,
}

/// Everything a finished run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The run directory.
    pub dir: PathBuf,
    /// The runner's samples.
    pub samples: Samples,
    /// Faults as applied.
    pub markers: Vec<Marker>,
    /// The loadgen's per-second series.
    pub series: Vec<SeriesRow>,
    /// The loadgen's interval log.
    pub hlog: HistLog,
    /// The loadgen's summary (None if it wrote none).
    pub summary: Option<Summary>,
    /// The proxy config as run (expanded), empty without a proxy.
    pub proxy_config: String,
    /// Component names in start order.
    pub components: Vec<String>,
    /// Wall time from the first start to reading the outputs.
    pub wall: Duration,
    /// Where the wall time went.
    pub timings: Timings,
    /// Commit, start time and how busy the machine was.
    pub provenance: machine::Provenance,
}

/// Wall-time breakdown of a run, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    /// Starting the upstreams and the proxy, until the loadgen starts.
    pub startup_s: f64,
    /// From the loadgen's start to its exit.
    pub load_s: f64,
    /// Stopping every process.
    pub teardown_s: f64,
}

/// Why a run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A component did not come up (exit 3).
    #[error(transparent)]
    Start(#[from] StartError),
    /// A component died unexpectedly (exit 3).
    #[error("{0}")]
    Died(String),
    /// Ctrl-C (exit 130).
    #[error("interrupted")]
    Interrupted,
    /// Files of the run directory (exit 3).
    #[error("{0}")]
    Io(String),
}

impl RunError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Interrupted => 130,
            _ => 3,
        }
    }
}

/// Paths of the loadgen's outputs in a run directory.
pub fn loadgen_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("loadgen-summary.json"),
        dir.join("loadgen-series.csv"),
        dir.join("loadgen.hlog"),
    )
}

/// Runs `s` with `opts`. Every process started is gone when this returns.
pub fn run(s: &Scenario, opts: &RunOptions) -> Result<RunOutput, RunError> {
    let started = std::time::Instant::now();
    let started_at = std::time::SystemTime::now();
    let cpu_before = machine::cpu_times();
    std::fs::create_dir_all(opts.dir.join("logs"))
        .map_err(|e| RunError::Io(format!("cannot create {}: {e}", opts.dir.display())))?;
    let sni: Vec<&str> = s.loadgen.tls.sni.iter().map(String::as_str).collect();
    tls::generate(&opts.dir, &sni).map_err(RunError::Io)?;
    let mut st = state::State::new(s, opts);
    st.live =
        live::RunnerLive::start(&opts.metrics, opts.shard.map(|x| x.0)).map_err(RunError::Io)?;
    let result = st.run_all();
    let load_end = started.elapsed();
    // The machine's CPU over the load only: startup (Python imports, nginx) is not the load's.
    let from = st.cpu_at_load.unwrap_or(cpu_before);
    let provenance = machine::provenance(started_at, from, machine::cpu_times());
    st.teardown();
    if let Some(l) = st.live.take() {
        l.finish();
    }
    let teardown_end = started.elapsed();
    result?;
    st.load_samples();
    st.align_records();
    let (summary_p, series_p, hlog_p) = loadgen_paths(&opts.dir);
    let series = std::fs::read_to_string(&series_p)
        .map(|t| parse_series(&t))
        .unwrap_or_default();
    let summary = read_summary(&summary_p).ok();
    Ok(RunOutput {
        dir: opts.dir.clone(),
        samples: std::mem::take(&mut st.samples),
        markers: std::mem::take(&mut st.markers),
        series,
        hlog: HistLog::read(&hlog_p),
        summary,
        proxy_config: st.proxy_config.clone(),
        components: st.component_names(),
        wall: started.elapsed(),
        timings: Timings {
            startup_s: st.startup.as_secs_f64(),
            load_s: (load_end.saturating_sub(st.startup)).as_secs_f64(),
            teardown_s: (teardown_end - load_end).as_secs_f64(),
        },
        provenance,
    })
}
