//! `Stats`: the counters and HDR histograms of one population over one interval (or the whole
//! run). Mergeable: the collector adds the threads' intervals and folds seconds into totals.

use crate::transport::ErrorKind;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Status codes are counted in a flat array indexed by code (0..=599).
pub const STATUS_SLOTS: usize = 600;

/// New empty histogram: auto-resizing, 3 significant digits, values in microseconds.
pub fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).unwrap_or_else(|_| unreachable_hist());
    h.auto(true);
    h
}

fn unreachable_hist() -> Histogram<u64> {
    // `Histogram::new(3)` only fails for sigfig > 5; keep a valid fallback anyway.
    Histogram::new_with_max(u64::MAX / 2, 2)
        .unwrap_or_else(|_| panic!("hdrhistogram rejected sigfig 2"))
}

/// Counters and histograms of one population.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Requests / sessions started.
    pub sent: u64,
    /// Requests / sessions completed.
    pub completed: u64,
    /// Body bytes of the responses received (as on the wire: compressed when the server
    /// compressed, chunk framing removed; HTTP/1.1 and HTTP/2).
    pub body_bytes: u64,
    /// Responses by status code.
    pub status: Box<[u64; STATUS_SLOTS]>,
    /// Failures by kind.
    pub errors: [u64; ErrorKind::COUNT],
    /// Intended send → end of response, µs.
    pub latency: Histogram<u64>,
    /// Actual send → end of response, µs.
    pub service: Histogram<u64>,
    /// Dispatch time − intended time, µs.
    pub lag: Histogram<u64>,
    /// How long slow / idle / WebSocket connections were kept, µs.
    pub held: Histogram<u64>,
    /// WebSocket echo round trips, µs.
    pub ws_rtt: Histogram<u64>,
    /// Requests that waited for a free connection.
    pub waited: u64,
    /// Connections opened.
    pub conns_opened: u64,
    /// Bodies that matched `x-body-sha256`.
    pub verified: u64,
    /// Session outcomes (behaviours).
    pub outcomes: BTreeMap<String, u64>,
    /// Per client address (`source_addresses`): status code or error kind → count.
    pub by_source: BTreeMap<Ipv4Addr, BTreeMap<String, u64>>,
    /// Recorded response headers: `name: value` → count.
    pub headers: BTreeMap<String, u64>,
    /// Gauge: requests in flight at the end of the interval.
    pub in_flight: i64,
    /// Gauge: open connections at the end of the interval.
    pub open_conns: i64,
    /// Gauge: requests waiting for a connection at the end of the interval.
    pub waiting: i64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            sent: 0,
            completed: 0,
            body_bytes: 0,
            status: Box::new([0; STATUS_SLOTS]),
            errors: [0; ErrorKind::COUNT],
            latency: histogram(),
            service: histogram(),
            lag: histogram(),
            held: histogram(),
            ws_rtt: histogram(),
            waited: 0,
            conns_opened: 0,
            verified: 0,
            outcomes: BTreeMap::new(),
            by_source: BTreeMap::new(),
            headers: BTreeMap::new(),
            in_flight: 0,
            open_conns: 0,
            waiting: 0,
        }
    }
}

impl Stats {
    /// Adds `o` into `self` (counters and gauges summed, histograms merged).
    pub fn merge(&mut self, o: &Stats) {
        self.sent += o.sent;
        self.completed += o.completed;
        self.body_bytes += o.body_bytes;
        for (a, b) in self.status.iter_mut().zip(o.status.iter()) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        let _ = self.lag.add(&o.lag);
        let _ = self.held.add(&o.held);
        let _ = self.ws_rtt.add(&o.ws_rtt);
        self.waited += o.waited;
        self.conns_opened += o.conns_opened;
        self.verified += o.verified;
        for (k, v) in &o.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += v;
        }
        for (a, per) in &o.by_source {
            let mine = self.by_source.entry(*a).or_default();
            for (k, v) in per {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
        for (k, v) in &o.headers {
            *self.headers.entry(k.clone()).or_default() += v;
        }
        self.in_flight += o.in_flight;
        self.open_conns += o.open_conns;
        self.waiting += o.waiting;
    }

    /// Total failures.
    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Status codes seen, with counts.
    pub fn statuses(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(s, c)| (s as u16, *c))
    }
}
