//! Assertion verdicts: each `[[assert]]` evaluated over its phase window and population, from
//! the loadgen's series (counts), its interval log (latency percentiles, merged per window),
//! its summary (whole-run fallbacks, schedule lag, session outcomes), the runner's samples (CPU, RSS, context
//! switches) and the proxy's access logs (`log_lines`).

use super::clients;
use super::counts::{self, Counts};
use super::loadgen_out::{HistLog, SeriesRow};
use crate::run::Samples;
use crate::scenario::metric::{Metric, Stat};
use crate::scenario::{Assertion, Scenario};
use proxylab_loadgen::record::summary::{PopulationSummary, Summary};
use serde::Serialize;

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

/// Inputs of the evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// Loadgen series.
    pub series: &'a [SeriesRow],
    /// Loadgen interval log.
    pub hlog: &'a HistLog,
    /// Loadgen summary.
    pub summary: Option<&'a Summary>,
    /// Runner samples.
    pub samples: &'a Samples,
    /// The run directory (the proxy's access logs); None for merged shards.
    pub run_dir: Option<&'a std::path::Path>,
}

/// The whole-run counts of one population (or `overall`) from the loadgen's summary JSON.
pub(crate) fn summary_counts(p: &PopulationSummary) -> Counts {
    Counts {
        sent: p.sent as f64,
        completed: p.completed as f64,
        status: p
            .status
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, *v as f64)))
            .collect(),
        errors: p
            .errors
            .iter()
            .map(|(k, v)| (k.clone(), *v as f64))
            .collect(),
        headers: Default::default(),
        body_bytes: 0.0,
        seconds: p.duration_s.ceil() as u32,
    }
}

