//! What a `proxylab bench …` run measured, kept for the reference table of docs/benchmarks.md:
//! each ratio the bench prints is also recorded (figure, both medians, ratio, target), and the
//! run saves them with its command, commit, date and machine load as
//! `reports/bench/<bench>-<timestamp>.json`; `proxylab bench table` reads them back.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One printed ratio.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// The figure (`static 4 KiB`), as the bench titles it.
    pub figure: String,
    /// Its unit (`req/s`, `MiB`).
    pub unit: String,
    /// Ours (`ours`, `proxylab loadgen`) and its median.
    pub ours: String,
    /// Median of ours.
    pub ours_median: f64,
    /// The reference (`nginx`, `wrk`) and its median.
    pub reference: String,
    /// Median of the reference.
    pub reference_median: f64,
    /// ours / reference.
    pub ratio: f64,
    /// `>= 1.0`, `<= 1.0`; None: for information.
    pub target: Option<String>,
    /// Whether the target was met (None: for information).
    pub met: Option<bool>,
}

/// One saved bench run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Saved {
    /// `edge`, `proxy`, `loadgen`, `upstream`.
    pub bench: String,
    /// The command line that ran it.
    pub command: String,
    /// Commit of the checkout.
    pub commit: String,
    /// Start, RFC 3339 UTC.
    pub date: String,
    /// `/proc/loadavg` and CPUs when it ended.
    pub load: String,
    /// The ratios, in print order.
    pub rows: Vec<Row>,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());
static FIGURE: Mutex<(String, String)> = Mutex::new((String::new(), String::new()));

/// Names the figure (and unit) the next ratios belong to.
pub fn figure(title: &str, unit: &str) {
    if let Ok(mut f) = FIGURE.lock() {
        *f = (title.to_string(), unit.to_string());
    }
}

/// Records one ratio of the current figure.
pub fn ratio(ours: (&str, f64), reference: (&str, f64), target: Option<(&str, f64)>) {
    let (figure, unit) = FIGURE.lock().map(|f| f.clone()).unwrap_or_default();
    let r = ours.1 / reference.1;
    let met = target.map(|(op, t)| if op == "<=" { r <= t } else { r >= t });
    let row = Row {
        figure,
        unit,
        ours: ours.0.into(),
        ours_median: ours.1,
        reference: reference.0.into(),
        reference_median: reference.1,
        ratio: r,
        target: target.map(|(op, t)| format!("{op} {t}")),
        met,
    };
    if let Ok(mut rows) = ROWS.lock() {
        rows.push(row);
    }
}

/// Saves what was recorded under `dir` (`<bench>-<timestamp>.json`); returns the file.
pub fn save(dir: &Path, bench: &str, started: std::time::SystemTime) -> std::io::Result<PathBuf> {
    let rows = ROWS.lock().map(|r| r.clone()).unwrap_or_default();
    let saved = Saved {
        bench: bench.into(),
        command: format!(
            "proxylab {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        ),
        commit: crate::run::machine::commit_of(Path::new(".")),
        date: humantime::format_rfc3339_seconds(started).to_string(),
        load: super::support::machine_load(),
        rows,
    };
    std::fs::create_dir_all(dir)?;
    let stamp = saved.date.replace(['-', ':'], "");
    let path = dir.join(format!("{bench}-{stamp}.json"));
    let text = serde_json::to_string_pretty(&saved).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok(path)
}
