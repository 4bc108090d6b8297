//! What one assertion measures over its window (phase and population): from the loadgen's
//! series (counts), its interval log (latency percentiles, merged per window), its summary
//! (whole-run fallbacks, schedule lag, session outcomes, recorded headers, per-client
//! counts), the runner's samples (CPU, RSS, context switches, upstream counters) and the
//! proxy's access logs (`log_lines`).

use super::clients;
use super::counts::{self, Counts};
use super::loadgen_out::{HistLog, SeriesRow};
use super::summary_metrics::{client_max, pop_summary, summary_counts, unrecorded, whole_run};
use crate::run::Samples;
use crate::scenario::metric::{Metric, Stat};
use crate::scenario::{Assertion, Scenario};
use proxylab_loadgen::record::summary::Summary;

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

/// One assertion's window: the scenario, the data, the phase's bounds in seconds (the whole
/// run when `whole`) and the population (None: all).
pub(super) struct Window<'a> {
    pub s: &'a Scenario,
    pub a: &'a Assertion,
    pub d: Data<'a>,
    pub from: f64,
    pub to: f64,
    pub whole: bool,
    pub pop: Option<&'a str>,
}

/// A measured value (None: no data), its unit, and a note: why there is no value, or what
/// was ignored.
pub(super) struct Measured {
    pub actual: Option<f64>,
    pub unit: &'static str,
    pub note: String,
}

impl Measured {
    fn of(actual: Option<f64>, unit: &'static str) -> Measured {
        Measured {
            actual,
            unit,
            note: String::new(),
        }
    }

    fn noted(self, note: impl Into<String>) -> Measured {
        Measured {
            note: note.into(),
            ..self
        }
    }
}

