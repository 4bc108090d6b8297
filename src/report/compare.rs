//! `proxylab compare` and scenarios with variants: one report overlaying several runs —
//! percentile distributions and p99 / throughput over time on shared charts, each run's plots
//! side by side, and a table of every metric's delta against the first run.

use super::charts::distribution_points;
use super::html::{STYLE, html_table, img};
use super::junit::esc;
use super::plots::{self, Chart, Line, XAxis, palette};
use super::summary::RunSummary;
use crate::results::counts;
use crate::results::loadgen_out::{HistLog, parse_series};
use std::path::{Path, PathBuf};

/// One run read back from its directory.
#[derive(Debug)]
pub struct LoadedRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Its summary.json.
    pub summary: RunSummary,
    hlog: HistLog,
    series: Vec<crate::results::loadgen_out::SeriesRow>,
}

impl LoadedRun {
    /// Reads `dir/summary.json`, `dir/loadgen.hlog`, `dir/loadgen-series.csv`.
    pub fn read(dir: &Path) -> Result<LoadedRun, String> {
        let p = dir.join("summary.json");
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("{}: {e} (is this a run directory?)", p.display()))?;
        let summary = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        let (_, series_p, hlog_p) = crate::run::loadgen_paths(dir);
        Ok(LoadedRun {
            dir: dir.to_path_buf(),
            summary,
            hlog: HistLog::read(&hlog_p),
            series: std::fs::read_to_string(series_p)
                .map(|t| parse_series(&t))
                .unwrap_or_default(),
        })
    }

    /// `scenario [variant]`, or the directory name when runs share both.
    pub fn label(&self) -> String {
        format!("{} [{}]", self.summary.scenario, self.summary.variant)
    }
}

fn labels(runs: &[LoadedRun]) -> Vec<String> {
    let l: Vec<String> = runs.iter().map(LoadedRun::label).collect();
    let unique = l.iter().collect::<std::collections::BTreeSet<_>>().len() == l.len();
    if unique {
        l
    } else {
        runs.iter()
            .zip(l)
            .map(|(r, l)| {
                format!(
                    "{l} {}",
                    r.dir
                        .file_name()
                        .map_or(String::new(), |n| n.to_string_lossy().into_owned())
                )
            })
            .collect()
    }
}

fn delta_rows(runs: &[LoadedRun]) -> Vec<Vec<String>> {
    type Get = Box<dyn Fn(&RunSummary) -> Option<f64>>;
    let mut metrics: Vec<(String, Get)> = vec![
        ("sent".into(), Box::new(|s| Some(s.total.sent))),
        ("completed".into(), Box::new(|s| Some(s.total.completed))),
        ("req/s".into(), Box::new(|s| Some(s.total.achieved_rate))),
        (
            "2xx".into(),
            Box::new(|s| Some(s.total.status_range(200, 299))),
        ),
        (
            "429".into(),
            Box::new(|s| Some(s.total.status_range(429, 429))),
        ),
        (
            "502".into(),
            Box::new(|s| Some(s.total.status_range(502, 502))),
        ),
        (
            "503".into(),
            Box::new(|s| Some(s.total.status_range(503, 503))),
        ),
        (
            "504".into(),
            Box::new(|s| Some(s.total.status_range(504, 504))),
        ),
        (
            "5xx".into(),
            Box::new(|s| Some(s.total.status_range(500, 599))),
        ),
        ("failed".into(), Box::new(|s| Some(s.total.failed()))),
    ];
    for q in ["p50", "p90", "p99", "p99.9", "max"] {
        metrics.push((
            format!("latency {q} ms"),
            Box::new(move |s| s.total.latency_ms.get(q).copied()),
        ));
    }
    let mut comps: Vec<String> = runs
        .iter()
        .flat_map(|r| r.summary.components.keys().cloned())
        .collect();
    comps.sort();
    comps.dedup();
    for c in comps {
        let c2 = c.clone();
        metrics.push((
            format!("CPU avg % {c}"),
            Box::new(move |s| s.components.get(&c2).map(|u| u.cpu_avg)),
        ));
        metrics.push((
            format!("RSS max MiB {c}"),
            Box::new(move |s| s.components.get(&c).map(|u| u.rss_max_mib)),
        ));
    }
    metrics
        .iter()
        .map(|(name, get)| {
            let base = get(&runs[0].summary);
            let mut row = vec![name.clone()];
            for (i, r) in runs.iter().enumerate() {
                let v = get(&r.summary);
                row.push(v.map_or("-".into(), |v| format!("{v:.2}")));
                if i > 0 {
                    row.push(match (base, v) {
                        (Some(b), Some(v)) if b.abs() > 1e-12 => {
                            format!("{:+.2} ({:+.1}%)", v - b, (v - b) / b * 100.0)
                        }
                        (Some(b), Some(v)) => format!("{:+.2}", v - b),
                        _ => "-".into(),
                    });
                }
            }
            row
        })
        .collect()
}

