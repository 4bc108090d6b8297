//! `ThreadRec` / `Rec`: the per-thread recorder (no locks, no atomics: one runtime thread owns
//! it), snapshotted into `Stats` once per second and sent to the collector.

use super::stats::{STATUS_SLOTS, Stats};
use crate::transport::ErrorKind;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

/// Distinct `name: value` keys of recorded response headers kept per thread and interval.
pub const MAX_HEADER_KEYS: usize = 64;

/// Gauges that persist across intervals.
#[derive(Debug, Default)]
struct Gauges {
    in_flight: Cell<i64>,
    open: Cell<i64>,
    waiting: Cell<i64>,
}

/// The recorder of one worker thread, for all populations.
#[derive(Debug)]
pub struct ThreadRec {
    cur: RefCell<Vec<Stats>>,
    gauges: Vec<Gauges>,
}

impl ThreadRec {
    /// A recorder for `pops` populations.
    pub fn new(pops: usize) -> Rc<ThreadRec> {
        Rc::new(ThreadRec {
            cur: RefCell::new((0..pops).map(|_| Stats::default()).collect()),
            gauges: (0..pops).map(|_| Gauges::default()).collect(),
        })
    }

    /// Takes the current interval (gauges filled in) and starts a new one.
    pub fn snapshot(&self) -> Vec<Stats> {
        let fresh = (0..self.gauges.len()).map(|_| Stats::default()).collect();
        let mut out = std::mem::replace(&mut *self.cur.borrow_mut(), fresh);
        for (s, g) in out.iter_mut().zip(&self.gauges) {
            s.in_flight = g.in_flight.get();
            s.open_conns = g.open.get();
            s.waiting = g.waiting.get();
        }
        out
    }

    /// Total in flight over all populations.
    pub fn in_flight(&self) -> i64 {
        self.gauges.iter().map(|g| g.in_flight.get()).sum()
    }
}

/// A population's handle on its thread's recorder.
#[derive(Clone, Debug)]
pub struct Rec {
    t: Rc<ThreadRec>,
    pop: usize,
}

/// Records `v` (the histograms auto-resize; `saturating_record` would clamp instead).
fn put(h: &mut hdrhistogram::Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

fn us(from: Instant, to: Instant) -> u64 {
    (to.saturating_duration_since(from).as_micros() as u64).max(1)
}

impl Rec {
    /// Handle for population `pop`.
    pub fn new(t: Rc<ThreadRec>, pop: usize) -> Rec {
        Rec { t, pop }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        f(&mut self.t.cur.borrow_mut()[self.pop])
    }

    fn gauges(&self) -> &Gauges {
        &self.t.gauges[self.pop]
    }

    /// A request (session) starts: counts `sent`, raises in-flight.
    pub fn start(&self) {
        self.with(|s| s.sent += 1);
        let g = &self.gauges().in_flight;
        g.set(g.get() + 1);
    }

    /// It ended (either way): lowers in-flight.
    pub fn end(&self) {
        let g = &self.gauges().in_flight;
        g.set(g.get() - 1);
    }

    /// Schedule lag of one dispatch.
    pub fn lag(&self, intended: Instant, dispatched: Instant) {
        let v = dispatched.saturating_duration_since(intended).as_micros() as u64;
        self.with(|s| put(&mut s.lag, v));
    }

    /// A complete response (`intended` → `done` is latency, `sent_at` → `done` service time).
    pub fn response(
        &self,
        status: u16,
        verified: bool,
        intended: Instant,
        sent_at: Instant,
        done: Instant,
    ) {
        self.with(|s| {
            s.completed += 1;
            s.status[(status as usize).min(STATUS_SLOTS - 1)] += 1;
            put(&mut s.latency, us(intended, done));
            put(&mut s.service, us(sent_at, done));
            s.verified += u64::from(verified);
        });
    }

    /// A session that ended without an HTTP status (slow clients, WebSockets) but normally.
    pub fn completed(&self, intended: Instant, sent_at: Instant, done: Instant) {
        self.with(|s| {
            s.completed += 1;
            put(&mut s.latency, us(intended, done));
            put(&mut s.service, us(sent_at, done));
        });
    }

    /// The body bytes of a response.
    pub fn body_bytes(&self, n: u64) {
        self.with(|s| s.body_bytes += n);
    }

    /// A status seen outside a timed exchange (e.g. a slowloris connection answered 408).
    pub fn status_only(&self, status: u16) {
        self.with(|s| s.status[(status as usize).min(STATUS_SLOTS - 1)] += 1);
    }

    /// A failure.
    pub fn error(&self, kind: ErrorKind) {
        self.with(|s| s.errors[kind.index()] += 1);
    }

    /// One outcome (a status code or an error kind) of a request sent from client address `a`.
    pub fn source(&self, a: std::net::Ipv4Addr, outcome: &str) {
        self.with(|s| {
            let per = s.by_source.entry(a).or_default();
            match per.get_mut(outcome) {
                Some(n) => *n += 1,
                None => {
                    per.insert(outcome.to_string(), 1);
                }
            }
        });
    }

    /// A recorded response header (`record_headers`): counted as `name: value`; past
    /// [`MAX_HEADER_KEYS`] distinct keys, new values count as `name: (other)`.
    pub fn header(&self, name: &str, value: &str) {
        self.with(|s| {
            let key = format!("{name}: {value}");
            let key = if s.headers.len() >= MAX_HEADER_KEYS && !s.headers.contains_key(&key) {
                format!("{name}: (other)")
            } else {
                key
            };
            *s.headers.entry(key).or_default() += 1;
        });
    }

    /// How a long session ended, and how long the connection was kept.
    pub fn outcome(&self, what: &str, held_from: Instant, now: Instant) {
        self.with(|s| {
            *s.outcomes.entry(what.to_string()).or_default() += 1;
            put(&mut s.held, us(held_from, now));
        });
    }

    /// One WebSocket echo round trip.
    pub fn ws_rtt(&self, sent: Instant, now: Instant) {
        self.with(|s| put(&mut s.ws_rtt, us(sent, now)));
    }

    /// A connection was opened (`+1`) or closed (`-1`).
    pub fn conn(&self, delta: i64) {
        if delta > 0 {
            self.with(|s| s.conns_opened += delta as u64);
        }
        let g = &self.gauges().open;
        g.set(g.get() + delta);
    }

    /// A request had to wait for a connection (`+1` when it starts waiting, `-1` when done).
    pub fn waiting(&self, delta: i64) {
        if delta > 0 {
            self.with(|s| s.waited += 1);
        }
        let g = &self.gauges().waiting;
        g.set(g.get() + delta);
    }
}