impl Window<'_> {
    /// The assertion's metric over the window.
    pub fn measure(&self) -> Measured {
        match &self.a.metric {
            Metric::Latency(p) => Measured::of(self.latency_ms(*p), "ms"),
            Metric::UpstreamRate(_)
            | Metric::Cpu(..)
            | Metric::Upstream(..)
            | Metric::RssMax(_)
            | Metric::Switches(_) => self.sampled(),
            Metric::ScheduleLag(_) | Metric::ClientMax(_) | Metric::Clients => self.per_run(),
            Metric::HeaderRate(name, text) if !self.whole => {
                self.header_rate_in_phase(name, text.as_deref())
            }
            Metric::Outcome(_) | Metric::HeaderRate(..) | Metric::LogLines(_) => self.after_run(),
            Metric::StatusRate(_)
            | Metric::StatusCount(_)
            | Metric::ErrorRate(_)
            | Metric::ErrorCount(_)
            | Metric::Lost
            | Metric::Corrupt
            | Metric::AchievedRate
            | Metric::Requests
            | Metric::BodyBytes => self.counted(),
        }
    }

    /// The window's counts from the series; for the whole run, the summary's when the
    /// series has none.
    fn counts(&self) -> Option<Counts> {
        let c = counts::window(self.d.series, self.pop, self.from, self.to);
        if c.seconds > 0 {
            return Some(c);
        }
        if self.whole {
            self.d
                .summary
                .and_then(|sm| pop_summary(sm, self.pop))
                .map(summary_counts)
        } else {
            None
        }
    }

    /// Latency percentile `p` (100: the maximum) in ms: the merged interval log of the
    /// window, or for the whole run the summary's figure.
    fn latency_ms(&self, p: f64) -> Option<f64> {
        let h = self.d.hlog.merged(self.pop, self.from, self.to);
        let us = match h {
            Some(h) if !h.is_empty() => Some(if p >= 100.0 {
                h.max()
            } else {
                h.value_at_quantile(p / 100.0)
            } as f64),
            _ if self.whole => self
                .d
                .summary
                .and_then(|sm| pop_summary(sm, self.pop))
                .and_then(|ps| {
                    let l = ps.latency_us;
                    match p {
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
        us.map(|us| us / 1000.0)
    }

    /// The metrics counted from the responses: statuses, errors, rates, bytes.
    fn counted(&self) -> Measured {
        let frac = |num: f64, c: &Counts| (c.finished() > 0.0).then(|| num / c.finished());
        let counts = || self.counts();
        let (actual, unit) = match &self.a.metric {
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
                counts().map(|c| c.completed / (self.to - self.from).max(1e-9)),
                "req/s",
            ),
            Metric::Requests => (counts().map(|c| c.completed), "count"),
            Metric::BodyBytes => {
                // the series only: the summary has no byte count
                let c = counts::window(self.d.series, self.pop, self.from, self.to);
                let v = (c.seconds > 0 && c.completed > 0.0).then(|| c.body_bytes / c.completed);
                (v, "bytes")
            }
            _ => (None, "count"),
        };
        Measured::of(actual, unit)
    }

    /// The metrics of the runner's samples: CPU, RSS, context switches, upstream counters.
    fn sampled(&self) -> Measured {
        let (d, from, to) = (self.d, self.from, self.to);
        let max = |name: String| {
            d.samples
                .values(&name, from, to + 0.5)
                .into_iter()
                .reduce(f64::max)
        };
        match &self.a.metric {
            Metric::UpstreamRate(pool) => Measured::of(self.upstream_rate(pool), "req/s"),
            Metric::Cpu(c, stat) => {
                // Each CPU sample covers the time since the previous one: weighted by its overlap.
                let r = d.samples.rate_stats(&format!("cpu.{c}"), from, to);
                let x = r.map(|r| match stat {
                    Stat::Avg => r.mean,
                    Stat::Max => r.max,
                });
                Measured::of(x, "%")
            }
            Metric::Upstream(c, k) => Measured::of(max(format!("up.{c}.{k}")), "count"),
            Metric::RssMax(c) => Measured::of(max(format!("rss.{c}")), "MiB"),
            Metric::Switches(c) => {
                let r = d.samples.rate_stats(&format!("csw.{c}"), from, to);
                Measured::of(r.map(|r| r.mean), "/s")
            }
            _ => Measured::of(None, "count"),
        }
    }

    /// A pool's request rate: the growth of its cumulative counter over the samples in the
    /// window.
    fn upstream_rate(&self, pool: &str) -> Option<f64> {
        let pts: Vec<(f64, f64)> = self
            .d
            .samples
            .points(&format!("up.{pool}.requests"))
            .into_iter()
            .filter(|(t, _)| *t >= self.from && *t <= self.to + 0.5)
            .collect();
        match (pts.first(), pts.last()) {
            (Some(a), Some(b)) if b.0 - a.0 >= 0.5 => Some((b.1 - a.1) / (b.0 - a.0)),
            _ => None,
        }
    }

    /// The metrics the summary knows for the whole run only (a phase is ignored, and said
    /// so): schedule lag, per-client counts.
    fn per_run(&self) -> Measured {
        let (d, pop) = (self.d, self.pop);
        match &self.a.metric {
            Metric::ScheduleLag(max) => {
                let v = d.summary.and_then(|sm| pop_summary(sm, pop)).map(|p| {
                    if *max {
                        p.schedule_lag_us.max
                    } else {
                        p.schedule_lag_us.p99
                    }
                });
                let m = Measured::of(v.map(|us| us as f64 / 1000.0), "ms");
                if self.whole {
                    return m;
                }
                m.noted("schedule lag is only known for the whole run; phase ignored")
            }
            Metric::ClientMax(sel) => {
                let (v, note) = client_max(d.summary, pop, sel, self.whole);
                Measured::of(v, "count").noted(note)
            }
            Metric::Clients => {
                let v = d
                    .summary
                    .map(|sm| clients::per_client(sm, pop).len() as f64)
                    .filter(|n| *n > 0.0);
                let m = Measured::of(v, "count");
                if self.whole {
                    return m;
                }
                m.noted("client addresses are only known for the whole run; phase ignored")
            }
            _ => Measured::of(None, "count"),
        }
    }

    /// `header_rate.NAME` in a phase: from the series' per-second header columns.
    fn header_rate_in_phase(&self, name: &str, text: Option<&str>) -> Measured {
        if let Some(why) = unrecorded(self.s, self.pop, name) {
            return Measured::of(None, "/response").noted(why);
        }
        let v = self.counts().and_then(|c| {
            let lines: f64 = c
                .split_by(name)
                .iter()
                .filter(|(v, _)| v != "(none)")
                .filter(|(v, _)| text.is_none_or(|t| v.contains(t)))
                .map(|(_, n)| n)
                .sum();
            (c.completed > 0.0).then(|| lines / c.completed)
        });
        Measured::of(v, "/response")
    }

    /// The metrics known once the run is over ([`whole_run`]); a phase is ignored, and said
    /// so.
    fn after_run(&self) -> Measured {
        let (v, why) = whole_run(self.s, self.a, self.d.summary, self.d.run_dir);
        let unit = match self.a.metric {
            Metric::HeaderRate(..) => "/response",
            _ => "count",
        };
        let m = Measured::of(v, unit);
        match why {
            Some(why) => m.noted(why),
            None if !self.whole => m.noted("known for the whole run only; phase ignored"),
            None => m,
        }
    }
}

fn err(c: &Counts, kind: Option<&str>) -> f64 {
    match kind {
        None => c.error_total(),
        Some(k) => c.errors.get(k).copied().unwrap_or(0.0),
    }
}