/// Writes the comparison report of `runs` into `out` and returns the path of its index.html.
pub fn write(runs: &[LoadedRun], out: &Path) -> Result<PathBuf, String> {
    if runs.len() < 2 {
        return Err("compare needs at least two runs".into());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let names = labels(runs);
    let charts = overlays(runs, &names);
    for (stem, c) in &charts {
        plots::write(c, &out.join(stem))?;
    }
    let mut headers = vec!["metric".to_string()];
    for (i, n) in names.iter().enumerate() {
        headers.push(n.clone());
        if i > 0 {
            headers.push(format!("Δ vs {}", names[0]));
        }
    }
    let hdr: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>proxylab compare</title><style>{STYLE}</style>\n{}</head><body>\n<h1>Comparison of {} runs</h1>\n<ul>",
        super::interactive::head(),
        runs.len()
    );
    h.push_str(&run_list(runs, &names));
    h.push_str("</ul>\n<h2>Deltas</h2>\n");
    h.push_str(&html_table("deltas", &hdr, &delta_rows(runs), None));
    h.push_str("<h2>Overlays</h2>\n");
    h.push_str(super::interactive::HELP);
    for (stem, c) in &charts {
        let image = img(
            &out.join(format!("{stem}.png")),
            &format!("plot-{stem}"),
            &c.title,
        );
        h.push_str(&format!(
            "{}\n",
            super::interactive::figure(stem, c, &image)
        ));
    }
    h.push_str(&side_by_side(runs, &names));
    h.push_str("</body></html>\n");
    let index = out.join("index.html");
    std::fs::write(&index, h).map_err(|e| format!("{}: {e}", index.display()))?;
    Ok(index)
}

/// The overlay charts, each named by its file stem: the latency distribution of the whole
/// run, then p99, responses and failures per second.
fn overlays(runs: &[LoadedRun], names: &[String]) -> [(&'static str, Chart); 4] {
    let dur = runs
        .iter()
        .map(|r| r.summary.duration_s)
        .fold(0.0, f64::max);
    let dist = Chart {
        title: "Latency percentile distribution".into(),
        y_label: "ms".into(),
        x: XAxis::Percentile,
        lines: runs
            .iter()
            .zip(names)
            .enumerate()
            .filter_map(|(i, (r, n))| {
                Some(Line {
                    label: n.clone(),
                    points: distribution_points(&r.hlog.merged(None, 0.0, dur + 60.0)?),
                    color: palette(i),
                })
            })
            .collect(),
        stacked: false,
        markers: Vec::new(),
        x_max: 0.0,
    };
    let n = dur.ceil() as u32;
    let over_time = |title: &str, y: &str, f: &dyn Fn(&LoadedRun, u32) -> Option<f64>| {
        over_time(runs, names, n, (title, y), f)
    };
    let p99 = over_time("p99 latency over time", "ms", &|r, s| {
        r.hlog.second(None, s).map(|q| q.p99 as f64 / 1000.0)
    });
    let rate = over_time("Responses per second", "responses / s", &|r, s| {
        let c = counts::window(&r.series, None, f64::from(s), f64::from(s) + 1.0);
        (c.seconds > 0).then_some(c.completed)
    });
    let errs = over_time(
        "Non-2xx responses and failures per second",
        "per s",
        &|r, s| {
            let c = counts::window(&r.series, None, f64::from(s), f64::from(s) + 1.0);
            (c.seconds > 0).then(|| c.status_matching(|x| x / 100 != 2) + c.error_total())
        },
    );
    [
        ("distribution", dist),
        ("p99", p99),
        ("rate", rate),
        ("errors", errs),
    ]
}

/// A chart of `f(run, second)` over the first `n` seconds, one line per run.
fn over_time(
    runs: &[LoadedRun],
    names: &[String],
    n: u32,
    (title, y): (&str, &str),
    f: &dyn Fn(&LoadedRun, u32) -> Option<f64>,
) -> Chart {
    Chart {
        title: title.into(),
        y_label: y.into(),
        x: XAxis::Seconds,
        lines: runs
            .iter()
            .zip(names)
            .enumerate()
            .map(|(i, (r, name))| Line {
                label: name.clone(),
                points: (0..n)
                    .filter_map(|s| Some((f64::from(s) + 0.5, f(r, s)?)))
                    .collect(),
                color: palette(i),
            })
            .collect(),
        stacked: false,
        markers: Vec::new(),
        x_max: f64::from(n),
    }
}

/// The list items naming each run, its verdict and a link to its own report.
fn run_list(runs: &[LoadedRun], names: &[String]) -> String {
    let mut h = String::new();
    for (r, n) in runs.iter().zip(names) {
        let verdict = if r.summary.assertions.is_empty() {
            ""
        } else if r.summary.passed {
            " <span class=\"pass\">PASS</span>"
        } else {
            " <span class=\"fail\">FAIL</span>"
        };
        h.push_str(&format!(
            "<li>{}{verdict}: <a href=\"{}\">{}</a></li>",
            esc(n),
            esc(&r.dir.join("index.html").display().to_string()),
            esc(&r.dir.display().to_string())
        ));
    }
    h
}

/// Each run's own status, latency and CPU plots side by side.
fn side_by_side(runs: &[LoadedRun], names: &[String]) -> String {
    let mut h = String::from("<h2>Side by side</h2>\n<table id=\"side\"><tr>");
    for n in names {
        h.push_str(&format!("<th>{}</th>", esc(n)));
    }
    h.push_str("</tr>\n");
    for stem in ["status", "latency", "cpu"] {
        h.push_str("<tr>");
        for r in runs {
            h.push_str(&format!(
                "<td>{}</td>",
                img(
                    &r.dir.join(format!("{stem}.png")),
                    &format!("side-{stem}"),
                    stem
                )
            ));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}
