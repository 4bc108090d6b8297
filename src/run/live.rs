//! The runner's live metrics (`run --metrics-listen/--metrics-push`): its own gauges (CPU and
//! RSS per component, every sampled column, the current phase, active faults) followed by its
//! loadgen's request counters and latency histograms, which the loadgen serves on a loopback
//! port the runner picked and the runner re-reads every 250 ms (the last copy outlives the
//! loadgen process, so the final push and scrape hold the final totals).

use super::Sample;
use crate::scenario::Scenario;
use proxylab_loadgen::cli::live::MetricsFlags;
use proxylab_loadgen::metrics::label_set;
use proxylab_loadgen::metrics::push::Pusher;
use proxylab_loadgen::metrics::server::{MetricsServer, fetch};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Snap {
    t: f64,
    values: BTreeMap<String, f64>,
    phases: Vec<(String, bool)>,
    faults: Vec<(String, bool)>,
    child_text: String,
    finished: bool,
}

/// Live metrics of one run.
#[derive(Debug)]
pub struct RunnerLive {
    snap: Arc<Mutex<Snap>>,
    labels: Vec<(String, String)>,
    server: Option<MetricsServer>,
    pusher: Option<Pusher>,
    linger: Duration,
    child: SocketAddr,
    last_poll: Option<Instant>,
}

/// One gauge family: HELP, TYPE, then a sample per (label set, value).
fn gauge(o: &mut String, name: &str, help: &str, rows: Vec<(String, f64)>) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, v) in rows {
        let _ = writeln!(o, "{name}{labels} {v}");
    }
}

fn render(snap: &Snap, labels: &[(String, String)]) -> String {
    let l = |extra: &[(&str, &str)]| label_set(labels, extra);
    let by = |prefix: &str, scale: f64| -> Vec<(String, f64)> {
        let of = |(k, v): (&String, &f64)| {
            let c = k.strip_prefix(prefix)?;
            Some((l(&[("component", c)]), v * scale))
        };
        snap.values.iter().filter_map(of).collect()
    };
    let flags = |items: &[(String, bool)], label: &str| -> Vec<(String, f64)> {
        let one = |(n, on): &(String, bool)| (l(&[(label, n)]), f64::from(u8::from(*on)));
        items.iter().map(one).collect()
    };
    let other: Vec<(String, f64)> = snap
        .values
        .iter()
        .filter(|(k, _)| !k.starts_with("cpu.") && !k.starts_with("rss."))
        .map(|(k, v)| (l(&[("column", k)]), *v))
        .collect();
    let mut o = String::new();
    let running = f64::from(u8::from(!snap.finished));
    gauge(
        &mut o,
        "proxylab_run_running",
        "1 while the scenario runs.",
        vec![(l(&[]), running)],
    );
    gauge(
        &mut o,
        "proxylab_run_elapsed_seconds",
        "Seconds since the load started.",
        vec![(l(&[]), snap.t)],
    );
    gauge(
        &mut o,
        "proxylab_component_cpu_percent",
        "CPU of a component's process group, % of one core.",
        by("cpu.", 1.0),
    );
    gauge(
        &mut o,
        "proxylab_component_rss_bytes",
        "Resident memory of a component's process group.",
        by("rss.", 1048576.0),
    );
    gauge(
        &mut o,
        "proxylab_sample",
        "Every other sampled column (stub_status, upstream counters).",
        other,
    );
    gauge(
        &mut o,
        "proxylab_phase_active",
        "1 for the [[phase]] the run is in.",
        flags(&snap.phases, "phase"),
    );
    gauge(
        &mut o,
        "proxylab_fault_active",
        "1 while a [[fault]] is in effect.",
        flags(&snap.faults, "fault"),
    );
    o.push_str(&snap.child_text);
    o
}

impl RunnerLive {
    /// Starts the endpoint and the pusher the flags ask for (`None` when neither is set).
    pub fn start(f: &MetricsFlags, shard: Option<u32>) -> Result<Option<RunnerLive>, String> {
        if f.metrics_listen.is_none() && f.metrics_push.is_none() {
            return Ok(None);
        }
        let labels = f.labels(shard)?;
        let (every, linger) = f.durations()?;
        let port = super::child::free_port()
            .map_err(|e| format!("a port for the loadgen's metrics: {e}"))?;
        let snap = Arc::new(Mutex::new(Snap::default()));
        let text = |s: &Arc<Mutex<Snap>>, l: &[(String, String)]| {
            s.lock().map(|s| render(&s, l)).unwrap_or_default()
        };
        let server = match &f.metrics_listen {
            Some(addr) => {
                let (s, l) = (Arc::clone(&snap), labels.clone());
                let srv = MetricsServer::start(addr, move || text(&s, &l))?;
                eprintln!("metrics: http://{}/metrics", srv.addr());
                Some(srv)
            }
            None => None,
        };
        let pusher = f.metrics_push.as_ref().map(|url| {
            let (s, l) = (Arc::clone(&snap), labels.clone());
            Pusher::start(url.clone(), every, move || text(&s, &l))
        });
        Ok(Some(RunnerLive {
            snap,
            labels,
            server,
            pusher,
            linger,
            child: SocketAddr::from(([127, 0, 0, 1], port)),
            last_poll: None,
        }))
    }

    /// Flags for the loadgen: serve on the runner's loopback port with the same labels, and
    /// keep serving a second after the load so the runner reads the final totals.
    pub fn child_args(&self) -> Vec<String> {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        vec![
            "--metrics-listen".into(),
            self.child.to_string(),
            "--metrics-labels".into(),
            labels.join(","),
            "--metrics-linger".into(),
            "1s".into(),
        ]
    }

    /// Re-reads the loadgen's metrics (at most every 250 ms).
    pub fn poll_child(&mut self) {
        if self
            .last_poll
            .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last_poll = Some(Instant::now());
        if let Some(text) = fetch(self.child, Duration::from_millis(200))
            && let Ok(mut s) = self.snap.lock()
        {
            s.child_text = text;
        }
    }

    /// A new sample at `now` (seconds of load): components, phase, faults.
    pub fn update(&self, sc: &Scenario, now: Duration, sample: Option<&Sample>) {
        let Ok(mut s) = self.snap.lock() else { return };
        s.t = now.as_secs_f64();
        if let Some(x) = sample {
            s.values = x.values.clone();
        }
        s.phases = sc
            .phases
            .iter()
            .map(|p| (p.name.clone(), p.start <= now && now < p.end))
            .collect();
        s.faults = sc
            .faults
            .iter()
            .map(|f| {
                let until = f.at + f.undo_after.unwrap_or(Duration::from_secs(1));
                (f.label.clone(), f.at <= now && now < until)
            })
            .collect();
    }

    /// After the run: final push, then serve the final values for the linger time.
    pub fn finish(self) {
        if let Ok(mut s) = self.snap.lock() {
            s.finished = true;
            for p in &mut s.phases {
                p.1 = false;
            }
            for f in &mut s.faults {
                f.1 = false;
            }
        }
        if let Some(p) = self.pusher {
            p.finish();
        }
        if self.server.is_some() && !self.linger.is_zero() {
            std::thread::sleep(self.linger);
        }
    }
}
