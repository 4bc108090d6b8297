//! Assertion verdicts: each `[[assert]]`'s window (its phase and population) measured
//! ([`super::measure`]) and compared with its limit.

use super::measure::{Measured, Window};
use crate::scenario::{Assertion, Scenario};
use serde::Serialize;

pub use super::measure::Data;
pub(crate) use super::summary_metrics::summary_counts;

/// The verdict of one assertion.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Verdict {
    /// Display name.
    pub name: String,
    /// Metric as written.
    pub metric: String,
    /// Phase (`all` = whole run).
    pub phase: String,
    /// Population (`all`).
    pub population: String,
    /// Comparison.
    pub op: String,
    /// Limit, in `unit`.
    pub limit: f64,
    /// Measured value, in `unit` (None: no data).
    pub actual: Option<f64>,
    /// `ms`, `fraction`, `count`, `req/s`, `%`, `MiB`, `/s` (context switches).
    pub unit: String,
    /// Whether it held.
    pub passed: bool,
    /// Explanation when there was no data.
    pub note: String,
    /// Line in the scenario file.
    pub line: usize,
}

/// Evaluates every assertion of `s`.
pub fn evaluate(s: &Scenario, d: Data<'_>) -> Vec<Verdict> {
    s.asserts.iter().map(|a| evaluate_one(s, a, d)).collect()
}

fn evaluate_one(s: &Scenario, a: &Assertion, d: Data<'_>) -> Verdict {
    let (from, to) = match &a.phase {
        Some(p) => s
            .phases
            .iter()
            .find(|x| &x.name == p)
            .map_or((0.0, s.duration.as_secs_f64()), |x| {
                (x.start.as_secs_f64(), x.end.as_secs_f64())
            }),
        None => (0.0, s.duration.as_secs_f64()),
    };
    let window = Window {
        s,
        a,
        d,
        from,
        to,
        whole: a.phase.is_none(),
        pop: a.population.as_deref(),
    };
    let Measured {
        actual,
        unit,
        mut note,
    } = window.measure();
    // Limits are stored in base units (µs); report latency in ms.
    let limit = if unit == "ms" {
        a.limit / 1000.0
    } else {
        a.limit
    };
    let passed = actual.is_some_and(|v| a.op.holds(v, limit));
    if actual.is_none() && note.is_empty() {
        note = "no data for this metric in this window (nothing was measured): counted as failed"
            .into();
    }
    Verdict {
        name: a.name.clone(),
        metric: a.metric.to_string(),
        phase: a.phase.clone().unwrap_or_else(|| "all".into()),
        population: a.population.clone().unwrap_or_else(|| "all".into()),
        op: a.op.to_string(),
        limit,
        actual,
        unit: unit.to_string(),
        passed,
        note,
        line: a.line,
    }
}

/// A value in its unit, for tables.
pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{v:.2} ms"),
        "fraction" => format!("{:.3}%", v * 100.0),
        "count" => format!("{v:.0}"),
        "req/s" => format!("{v:.1} req/s"),
        "%" => format!("{v:.1}%"),
        "MiB" => format!("{v:.1} MiB"),
        "/s" => format!("{v:.0}/s"),
        "/response" => format!("{v:.3}/response"),
        "bytes" => format!("{v:.0} B"),
        _ => format!("{v}"),
    }
}

#[cfg(test)]
mod phase_header_tests {
    use super::*;
    use crate::results::loadgen_out::{HistLog, SeriesRow};
    use crate::run::Samples;

    fn row(second: u32, kv: &[(&str, f64)]) -> SeriesRow {
        SeriesRow {
            second,
            population: "readers".into(),
            values: kv.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    /// scenarios/cache-outage.toml's per-phase `header_rate.x-cache-status=HIT` assertions read
    /// the series' `header.*` columns of their phase only.
    #[test]
    fn header_rate_in_a_phase_reads_the_series() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/cache-outage.toml");
        let s = crate::scenario::load(&path, &Default::default()).expect("scenario");
        let hit = |h: f64, stale: f64| {
            [
                ("completed", h + stale),
                ("status_200", h + stale),
                ("header.x-cache-status=HIT", h),
                ("header.x-cache-status=STALE", stale),
            ]
        };
        let mut series: Vec<SeriesRow> = (0..5).map(|t| row(t, &hit(48.0, 0.0))).collect();
        series.extend((5..20).map(|t| row(t, &hit(0.0, 50.0))));
        let (hlog, samples) = (HistLog::default(), Samples::default());
        let verdict = |series: &[SeriesRow], phase: &str| {
            let d = Data {
                series,
                hlog: &hlog,
                summary: None,
                samples: &samples,
                run_dir: None,
            };
            evaluate(&s, d)
                .into_iter()
                .find(|v| v.metric.starts_with("header_rate") && v.phase == phase)
                .expect("assertion")
        };
        let before = verdict(&series, "before");
        assert!(before.passed && before.actual == Some(1.0), "{before:?}");
        let outage = verdict(&series, "outage");
        assert!(outage.passed && outage.actual == Some(0.0), "{outage:?}");
        series[10] = row(10, &hit(5.0, 45.0));
        let outage = verdict(&series, "outage");
        assert!(!outage.passed && outage.actual.is_some_and(|v| v > 0.0));
    }
}
