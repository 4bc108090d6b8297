//! Checked per-worker settings (built from the command line by [`crate::settings`]).

use std::time::Duration;

/// How `--limit-concurrency` counts, see spec §1.5.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ConcurrencyMode {
    /// `--loop asyncio`: 503 iff open connections ≥ N or in-flight requests ≥ N; greedy accept.
    Exact,
    /// uvloop (the default of `uvicorn[standard]`): one accept per loop iteration, and a finished
    /// request still counts until the next iteration (≈18 % false 503s under saturation).
    Uvloop,
}

/// Who replaces a worker process that exits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Supervisor {
    /// uvicorn ≥ 0.30 `--workers N`: polls every 0.5 s, a dead worker is replaced after the
    /// health-check timeout (`--timeout-worker-healthcheck`, 5 s), one worker at a time.
    Uvicorn,
    /// gunicorn + UvicornWorker: the arbiter reaps on SIGCHLD and forks a new worker ≈0.2 s later;
    /// keep-alive defaults to 2 s and `--limit-concurrency` is not passed to workers.
    Gunicorn,
}

/// Simulated SQLAlchemy `QueuePool` settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// `pool_size` (default 5).
    pub size: u32,
    /// `max_overflow` (default 10; negative = unlimited).
    pub max_overflow: i64,
    /// `pool_timeout` (default 30 s).
    pub timeout: Duration,
    /// The database's `statement_timeout` (`--statement-timeout`; None: no limit): a `db`
    /// query running or waiting on a locked table longer is cancelled, FastAPI's 500.
    pub statement_timeout: Option<Duration>,
}

/// WebSocket settings (uvicorn `--ws-*`).
#[derive(Debug, Clone, Copy)]
pub struct WsConfig {
    /// PING interval (default 20 s; None disables pings).
    pub ping_interval: Option<Duration>,
    /// PONG deadline after a PING (default 20 s); then CLOSE 1011.
    pub ping_timeout: Option<Duration>,
    /// Largest accepted message in bytes (default 16 MiB); larger → CLOSE 1009.
    pub max_size: usize,
}

/// Everything one worker process needs besides the app and the socket.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Worker index (0 without a supervisor).
    pub index: u32,
    /// `--limit-concurrency`.
    pub limit_concurrency: Option<usize>,
    /// How the limit counts.
    pub concurrency_mode: ConcurrencyMode,
    /// Effective `--limit-max-requests` (jitter already added).
    pub limit_max_requests: Option<u64>,
    /// `--timeout-keep-alive`.
    pub timeout_keep_alive: Duration,
    /// `--timeout-graceful-shutdown` (None = wait forever).
    pub timeout_graceful_shutdown: Option<Duration>,
    /// Threadpool slots (anyio default 40).
    pub threadpool: usize,
    /// DB pool.
    pub pool: PoolConfig,
    /// CPU burnt per request on the worker thread (`--cpu-overhead-us`).
    pub cpu_overhead: Duration,
    /// Bytes allocated, written and never freed per request (`--leak-per-request`).
    pub leak_per_request: usize,
    /// RNG seed of this worker.
    pub seed: u64,
    /// WebSocket settings.
    pub ws: WsConfig,
    /// Ticks (0.1 s) between heartbeats seen by a gunicorn arbiter (UvicornWorker notifies
    /// every `timeout / 2`, on its 1 s tick).
    pub heartbeat_ticks: u64,
    /// Print uvicorn-like log lines to stderr.
    pub log: bool,
}
