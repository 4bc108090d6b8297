//! The run directory's report files: plots (PNG + SVG), `timeseries.csv`, `summary.json`,
//! `junit.xml` and the self-contained `index.html`; and the comparison report of several runs.

pub mod charts;
pub mod compare;
pub mod html;
pub mod interactive;
pub mod junit;
pub mod plots;
pub mod soundness;
pub mod summary;
pub mod table;
mod timeseries;

use crate::results::assertions::Verdict;
use crate::run::RunOutput;
use crate::scenario::Scenario;
use std::path::PathBuf;
pub use summary::RunSummary;

/// The description shown in the report: the scenario's, then each applied variant's with
/// its overrides.
fn describe(s: &Scenario) -> String {
    let mut d = s.description.clone();
    for name in s.variant.iter().flat_map(|v| v.split('+')) {
        if let Some(v) = s.variants.iter().find(|v| v.name == name) {
            d.push_str(&format!(
                "\nvariant {}: {} (set {})",
                v.name,
                v.description,
                v.set.join(", ")
            ));
        }
    }
    d
}

/// Writes every report file of a finished run; returns the summary and the path of index.html.
pub fn write_run(
    s: &Scenario,
    out: &RunOutput,
    verdicts: Vec<Verdict>,
) -> Result<(RunSummary, PathBuf), String> {
    let dir = &out.dir;
    let d = s.duration.as_secs_f64();
    let pools: Vec<String> = s.upstreams.iter().map(|p| p.name.clone()).collect();
    let split = charts::recorded_headers(out);
    let stems: Vec<String> = split.iter().map(|n| format!("status-by-{n}")).collect();
    let mut charts = vec![
        ("status", charts::status(out, d)),
        ("latency", charts::latency(out, d)),
        ("cpu", charts::cpu(out, &pools, d)),
        ("connections", charts::connections(out, &pools, d)),
        ("distribution", charts::distribution(out, d)),
    ];
    for (stem, name) in stems.iter().zip(&split) {
        charts.push((stem.as_str(), charts::status_by_header(out, d, name)));
    }
    if let Some(c) = charts::cache_counters(out, d) {
        charts.push((charts::CACHE_COUNTERS, c));
    }
    for (stem, c) in &charts {
        plots::write(c, &dir.join(stem))?;
    }
    let summary = summary::build(s, out, verdicts);
    let w = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    w(
        "summary.json",
        &serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )?;
    let index = dir.join("index.html");
    w(
        "junit.xml",
        &junit::render(&summary, &index.display().to_string()),
    )?;
    w("timeseries.csv", &timeseries::render(s, out))?;
    w("scenario.toml", &s.text)?;
    w(
        "index.html",
        &html::render(
            &summary,
            dir,
            &s.text,
            &out.proxy_config,
            &describe(s),
            &charts,
        ),
    )?;
    Ok((summary, index))
}
