//! The Prometheus text exposition (format 0.0.4) of `proxylab_status`: connections by
//! state, requests and responses by code, per upstream peer state / requests / failures /
//! in-flight / latency histogram, limit_req decisions per zone, open WebSockets.

use crate::balance::{LATENCY_BUCKETS_US, PeerSnapshot, PeerStatus, UpstreamSnapshot};
use crate::live::{Live, Stats};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders every metric; `now` is the time peer states are evaluated at.
pub fn render(s: &Stats, live: &Live, now: Instant) -> String {
    let mut o = String::with_capacity(4096);
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let (active, reading, writing) = (ld(&s.active), ld(&s.reading), ld(&s.writing));
    let waiting = active.saturating_sub(reading + writing);
    family(
        &mut o,
        "proxylab_connections",
        "gauge",
        "Client connections by state (stub_status).",
    );
    for (st, v) in [
        ("active", active),
        ("reading", reading),
        ("writing", writing),
        ("waiting", waiting),
    ] {
        let _ = writeln!(o, "proxylab_connections{{state=\"{st}\"}} {v}");
    }
    family(
        &mut o,
        "proxylab_connections_accepted_total",
        "counter",
        "Accepted client connections.",
    );
    let _ = writeln!(o, "proxylab_connections_accepted_total {}", ld(&s.accepted));
    family(
        &mut o,
        "proxylab_connections_handled_total",
        "counter",
        "Handled client connections.",
    );
    let _ = writeln!(o, "proxylab_connections_handled_total {}", ld(&s.handled));
    family(
        &mut o,
        "proxylab_requests_total",
        "counter",
        "Client requests.",
    );
    let _ = writeln!(o, "proxylab_requests_total {}", ld(&s.requests));
    family(
        &mut o,
        "proxylab_responses_total",
        "counter",
        "Finished requests by status code.",
    );
    for (code, n) in s.by_status.nonzero() {
        let _ = writeln!(o, "proxylab_responses_total{{code=\"{code}\"}} {n}");
    }
    family(
        &mut o,
        "proxylab_websockets_open",
        "gauge",
        "Open WebSocket/Upgrade tunnels.",
    );
    let _ = writeln!(
        o,
        "proxylab_websockets_open {}",
        crate::metrics::websockets_open()
    );
    upstreams(&mut o, live, now);
    limit_req(&mut o, live);
    super::cache_metrics::render(&mut o, live);
    o
}

/// The peers of every upstream group at one instant, each with its metric labels.
struct Peers {
    snaps: Vec<UpstreamSnapshot>,
}

impl Peers {
    /// Runs `f` on every peer with its labels (`upstream="…",peer="…"`).
    fn each(&self, o: &mut String, f: impl Fn(&mut String, &str, &PeerSnapshot)) {
        for snap in &self.snaps {
            for p in &snap.peers {
                let l = format!("upstream=\"{}\",peer=\"{}\"", esc(&snap.name), esc(&p.name));
                f(o, &l, p);
            }
        }
    }

    /// One family with one value per peer.
    fn scalar(
        &self,
        o: &mut String,
        name: &str,
        kind: &str,
        help: &str,
        v: fn(&PeerSnapshot) -> u64,
    ) {
        family(o, name, kind, help);
        self.each(o, |o, l, p| {
            let _ = writeln!(o, "{name}{{{l}}} {}", v(p));
        });
    }
}

/// The per-peer families: state, counters, the latency histogram.
fn upstreams(o: &mut String, live: &Live, now: Instant) {
    let peers = Peers {
        snaps: live.upstreams.iter().map(|u| u.snapshot(now)).collect(),
    };
    peer_states(o, &peers);
    peers.scalar(
        o,
        "proxylab_upstream_peer_requests_total",
        "counter",
        "Tries sent to the peer.",
        |p| p.requests,
    );
    peers.scalar(
        o,
        "proxylab_upstream_peer_fails_total",
        "counter",
        "Failed tries (max_fails accounting).",
        |p| p.total_fails,
    );
    peers.scalar(
        o,
        "proxylab_upstream_peer_active",
        "gauge",
        "Tries in flight to the peer.",
        |p| u64::from(p.active),
    );
    peer_latency(o, &peers);
}

/// `proxylab_upstream_peer_up` and `proxylab_upstream_peer_state`.
fn peer_states(o: &mut String, peers: &Peers) {
    family(
        o,
        "proxylab_upstream_peer_up",
        "gauge",
        "1 when the peer can be selected.",
    );
    peers.each(o, |o, l, p| {
        let up = u8::from(p.status == PeerStatus::Up);
        let _ = writeln!(o, "proxylab_upstream_peer_up{{{l}}} {up}");
    });
    family(
        o,
        "proxylab_upstream_peer_state",
        "gauge",
        "1 for the peer's current state.",
    );
    peers.each(o, |o, l, p| {
        for (name, st) in [
            ("up", PeerStatus::Up),
            ("down", PeerStatus::Down),
            ("unhealthy", PeerStatus::Unhealthy),
            ("unavailable", PeerStatus::Unavailable),
            ("full", PeerStatus::Full),
        ] {
            let v = u8::from(p.status == st);
            let _ = writeln!(
                o,
                "proxylab_upstream_peer_state{{{l},state=\"{name}\"}} {v}"
            );
        }
    });
}

/// The try-duration histogram per peer.
fn peer_latency(o: &mut String, peers: &Peers) {
    let h = "proxylab_upstream_peer_response_seconds";
    family(
        o,
        h,
        "histogram",
        "Try duration, peer selected to try finished.",
    );
    peers.each(o, |o, l, p| {
        let mut cum = 0;
        for (i, le) in LATENCY_BUCKETS_US.iter().enumerate() {
            cum += p.latency.counts[i];
            let le = *le as f64 / 1e6;
            let _ = writeln!(o, "{h}_bucket{{{l},le=\"{le}\"}} {cum}");
        }
        let n = p.latency.count();
        let _ = writeln!(o, "{h}_bucket{{{l},le=\"+Inf\"}} {n}");
        let _ = writeln!(o, "{h}_sum{{{l}}} {}", p.latency.sum_us as f64 / 1e6);
        let _ = writeln!(o, "{h}_count{{{l}}} {n}");
    });
}

fn limit_req(o: &mut String, live: &Live) {
    family(
        o,
        "proxylab_limit_req_requests_total",
        "counter",
        "limit_req decisions per zone.",
    );
    for z in &live.zones {
        let s = &z.stats;
        for (r, a) in [
            ("passed", &s.passed),
            ("delayed", &s.delayed),
            ("rejected", &s.rejected),
            ("delayed_dry_run", &s.delayed_dry_run),
            ("rejected_dry_run", &s.rejected_dry_run),
        ] {
            let v = a.load(Ordering::Relaxed);
            let _ = writeln!(
                o,
                "proxylab_limit_req_requests_total{{zone=\"{}\",result=\"{r}\"}} {v}",
                esc(z.name())
            );
        }
    }
}

/// Escapes a label value (`\`, `"`, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
