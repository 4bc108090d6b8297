//! State shared between a worker's event-loop thread and its admin thread: counters (read by
//! `GET /counters`) and the runtime faults the admin API sets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

/// Counters and runtime faults of one process.
#[derive(Debug, Default)]
pub struct Shared {
    /// Completed responses, including 503s and 500s (what `--limit-max-requests` counts).
    pub requests: AtomicU64,
    /// Requests being handled right now (uvicorn's `tasks`).
    pub in_flight: AtomicI64,
    /// Requests waiting for a threadpool slot or a DB pool connection.
    pub queued: AtomicI64,
    /// Open client connections (uvicorn's `connections`).
    pub connections: AtomicI64,
    /// 503s sent because of `--limit-concurrency`.
    pub responses_503: AtomicU64,
    /// 500s sent (app exceptions, pool timeouts, cancelled tasks).
    pub responses_500: AtomicU64,
    /// 400s sent for malformed requests.
    pub responses_400: AtomicU64,
    /// Accepted TCP connections in total.
    pub accepted: AtomicU64,
    /// Wall-clock milliseconds (Unix epoch) of the event loop's last heartbeat (gunicorn's
    /// worker notify); 0 before the first one.
    pub heartbeat_ms: AtomicU64,
    /// Worker restarts done by the supervisor.
    pub restarts: AtomicU64,
    /// Workers that died by a signal or a failure exit (OOM kill, abort), not a graceful exit.
    pub crashes: AtomicU64,
    /// Route names (table routes, then the built-in ones), index = counter slot.
    route_names: Vec<String>,
    /// Requests per route, by index into `route_names`.
    route_counts: Vec<AtomicU64>,
    /// Runtime faults.
    pub faults: RuntimeFaults,
}

/// Faults that the admin API switches at runtime.
#[derive(Debug)]
pub struct RuntimeFaults {
    /// Health routes answer 503 `{"status":"unhealthy"}`.
    pub unhealthy: AtomicBool,
    /// Latency multiplier as f64 bits (1.0 = unchanged).
    latency_multiplier: AtomicU64,
    /// The accept loop is paused (connections queue in the kernel backlog).
    pub accept_paused: AtomicBool,
    /// Tables a lock fault holds: `db` routes reading them wait.
    locked_tables: std::sync::Mutex<Vec<String>>,
    /// Notified whenever the admin API changes a fault.
    pub changed: tokio::sync::Notify,
}

impl Default for RuntimeFaults {
    fn default() -> Self {
        RuntimeFaults {
            unhealthy: AtomicBool::new(false),
            latency_multiplier: AtomicU64::new(1.0f64.to_bits()),
            accept_paused: AtomicBool::new(false),
            locked_tables: std::sync::Mutex::new(Vec::new()),
            changed: tokio::sync::Notify::new(),
        }
    }
}

/// The runtime faults as JSON (admin `GET /faults`, and the state handed to new workers).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FaultState {
    /// Health routes answer 503.
    pub unhealthy: bool,
    /// Latency multiplier (1.0 = unchanged).
    pub latency_multiplier: f64,
    /// Accepting is paused.
    pub accept_paused: bool,
    /// Locked tables.
    #[serde(default)]
    pub locked_tables: Vec<String>,
}

impl RuntimeFaults {
    /// Current multiplier.
    pub fn latency_multiplier(&self) -> f64 {
        f64::from_bits(self.latency_multiplier.load(Relaxed))
    }

    /// Sets the multiplier.
    pub fn set_latency_multiplier(&self, m: f64) {
        self.latency_multiplier.store(m.to_bits(), Relaxed);
    }

    /// Locks `table` (`on`) or releases it; waiters learn of it through `changed`.
    pub fn lock_table(&self, table: &str, on: bool) {
        let mut t = self.locked_tables.lock().unwrap_or_else(|e| e.into_inner());
        t.retain(|x| x != table);
        if on {
            t.push(table.to_string());
        }
    }

