//! Live metrics while a run goes: the collector hands every closed second to [`Live`], which
//! keeps run totals per population; [`Live::render`] writes them in the Prometheus text
//! exposition format (served by [`server`], pushed by [`push`] as Prometheus remote write).
//! Totals include every flushed second, so the last values equal the run's summary.

pub mod push;
pub mod server;

use crate::record::Stats;
use crate::transport::ErrorKind;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Upper bounds (seconds) of the classic latency histogram buckets.
pub const BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct State {
    names: Vec<String>,
    totals: Vec<Stats>,
    /// Gauges of the last closed second, per population.
    last: Vec<(i64, i64, i64)>,
    second: u64,
    finished: bool,
}

/// Run totals shared between the collector and the metrics server / pusher.
#[derive(Debug, Clone, Default)]
pub struct Live {
    state: Arc<Mutex<State>>,
    /// Labels added to every series (`run`, `shard`), sorted by name.
    labels: Vec<(String, String)>,
}

/// Escapes a label value for the text format.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `{k="v",…}`: `base` and `extra` together, sorted by name, values escaped.
pub fn label_set(base: &[(String, String)], extra: &[(&str, &str)]) -> String {
    let mut all: Vec<(String, String)> = base.to_vec();
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all.sort();
    let body: Vec<String> = all
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Parses `k=v,k=v` (label names: letters, digits, `_`, not starting with a digit or `__`).
pub fn parse_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("bad label {part:?}: want name=value"))?;
        let ok = !k.is_empty()
            && !k.starts_with("__")
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!("bad label name {k:?}: letters, digits and _"));
        }
        out.push((k.to_string(), v.to_string()));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

impl Live {
    /// Live totals for populations `names`, every series labelled with `labels`.
    pub fn new(names: Vec<String>, labels: Vec<(String, String)>) -> Live {
        let n = names.len();
        Live {
            state: Arc::new(Mutex::new(State {
                names,
                totals: (0..n).map(|_| Stats::default()).collect(),
                last: vec![(0, 0, 0); n],
                second: 0,
                finished: false,
            })),
            labels,
        }
    }

    /// Folds one closed second (one `Stats` per population) into the totals.
    pub fn second(&self, sec: u64, stats: &[Stats]) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.second = st.second.max(sec + 1);
        for (i, s) in stats.iter().enumerate() {
            if let Some(t) = st.totals.get_mut(i) {
                let (inf, conns, wait) = (t.in_flight, t.open_conns, t.waiting);
                t.merge(s);
                (t.in_flight, t.open_conns, t.waiting) = (inf, conns, wait);
            }
            if let Some(g) = st.last.get_mut(i) {
                *g = (s.in_flight, s.open_conns, s.waiting);
            }
        }
    }

    /// Marks the run finished (gauges drop to zero, `proxylab_loadgen_running` 0).
    pub fn finish(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.finished = true;
            for g in &mut st.last {
                *g = (0, 0, 0);
            }
        }
    }

    fn labels(&self, extra: &[(&str, &str)]) -> String {
        label_set(&self.labels, extra)
    }

    /// The totals in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let Ok(st) = self.state.lock() else {
            return String::new();
        };
        let mut o = String::new();
        let mut head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut o,
            "proxylab_loadgen_running",
            "gauge",
            "1 while the load runs, 0 after.",
        );
        let _ = writeln!(
            o,
            "proxylab_loadgen_running{} {}",
            self.labels(&[]),
            u8::from(!st.finished)
        );
        head(
            &mut o,
            "proxylab_loadgen_elapsed_seconds",
            "gauge",
            "Seconds of load closed so far.",
        );
        let _ = writeln!(
            o,
            "proxylab_loadgen_elapsed_seconds{} {}",
            self.labels(&[]),
            st.second
        );
        let (cpu, rss) = own_usage();
        head(
            &mut o,
            "proxylab_loadgen_cpu_seconds_total",
            "counter",
            "CPU time (user + system) of the loadgen process.",
        );
        let _ = writeln!(
            o,
            "proxylab_loadgen_cpu_seconds_total{} {cpu}",
            self.labels(&[])
        );
        head(
            &mut o,
            "proxylab_loadgen_rss_bytes",
            "gauge",
            "Resident memory of the loadgen process.",
        );
        let _ = writeln!(o, "proxylab_loadgen_rss_bytes{} {rss}", self.labels(&[]));
        self.counters(&mut o, &st, &mut head);
        self.gauges(&mut o, &st, &mut head);
        self.latency(&mut o, &st, &mut head);
        o
    }

    fn counters(
        &self,
        o: &mut String,
        st: &State,
        head: &mut dyn FnMut(&mut String, &str, &str, &str),
    ) {
        head(
            o,
            "proxylab_requests_sent_total",
            "counter",
            "Requests (sessions) started.",
        );
        for (n, t) in st.names.iter().zip(&st.totals) {
            let _ = writeln!(
                o,
                "proxylab_requests_sent_total{} {}",
                self.labels(&[("population", n)]),
                t.sent
            );
        }
        head(
            o,
            "proxylab_responses_total",
            "counter",
            "Responses by status code.",
        );
        for (n, t) in st.names.iter().zip(&st.totals) {
            for (code, c) in t.statuses() {
                let code = code.to_string();
                let l = self.labels(&[("population", n), ("status", &code)]);
                let _ = writeln!(o, "proxylab_responses_total{l} {c}");
            }
        }
        head(
            o,
            "proxylab_request_errors_total",
            "counter",
            "Requests that got no response, by kind.",
        );
        for (n, t) in st.names.iter().zip(&st.totals) {
            for (k, c) in ErrorKind::ALL.iter().zip(t.errors.iter()) {
                let l = self.labels(&[("kind", k.as_str()), ("population", n)]);
                let _ = writeln!(o, "proxylab_request_errors_total{l} {c}");
            }
        }
    }

    fn gauges(
        &self,
        o: &mut String,
        st: &State,
        head: &mut dyn FnMut(&mut String, &str, &str, &str),
    ) {
        for (i, (name, help)) in [
            (
                "proxylab_in_flight",
                "Requests in flight at the end of the last second.",
            ),
            (
                "proxylab_open_connections",
                "Open connections at the end of the last second.",
            ),
            (
                "proxylab_waiting_for_connection",
                "Requests waiting for a connection.",
            ),
        ]
        .iter()
        .enumerate()
        {
            head(o, name, "gauge", help);
            for (n, g) in st.names.iter().zip(&st.last) {
                let v = [g.0, g.1, g.2][i];
                let _ = writeln!(o, "{name}{} {v}", self.labels(&[("population", n)]));
            }
        }
    }

    fn latency(
        &self,
        o: &mut String,
        st: &State,
        head: &mut dyn FnMut(&mut String, &str, &str, &str),
    ) {
        head(
            o,
            "proxylab_latency_seconds",
            "histogram",
            "Intended send to end of response (HDR, 3 significant digits).",
        );
        for (n, t) in st.names.iter().zip(&st.totals) {
            let h = &t.latency;
            for b in BUCKETS_S {
                let le = b.to_string();
                let c = if h.is_empty() {
                    0
                } else {
                    h.count_between(0, (b * 1e6) as u64)
                };
                let l = self.labels(&[("le", &le), ("population", n)]);
                let _ = writeln!(o, "proxylab_latency_seconds_bucket{l} {c}");
            }
            let l = self.labels(&[("le", "+Inf"), ("population", n)]);
            let _ = writeln!(o, "proxylab_latency_seconds_bucket{l} {}", h.len());
            let sum = h.mean() * h.len() as f64 / 1e6;
            let l = self.labels(&[("population", n)]);
            let _ = writeln!(o, "proxylab_latency_seconds_sum{l} {sum}");
            let _ = writeln!(o, "proxylab_latency_seconds_count{l} {}", h.len());
        }
    }
}