fn pop_summary<'a>(s: &'a Summary, pop: Option<&str>) -> Option<&'a PopulationSummary> {
    match pop {
        None => Some(&s.overall),
        Some(p) => s.populations.get(p),
    }
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
    let whole = a.phase.is_none();
    let pop = a.population.as_deref();
    let mut note = String::new();
    let counts = || -> Option<Counts> {
        let c = counts::window(d.series, pop, from, to);
        if c.seconds > 0 {
            return Some(c);
        }
        if whole {
            d.summary
                .and_then(|sm| pop_summary(sm, pop))
                .map(summary_counts)
        } else {
            None
        }
    };
    let frac = |num: f64, c: &Counts| {
        if c.finished() > 0.0 {
            Some(num / c.finished())
        } else {
            None
        }
    };
    let (actual, unit) = match &a.metric {
        Metric::Latency(p) => {
            let h = d.hlog.merged(pop, from, to);
            let v = match h {
                Some(h) if !h.is_empty() => Some(if *p >= 100.0 {
                    h.max()
                } else {
                    h.value_at_quantile(p / 100.0)
                } as f64),
                _ if whole => d
                    .summary
                    .and_then(|sm| pop_summary(sm, pop))
                    .and_then(|ps| {
                        let l = ps.latency_us;
                        match *p {
                            x if x >= 100.0 => Some(l.max),
                            50.0 => Some(l.p50),
                            90.0 => Some(l.p90),
                            99.0 => Some(l.p99),
                            99.9 => Some(l.p999),
                            _ => None,
                        }
                        .map(|v| v as f64)
                    }),
                _ => None,
            };
            (v.map(|us| us / 1000.0), "ms")
        }
        Metric::StatusRate(sel) => (
            counts().and_then(|c| frac(c.status_matching(|x| sel.matches(x)), &c)),
            "fraction",
        ),
        Metric::StatusCount(sel) => (
            counts().map(|c| c.status_matching(|x| sel.matches(x))),
            "count",
        ),
        Metric::ErrorRate(k) => (
            counts().and_then(|c| frac(err(&c, k.as_deref()), &c)),
            "fraction",
        ),
        Metric::ErrorCount(k) => (counts().map(|c| err(&c, k.as_deref())), "count"),
        Metric::Lost => (
            counts().map(|c| err(&c, Some("truncated")) + err(&c, Some("lost"))),
            "count",
        ),
        Metric::Corrupt => (counts().map(|c| err(&c, Some("corrupt"))), "count"),
        Metric::AchievedRate => (
            counts().map(|c| c.completed / (to - from).max(1e-9)),
            "req/s",
        ),
        Metric::Requests => (counts().map(|c| c.completed), "count"),
        Metric::BodyBytes => {
            // the series only: the summary has no byte count
            let c = counts::window(d.series, pop, from, to);
            let v = (c.seconds > 0 && c.completed > 0.0).then(|| c.body_bytes / c.completed);
            (v, "bytes")
        }
        Metric::UpstreamRate(pool) => {
            // A cumulative counter: its growth over the samples in the window.
            let pts: Vec<(f64, f64)> = d
                .samples
                .points(&format!("up.{pool}.requests"))
                .into_iter()
                .filter(|(t, _)| *t >= from && *t <= to + 0.5)
                .collect();
            let rate = match (pts.first(), pts.last()) {
                (Some(a), Some(b)) if b.0 - a.0 >= 0.5 => Some((b.1 - a.1) / (b.0 - a.0)),
                _ => None,
            };
            (rate, "req/s")
        }
        Metric::ScheduleLag(max) => {
            if !whole {
                note = "schedule lag is only known for the whole run; phase ignored".into();
            }
            let v = d.summary.and_then(|sm| pop_summary(sm, pop)).map(|p| {
                if *max {
                    p.schedule_lag_us.max
                } else {
                    p.schedule_lag_us.p99
                }
            });
            (v.map(|us| us as f64 / 1000.0), "ms")
        }
        Metric::Cpu(c, stat) => {
            // Each CPU sample covers the time since the previous one: weighted by its overlap.
            let r = d.samples.rate_stats(&format!("cpu.{c}"), from, to);
            let x = r.map(|r| match stat {
                Stat::Avg => r.mean,
                Stat::Max => r.max,
            });
            (x, "%")
        }
        Metric::ClientMax(sel) => {
            let (v, n) = client_max(d, pop, sel, whole);
            note = n;
            (v, "count")
        }
        Metric::Clients => {
            if !whole {
                note = "client addresses are only known for the whole run; phase ignored".into();
            }
            let v = d
                .summary
                .map(|sm| clients::per_client(sm, pop).len() as f64)
                .filter(|n| *n > 0.0);
            (v, "count")
        }
        Metric::Upstream(c, k) => (
            d.samples
                .values(&format!("up.{c}.{k}"), from, to + 0.5)
                .into_iter()
                .reduce(f64::max),
            "count",
        ),
        Metric::RssMax(c) => (
            d.samples
                .values(&format!("rss.{c}"), from, to + 0.5)
                .into_iter()
                .reduce(f64::max),
            "MiB",
        ),
        Metric::Switches(c) => {
            let r = d.samples.rate_stats(&format!("csw.{c}"), from, to);
            (r.map(|r| r.mean), "/s")
        }
        Metric::HeaderRate(name, text) if !whole => {
            // A phase: from the series' per-second header columns.
            if let Some(why) = unrecorded(s, pop, name) {
                note = why;
            }
            let v = counts().filter(|_| note.is_empty()).and_then(|c| {
                let lines: f64 = c
                    .split_by(name)
                    .iter()
                    .filter(|(v, _)| v != "(none)")
                    .filter(|(v, _)| text.as_deref().is_none_or(|t| v.contains(t)))
                    .map(|(_, n)| n)
                    .sum();
                (c.completed > 0.0).then(|| lines / c.completed)
            });
            (v, "/response")
        }
        Metric::Outcome(_) | Metric::HeaderRate(..) | Metric::LogLines(_) => {
            let (v, why) = whole_run(s, a, d);
            if let Some(why) = why {
                note = why;
            } else if !whole {
                note = "known for the whole run only; phase ignored".into();
            }
            let unit = match a.metric {
                Metric::HeaderRate(..) => "/response",
                _ => "count",
            };
            (v, unit)
        }
    };
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

/// `client_max.status_count.SEL`: the most such responses of any one client address, and a
/// note naming that address (or why there is no figure).
fn client_max(
    d: Data<'_>,
    pop: Option<&str>,
    sel: &crate::scenario::metric::StatusSel,
    whole: bool,
) -> (Option<f64>, String) {
    let per = d
        .summary
        .map(|sm| clients::per_client(sm, pop))
        .unwrap_or_default();
    let phase = if whole {
        ""
    } else {
        "; per-client counts cover the whole run, phase ignored"
    };
    match clients::max_by(&per, |k| clients::status_matches(sel, k)) {
        Some((addr, n)) => (
            Some(n as f64),
            format!("{n} from {addr} (of {} client addresses){phase}", per.len()),
        ),
        None => (
            None,
            "no per-client outcomes: the population needs source_addresses".into(),
        ),
    }
}

