//! State shared by all workers: the swappable [`Live`] config, stub_status counters, and the
//! drain signal.

use super::Live;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{Notify, watch};

/// stub_status counters (nginx's meaning).
#[derive(Debug, Default)]
pub struct Stats {
    /// Accepted connections.
    pub accepted: AtomicU64,
    /// Handled connections.
    pub handled: AtomicU64,
    /// Requests.
    pub requests: AtomicU64,
    /// Open client connections.
    pub active: AtomicU64,
    /// Connections reading a request head.
    pub reading: AtomicU64,
    /// Connections processing/writing a response.
    pub writing: AtomicU64,
    /// Finished requests by status code (for `proxylab_status`).
    pub by_status: crate::metrics::StatusCounts,
}

/// Process-wide state.
#[derive(Debug)]
pub struct Shared {
    /// The current config generation.
    pub live: std::sync::Arc<ArcSwap<Live>>,
    /// Counters.
    pub stats: Stats,
    /// Set by SIGQUIT: finish in-flight requests, close idle connections, stop accepting.
    pub draining: AtomicBool,
    /// Broadcasts `draining`.
    pub drain_tx: watch::Sender<bool>,
    /// Broadcasts the config generation after a reload (SIGHUP): idle keep-alive connections
    /// of the old generation close, as nginx's old workers close theirs.
    pub reload_tx: watch::Sender<u64>,
    /// Signalled whenever `stats.active` drops to zero.
    pub idle: Notify,
    /// Connection serial numbers.
    pub next_conn: AtomicU64,
    /// Process start (limit_req clock origin).
    pub epoch: std::time::Instant,
}

impl Shared {
    /// Wraps the first live state.
    pub fn new(live: Live, epoch: std::time::Instant) -> Shared {
        let (drain_tx, _) = watch::channel(false);
        let (reload_tx, _) = watch::channel(live.generation);
        let live = std::sync::Arc::new(ArcSwap::from_pointee(live));
        Shared {
            live,
            stats: Stats::default(),
            draining: AtomicBool::new(false),
            drain_tx,
            reload_tx,
            idle: Notify::new(),
            next_conn: AtomicU64::new(1),
            epoch,
        }
    }

    /// Whether a graceful shutdown is in progress.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// Counts a connection or stream in a stub_status gauge (reading, writing) while it lives.
pub struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    /// Adds one to `a` until dropped.
    pub fn new(a: &'a AtomicU64) -> Gauge<'a> {
        a.fetch_add(1, Ordering::Relaxed);
        Gauge(a)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
