//! The run's charts, built from its data: responses per second stacked by status (and by the
//! value of each recorded response header, e.g. `X-Cache-Status`), latency percentiles over
//! time, CPU per component, connections and in-flight, and the percentile distribution of each
//! population.

use super::plots::{Chart, Line, XAxis, palette};
use crate::results::counts;
use crate::run::RunOutput;
use hdrhistogram::Histogram;
use plotters::style::RGBColor;

/// Status layers of the status chart, bottom first: (label, colour, matcher).
type Layer = (&'static str, RGBColor, fn(u16) -> bool);

const LAYERS: &[Layer] = &[
    ("2xx", RGBColor(44, 160, 44), |c| c / 100 == 2),
    ("3xx", RGBColor(31, 119, 180), |c| {
        c / 100 == 3 || c / 100 == 1
    }),
    ("4xx (not 429)", RGBColor(255, 187, 120), |c| {
        c / 100 == 4 && c != 429
    }),
    ("429", RGBColor(148, 103, 189), |c| c == 429),
    ("500 and other 5xx", RGBColor(227, 119, 194), |c| {
        c / 100 == 5 && !matches!(c, 502..=504)
    }),
    ("502", RGBColor(214, 39, 40), |c| c == 502),
    ("503", RGBColor(140, 86, 75), |c| c == 503),
    ("504", RGBColor(255, 127, 14), |c| c == 504),
];

/// Seconds shown on time charts: the scenario's duration (requests still finishing after it
/// are in the totals, not on the time axis).
fn seconds(_out: &RunOutput, duration: f64) -> u32 {
    duration.ceil().max(1.0) as u32
}

/// Responses per second, stacked by status, plus client-side failures on top.
pub fn status(out: &RunOutput, duration: f64) -> Chart {
    let n = seconds(out, duration);
    let per_sec: Vec<counts::Counts> = (0..n)
        .map(|s| counts::window(&out.series, None, f64::from(s), f64::from(s) + 1.0))
        .collect();
    let mut lines: Vec<Line> = LAYERS
        .iter()
        .map(|(label, color, f)| Line {
            label: (*label).to_string(),
            color: *color,
            points: per_sec
                .iter()
                .enumerate()
                .map(|(i, c)| (i as f64 + 0.5, c.status_matching(f)))
                .collect(),
        })
        .collect();
    lines.push(Line {
        label: "failed (no response)".into(),
        color: RGBColor(60, 60, 60),
        points: per_sec
            .iter()
            .enumerate()
            .map(|(i, c)| (i as f64 + 0.5, c.error_total()))
            .collect(),
    });
    lines.retain(|l| l.points.iter().any(|p| p.1 > 0.0));
    Chart {
        title: "Responses per second by status".into(),
        y_label: "responses / s".into(),
        x: XAxis::Seconds,
        lines,
        stacked: true,
        markers: out.markers.clone(),
        x_max: f64::from(n),
    }
}

/// Colours of nginx's `$upstream_cache_status` values (any other value: the palette).
fn value_color(v: &str, i: usize) -> RGBColor {
    match v {
        "HIT" => RGBColor(44, 160, 44),
        "MISS" => RGBColor(255, 127, 14),
        "EXPIRED" => RGBColor(214, 39, 40),
        "STALE" => RGBColor(148, 103, 189),
        "UPDATING" => RGBColor(31, 119, 180),
        "REVALIDATED" => RGBColor(23, 190, 207),
        "BYPASS" => RGBColor(127, 127, 127),
        "(none)" => RGBColor(60, 60, 60),
        _ => palette(i),
    }
}

/// Recorded response header names in the series (`header.NAME=VALUE` columns), sorted.
pub fn recorded_headers(out: &RunOutput) -> Vec<String> {
    let mut names: Vec<String> = out
        .series
        .iter()
        .flat_map(|r| r.values.keys())
        .filter_map(|k| counts::header_col(k))
        .filter_map(|k| Some(k.split_once(": ")?.0.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Responses per second stacked by the value of the recorded header `name` (`(none)`: the
/// responses without it), e.g. `x-cache-status` for nginx's `$upstream_cache_status`.
pub fn status_by_header(out: &RunOutput, duration: f64, name: &str) -> Chart {
    let n = seconds(out, duration);
    let per_sec: Vec<Vec<(String, f64)>> = (0..n)
        .map(|s| counts::window(&out.series, None, f64::from(s), f64::from(s) + 1.0))
        .map(|c| c.split_by(name))
        .collect();
    let mut values: Vec<String> = per_sec.iter().flatten().map(|(v, _)| v.clone()).collect();
    values.sort_by_key(|v| (v == "(none)", v.clone()));
    values.dedup();
    let lines = values
        .iter()
        .enumerate()
        .map(|(i, v)| Line {
            label: v.clone(),
            color: value_color(v, i),
            points: per_sec
                .iter()
                .enumerate()
                .map(|(s, split)| {
                    let n = split.iter().find(|(x, _)| x == v).map_or(0.0, |p| p.1);
                    (s as f64 + 0.5, n)
                })
                .collect(),
        })
        .collect();
    Chart {
        title: format!("Responses per second by {name}"),
        y_label: "responses / s".into(),
        x: XAxis::Seconds,
        lines,
        stacked: true,
        markers: out.markers.clone(),
        x_max: f64::from(n),
    }
}

/// The stem of [`cache_counters`]' chart (a `status-by-` one: listed with the header splits).
pub const CACHE_COUNTERS: &str = "status-by-proxy-cache-counters";

/// Responses per second stacked by `$upstream_cache_status` as our proxy counts them (the
/// `proxy.cache.STATUS` sample columns of `cache_status_path`); None when none was sampled.
pub fn cache_counters(out: &RunOutput, duration: f64) -> Option<Chart> {
    const STATUSES: [&str; 7] = [
        "HIT",
        "MISS",
        "EXPIRED",
        "STALE",
        "UPDATING",
        "REVALIDATED",
        "BYPASS",
    ];
    let cols: Vec<(String, String)> = STATUSES
        .iter()
        .map(|s| (format!("proxy.cache.{s}"), (*s).to_string()))
        .collect();
    let mut lines = sample_lines(out, &cols);
    if lines.is_empty() {
        return None;
    }
    for (i, l) in lines.iter_mut().enumerate() {
        l.color = value_color(&l.label, i);
    }
    Some(Chart {
        title: "Responses per second by $upstream_cache_status (the proxy's counters)".into(),
        y_label: "responses / s".into(),
        x: XAxis::Seconds,
        lines,
        stacked: true,
        markers: out.markers.clone(),
        x_max: f64::from(seconds(out, duration)),
    })
}

/// Latency p50/p90/p99/max per second (ms), all populations together.
pub fn latency(out: &RunOutput, duration: f64) -> Chart {
    let n = seconds(out, duration);
    type Pick = fn(&crate::results::loadgen_out::Quantiles) -> u64;
    let qs: [(&str, Pick); 4] = [
        ("p50", |q| q.p50),
        ("p90", |q| q.p90),
        ("p99", |q| q.p99),
        ("max", |q| q.max),
    ];
    let mut lines: Vec<Line> = qs
        .iter()
        .enumerate()
        .map(|(i, (label, pick))| Line {
            label: (*label).to_string(),
            color: palette(i),
            points: (0..n)
                .filter_map(|s| {
                    out.hlog
                        .second(None, s)
                        .map(|q| (f64::from(s) + 0.5, pick(&q) as f64 / 1000.0))
                })
                .collect(),
        })
        .collect();
    // With several populations, each one's p99 too (e.g. normal traffic next to slow clients).
    let mut tags = out.hlog.tags();
    tags.retain(|t| t != "all");
    if tags.len() > 1 {
        for (k, t) in tags.iter().enumerate() {
            lines.push(Line {
                label: format!("p99 {t}"),
                color: palette(4 + k),
                points: (0..n)
                    .filter_map(|s| {
                        out.hlog
                            .second(Some(t), s)
                            .map(|q| (f64::from(s) + 0.5, q.p99 as f64 / 1000.0))
                    })
                    .collect(),
            });
        }
    }
    Chart {
        title: "Latency over time (from the intended send time)".into(),
        y_label: "ms".into(),
        x: XAxis::Seconds,
        lines,
        stacked: false,
        markers: out.markers.clone(),
        x_max: f64::from(n),
    }
}

fn sample_lines(out: &RunOutput, cols: &[(String, String)]) -> Vec<Line> {
    cols.iter()
        .enumerate()
        .map(|(i, (col, label))| Line {
            label: label.clone(),
            color: palette(i),
            points: out.samples.points(col),
        })
        .filter(|l| !l.points.is_empty())
        .collect()
}

/// CPU% per component (pools summed over instances).
pub fn cpu(out: &RunOutput, pools: &[String], duration: f64) -> Chart {
    let mut cols = vec![("cpu.proxy".to_string(), "proxy".to_string())];
    for p in pools {
        cols.push((format!("cpu.{p}"), format!("upstream {p}")));
    }
    cols.push(("cpu.loadgen".into(), "loadgen".into()));
    let mut lines = sample_lines(out, &cols);
    // The first sample has no CPU base.
    for l in &mut lines {
        if l.points.first().is_some_and(|p| p.0 < 0.5) {
            l.points.remove(0);
        }
    }
    Chart {
        title: "CPU per component (100% = one core)".into(),
        y_label: "CPU %".into(),
        x: XAxis::Seconds,
        lines,
        stacked: false,
        markers: out.markers.clone(),
        x_max: f64::from(seconds(out, duration)),
    }
}

/// Open connections at the proxy and in-flight / queued / connections at the upstreams.
pub fn connections(out: &RunOutput, pools: &[String], duration: f64) -> Chart {
    let mut cols = vec![
        (
            "proxy.active".to_string(),
            "proxy active connections".to_string(),
        ),
        ("proxy.writing".to_string(), "proxy writing".to_string()),
    ];
    for p in pools {
        cols.push((format!("up.{p}.in_flight"), format!("{p} in flight")));
        cols.push((format!("up.{p}.queued"), format!("{p} queued")));
        cols.push((format!("up.{p}.connections"), format!("{p} connections")));
        cols.push((format!("up.{p}.workers"), format!("{p} live workers")));
    }
    Chart {
        title: "Connections, requests in flight, live workers".into(),
        y_label: "count".into(),
        x: XAxis::Seconds,
        lines: sample_lines(out, &cols),
        stacked: false,
        markers: out.markers.clone(),
        x_max: f64::from(seconds(out, duration)),
    }
}

/// Points of a percentile distribution curve: x = -log10(1 - q), y = ms.
pub fn distribution_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    if h.is_empty() {
        return pts;
    }
    let mut x = 0.0;
    while x <= 5.0 {
        let q = 1.0 - 10f64.powf(-x);
        pts.push((x, h.value_at_quantile(q) as f64 / 1000.0));
        x += 0.05;
    }
    pts
}

/// The HDR percentile distribution of every population (and all).
pub fn distribution(out: &RunOutput, duration: f64) -> Chart {
    let mut lines = Vec::new();
    let mut tags = out.hlog.tags();
    tags.retain(|t| t != "all");
    if let Some(h) = out.hlog.merged(None, 0.0, duration + 60.0) {
        lines.push(Line {
            label: "all".into(),
            points: distribution_points(&h),
            color: palette(0),
        });
    }
    if tags.len() > 1 {
        for (i, t) in tags.iter().enumerate() {
            if let Some(h) = out.hlog.merged(Some(t), 0.0, duration + 60.0) {
                lines.push(Line {
                    label: t.clone(),
                    points: distribution_points(&h),
                    color: palette(i + 1),
                });
            }
        }
    }
    Chart {
        title: "Latency percentile distribution (whole run)".into(),
        y_label: "ms".into(),
        x: XAxis::Percentile,
        lines,
        stacked: false,
        markers: Vec::new(),
        x_max: 0.0,
    }
}