/// The metrics known only once the run is over (whole run): session outcomes, recorded
/// response headers, access-log lines. Returns the value and, without one, why.
fn whole_run(s: &Scenario, a: &Assertion, d: Data<'_>) -> (Option<f64>, Option<String>) {
    let pop = a.population.as_deref();
    match &a.metric {
        Metric::Outcome(k) => {
            let v = d.summary.map(|sm| {
                sm.details
                    .iter()
                    .filter(|(name, _)| pop.is_none_or(|p| p == name.as_str()))
                    .filter_map(|(_, det)| det.outcomes.get(k))
                    .sum::<u64>() as f64
            });
            (v, None)
        }
        Metric::HeaderRate(name, text) => {
            if let Some(why) = unrecorded(s, pop, name) {
                return (None, Some(why));
            }
            let v = d
                .summary
                .and_then(|sm| header_rate(sm, pop, name, text.as_deref()));
            (v, None)
        }
        Metric::LogLines(prefix) => {
            let v = d
                .run_dir
                .and_then(|dir| super::access_log::lines(dir, prefix.as_deref()));
            let why = v.is_none().then(|| {
                "no access log in the run directory (a file named *access* in the proxy's {{dir}}): counted as failed".to_string()
            });
            (v, why)
        }
        _ => (None, None),
    }
}

/// Why `header_rate.NAME` has no value: no population (of `pop`) records `name`.
fn unrecorded(s: &Scenario, pop: Option<&str>, name: &str) -> Option<String> {
    let recorded = s
        .loads
        .iter()
        .filter(|l| pop.is_none_or(|p| p == l.name))
        .any(|l| {
            l.record_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        });
    (!recorded).then(|| format!("no population's `record_headers` names {name}: counted as failed"))
}

/// Header lines named `name` (whose value contains `text`) per completed response of the
/// population (or all), from the loadgen's recorded headers; None without a response.
fn header_rate(sm: &Summary, pop: Option<&str>, name: &str, text: Option<&str>) -> Option<f64> {
    let prefix = format!("{name}: ");
    let lines: u64 = sm
        .details
        .iter()
        .filter(|(p, _)| pop.is_none_or(|x| x == p.as_str()))
        .flat_map(|(_, det)| &det.headers)
        .filter_map(|(k, n)| Some((k.strip_prefix(&prefix)?, n)))
        .filter(|(value, _)| text.is_none_or(|t| value.contains(t)))
        .map(|(_, n)| n)
        .sum();
    let completed = pop_summary(sm, pop)?.completed;
    (completed > 0).then(|| lines as f64 / completed as f64)
}

fn err(c: &Counts, kind: Option<&str>) -> f64 {
    match kind {
        None => c.error_total(),
        Some(k) => c.errors.get(k).copied().unwrap_or(0.0),
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
mod tests {
    use super::*;
    use proxylab_loadgen::record::summary::Details;

    #[test]
    fn header_rate_is_lines_per_response() {
        let mut sm = Summary::default();
        let p = PopulationSummary {
            completed: 10,
            ..Default::default()
        };
        sm.populations.insert("static".into(), p.clone());
        sm.overall = p;
        let headers = [
            ("cache-control: max-age=2592000", 10),
            ("cache-control: public, immutable", 10),
            ("expires: Thu, 01 Jan 2027 00:00:00 GMT", 5),
        ];
        let d = Details {
            headers: headers.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            ..Default::default()
        };
        sm.details.insert("static".into(), d);
        let rate = |name: &str, text: Option<&str>| header_rate(&sm, Some("static"), name, text);
        assert_eq!(rate("cache-control", None), Some(2.0));
        assert_eq!(rate("cache-control", Some("immutable")), Some(1.0));
        assert_eq!(rate("cache-control", Some("no-store")), Some(0.0));
        assert_eq!(rate("expires", None), Some(0.5));
        assert_eq!(header_rate(&sm, None, "expires", None), Some(0.5));
        assert_eq!(header_rate(&sm, Some("other"), "expires", None), None);
    }
}

#[cfg(test)]
mod phase_header_tests {
    use super::*;

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