/// CPU seconds (user + system, from `/proc/self/stat`) and resident bytes (from
/// `/proc/self/statm`) of this process; zeros when unreadable.
fn own_usage() -> (f64, u64) {
    // Linux reports clock ticks of 1/100 s (USER_HZ) in /proc.
    const TICK: f64 = 0.01;
    const PAGE: u64 = 4096;
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let rest = &t[t.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: u64 = f.get(11)?.parse().ok()?;
            let st: u64 = f.get(12)?.parse().ok()?;
            Some((ut + st) as f64 * TICK)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|t| t.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |p| p * PAGE);
    (cpu, rss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_totals_of_every_second() {
        let live = Live::new(
            vec!["web".into()],
            parse_labels("shard=1,run=r1").expect("labels"),
        );
        let mut s = Stats {
            sent: 3,
            completed: 3,
            in_flight: 4,
            ..Stats::default()
        };
        s.status[200] = 2;
        s.status[503] = 1;
        s.latency.record(2000).expect("record");
        s.latency.record(20_000).expect("record");
        live.second(0, std::slice::from_ref(&s));
        live.second(1, &[s]);
        let t = live.render();
        assert!(
            t.contains(
                "proxylab_requests_sent_total{population=\"web\",run=\"r1\",shard=\"1\"} 6\n"
            ),
            "{t}"
        );
        assert!(t.contains("proxylab_responses_total{population=\"web\",run=\"r1\",shard=\"1\",status=\"200\"} 4\n"), "{t}");
        assert!(t.contains("proxylab_latency_seconds_bucket{le=\"0.0025\",population=\"web\",run=\"r1\",shard=\"1\"} 2\n"), "{t}");
        assert!(t.contains("proxylab_latency_seconds_bucket{le=\"+Inf\",population=\"web\",run=\"r1\",shard=\"1\"} 4\n"), "{t}");
        assert!(
            t.contains("proxylab_in_flight{population=\"web\",run=\"r1\",shard=\"1\"} 4\n"),
            "{t}"
        );
        assert!(
            !t.contains("proxylab_loadgen_rss_bytes{run=\"r1\",shard=\"1\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("proxylab_loadgen_rss_bytes{run=\"r1\",shard=\"1\"} "),
            "{t}"
        );
        live.finish();
        assert!(
            live.render()
                .contains("proxylab_loadgen_running{run=\"r1\",shard=\"1\"} 0\n")
        );
        assert!(parse_labels("a b=1").is_err() && parse_labels("__name__=x").is_err());
    }
}