    /// Whether `table` is locked.
    pub fn table_locked(&self, table: &str) -> bool {
        let t = self.locked_tables.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().any(|x| x == table)
    }

    /// Snapshot.
    pub fn state(&self) -> FaultState {
        FaultState {
            unhealthy: self.unhealthy.load(Relaxed),
            latency_multiplier: self.latency_multiplier(),
            accept_paused: self.accept_paused.load(Relaxed),
            locked_tables: self
                .locked_tables
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Applies a snapshot.
    pub fn apply(&self, s: &FaultState) {
        self.unhealthy.store(s.unhealthy, Relaxed);
        self.set_latency_multiplier(s.latency_multiplier);
        self.accept_paused.store(s.accept_paused, Relaxed);
        *self.locked_tables.lock().unwrap_or_else(|e| e.into_inner()) = s.locked_tables.clone();
    }
}

/// Counters as JSON (admin `GET /counters`); the supervisor sums its workers' snapshots.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Completed responses (incl. 503/500).
    pub requests: u64,
    /// Requests being handled.
    pub in_flight: i64,
    /// Requests waiting for a threadpool slot or DB connection.
    pub queued: i64,
    /// Open connections.
    pub connections: i64,
    /// `--limit-concurrency` 503s.
    pub responses_503: u64,
    /// 500s.
    pub responses_500: u64,
    /// 400s.
    pub responses_400: u64,
    /// Accepted connections.
    pub accepted: u64,
    /// Worker restarts.
    pub restarts: u64,
    /// Workers that died by a signal or a failure exit (OOM kill, abort, `crash` fault).
    #[serde(default)]
    pub crashes: u64,
    /// Live worker processes (1 without a supervisor).
    pub workers: u64,
    /// Requests per route.
    pub routes: BTreeMap<String, u64>,
}

impl Counters {
    /// Adds another process's counters into this one.
    pub fn add(&mut self, o: &Counters) {
        self.requests += o.requests;
        self.in_flight += o.in_flight;
        self.queued += o.queued;
        self.connections += o.connections;
        self.responses_503 += o.responses_503;
        self.responses_500 += o.responses_500;
        self.responses_400 += o.responses_400;
        self.accepted += o.accepted;
        self.restarts += o.restarts;
        self.crashes += o.crashes;
        self.workers += o.workers;
        for (k, v) in &o.routes {
            *self.routes.entry(k.clone()).or_default() += v;
        }
    }
}

impl Shared {
    /// Counters for these route names (see `worker::route_names`).
    pub fn with_routes(route_names: Vec<String>) -> Self {
        let route_counts = route_names.iter().map(|_| AtomicU64::new(0)).collect();
        Shared {
            route_names,
            route_counts,
            ..Shared::default()
        }
    }

    /// Counts one request for route slot `index` (ignored when out of range).
    pub fn count_route(&self, index: usize) {
        if let Some(c) = self.route_counts.get(index) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Records a heartbeat now.
    pub fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Relaxed);
    }

    /// Milliseconds since the last heartbeat (0 if none yet).
    pub fn heartbeat_age_ms(&self) -> u64 {
        match self.heartbeat_ms.load(Relaxed) {
            0 => 0,
            t => now_ms().saturating_sub(t),
        }
    }

    /// A snapshot of the counters of this process.
    pub fn counters(&self) -> Counters {
        Counters {
            requests: self.requests.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            queued: self.queued.load(Relaxed),
            connections: self.connections.load(Relaxed),
            responses_503: self.responses_503.load(Relaxed),
            responses_500: self.responses_500.load(Relaxed),
            responses_400: self.responses_400.load(Relaxed),
            accepted: self.accepted.load(Relaxed),
            restarts: self.restarts.load(Relaxed),
            crashes: self.crashes.load(Relaxed),
            workers: 1,
            routes: self
                .route_names
                .iter()
                .zip(&self.route_counts)
                .map(|(n, c)| (n.clone(), c.load(Relaxed)))
                .filter(|(_, c)| *c > 0)
                .collect(),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
