//! The settings of a `proxylab upstream` run: its flags ([`Args`], named as uvicorn names
//! them; the extra ones model FastAPI/SQLAlchemy/gunicorn) checked into [`Settings`] by
//! [`settings`]. The entry points (`cli`, `server`, `supervisor`) read them; this module
//! imports none of them.

use crate::app::{self, App};
use crate::config::{ConcurrencyMode, PoolConfig, Supervisor, WorkerConfig, WsConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `proxylab upstream`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Bind address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Bind port (0 = any free port; the ready line on stdout tells which).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Worker processes sharing one listening socket (default 1 = no supervisor, like uvicorn).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// Who replaces exited workers: uvicorn (≈5 s health-check stall) or gunicorn (≈0.2 s).
    #[arg(long, value_enum, default_value = "uvicorn")]
    pub supervisor: Supervisor,
    /// uvicorn `--timeout-worker-healthcheck`: seconds before a dead worker is replaced.
    #[arg(long, allow_negative_numbers = true, default_value_t = 5.0)]
    pub timeout_worker_healthcheck: f64,
    /// gunicorn `--timeout`: a worker whose event loop sent no heartbeat for this many seconds
    /// is killed and replaced (only with --supervisor gunicorn).
    #[arg(long, allow_negative_numbers = true, default_value_t = 30.0)]
    pub timeout: f64,
    /// Answer 503 when open connections or in-flight requests reach N (per worker).
    #[arg(long)]
    pub limit_concurrency: Option<usize>,
    /// How --limit-concurrency counts: exact (asyncio) or uvloop (one accept per loop
    /// iteration, finished requests linger one iteration).
    #[arg(long, value_enum, default_value = "exact")]
    pub concurrency_mode: ConcurrencyMode,
    /// Each worker exits gracefully after about this many responses (checked every 0.1 s).
    #[arg(long)]
    pub limit_max_requests: Option<u64>,
    /// Add a random 0..=J to each worker's --limit-max-requests.
    #[arg(long, default_value_t = 0)]
    pub limit_max_requests_jitter: u64,
    /// Seconds an idle keep-alive connection stays open after a response (default 5; 2 under
    /// --supervisor gunicorn).
    #[arg(long, allow_negative_numbers = true)]
    pub timeout_keep_alive: Option<f64>,
    /// listen() backlog.
    #[arg(long, default_value_t = 2048)]
    pub backlog: i32,
    /// Seconds to wait for in-flight requests on shutdown before cancelling them (500).
    #[arg(long, allow_negative_numbers = true)]
    pub timeout_graceful_shutdown: Option<f64>,
    /// Route table (TOML); see docs/upstream.md.
    #[arg(long)]
    pub app: Option<PathBuf>,
    /// Seed for latency and fault draws (each worker derives its own).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Serve the admin API (JSON counters, runtime faults) on this port (0 = any).
    #[arg(long)]
    pub admin_port: Option<u16>,
    /// Threadpool slots for `def` routes (anyio's default 40).
    #[arg(long, default_value_t = 40)]
    pub threadpool_size: usize,
    /// SQLAlchemy QueuePool pool_size.
    #[arg(long, default_value_t = 5)]
    pub pool_size: u32,
    /// SQLAlchemy QueuePool max_overflow (-1 = unlimited).
    #[arg(long, default_value_t = 10, allow_hyphen_values = true)]
    pub max_overflow: i64,
    /// SQLAlchemy QueuePool pool_timeout in seconds.
    #[arg(long, allow_negative_numbers = true, default_value_t = 30.0)]
    pub pool_timeout: f64,
    /// The database's statement_timeout in seconds (0 = none): a `db` route's query that
    /// runs or waits on a locked table longer is cancelled (psycopg's QueryCanceled: 500).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub statement_timeout: f64,
    /// CPU microseconds burnt on the worker thread per request (≈190 makes one worker saturate
    /// near FastAPI's ≈5k req/s).
    #[arg(long, default_value_t = 0)]
    pub cpu_overhead_us: u64,
    /// Memory each request allocates, writes and never frees (`64KiB`, `1MiB` or bytes): a
    /// leaking app, for memory limits and `--limit-max-requests`.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    pub leak_per_request: u64,
    /// WebSocket PING interval in seconds (0 disables).
    #[arg(long, allow_negative_numbers = true, default_value_t = 20.0)]
    pub ws_ping_interval: f64,
    /// WebSocket PONG deadline in seconds; then CLOSE 1011.
    #[arg(long, allow_negative_numbers = true, default_value_t = 20.0)]
    pub ws_ping_timeout: f64,
    /// Largest WebSocket message in bytes; larger → CLOSE 1009.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub ws_max_size: usize,
    /// Print nothing but the ready line (no uvicorn-style log lines on stderr).
    #[arg(long)]
    pub quiet: bool,
}

/// Checked settings of a whole `proxylab upstream` run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bind host.
    pub host: String,
    /// Bind port.
    pub port: u16,
    /// Workers.
    pub workers: u32,
    /// Supervisor flavour.
    pub supervisor: Supervisor,
    /// Dead-worker detection delay (uvicorn supervisor).
    pub healthcheck: Duration,
    /// gunicorn worker timeout (heartbeat age that gets a worker killed).
    pub worker_timeout: Duration,
    /// listen() backlog.
    pub backlog: i32,
    /// Admin port.
    pub admin_port: Option<u16>,
    /// `--limit-max-requests` before jitter.
    pub max_requests: Option<u64>,
    /// Jitter.
    pub max_requests_jitter: u64,
    /// The worker template (index 0, no jitter applied).
    pub worker: WorkerConfig,
    /// The app.
    pub app: App,
}

/// Parses a byte size: a number of bytes or `N` with `KiB`, `MiB` or `GiB` (`64KiB`).
pub fn parse_size(v: &str) -> Result<u64, String> {
    let t = v.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a size (e.g. 65536, \"64KiB\", \"1MiB\")"))?;
    let mul: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "k" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {v:?} (KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(mul)
        .filter(|b| *b <= 1 << 40)
        .ok_or_else(|| format!("{v:?} is larger than 1 TiB"))
}

fn secs(v: f64, flag: &str) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(v) {
        Ok(d) if d <= Duration::from_secs(365 * 86_400) => Ok(d),
        _ => Err(format!(
            "--{flag}: {v} must be a number of seconds between 0 and one year"
        )),
    }
}

/// Validates flags (and loads `--app`) into [`Settings`]; the error names the flag or key.
pub fn settings(a: &Args) -> Result<Settings, String> {
    let app = match &a.app {
        Some(p) => app::validate::load_file(p).map_err(|e| e.to_string())?,
        None => App::default(),
    };
    let gunicorn = a.supervisor == Supervisor::Gunicorn;
    let keep_alive = secs(
        a.timeout_keep_alive
            .unwrap_or(if gunicorn { 2.0 } else { 5.0 }),
        "timeout-keep-alive",
    )?;
    if a.limit_concurrency == Some(0) {
        return Err("--limit-concurrency: must be at least 1".into());
    }
    if a.limit_max_requests == Some(0) {
        return Err("--limit-max-requests: must be at least 1".into());
    }
    if a.backlog < 1 {
        return Err(format!("--backlog: {} must be at least 1", a.backlog));
    }
    if a.threadpool_size == 0 {
        return Err("--threadpool-size: must be at least 1".into());
    }
    let ping = secs(a.ws_ping_interval, "ws-ping-interval")?;
    let worker_timeout = secs(a.timeout, "timeout")?;
    if worker_timeout.is_zero() {
        return Err("--timeout: must be > 0".into());
    }
    // UvicornWorker notifies every timeout/2 seconds, on its 1 s tick.
    let heartbeat_ticks = ((worker_timeout.as_secs_f64() / 2.0).ceil().max(1.0) * 10.0) as u64;
    let worker = WorkerConfig {
        index: 0,
        // gunicorn's UvicornWorker does not pass limit_concurrency (spec §1.4).
        limit_concurrency: if gunicorn { None } else { a.limit_concurrency },
        concurrency_mode: a.concurrency_mode,
        limit_max_requests: a.limit_max_requests,
        timeout_keep_alive: keep_alive,
        timeout_graceful_shutdown: a
            .timeout_graceful_shutdown
            .map(|t| secs(t, "timeout-graceful-shutdown"))
            .transpose()?,
        threadpool: a.threadpool_size,
        pool: PoolConfig {
            size: a.pool_size,
            max_overflow: a.max_overflow,
            timeout: secs(a.pool_timeout, "pool-timeout")?,
            statement_timeout: Some(secs(a.statement_timeout, "statement-timeout")?)
                .filter(|d| !d.is_zero()),
        },
        cpu_overhead: Duration::from_micros(a.cpu_overhead_us),
        leak_per_request: usize::try_from(a.leak_per_request)
            .map_err(|_| "--leak-per-request: too large for this machine".to_string())?,
        seed: a.seed,
        ws: WsConfig {
            ping_interval: (!ping.is_zero()).then_some(ping),
            ping_timeout: Some(secs(a.ws_ping_timeout, "ws-ping-timeout")?),
            max_size: a.ws_max_size.max(1),
        },
        heartbeat_ticks,
        log: !a.quiet,
    };
    if gunicorn && a.limit_concurrency.is_some() && !a.quiet {
        eprintln!(
            "WARNING:  --limit-concurrency is not supported under gunicorn's UvicornWorker; ignored"
        );
    }
    Ok(Settings {
        host: a.host.clone(),
        port: a.port,
        workers: a.workers,
        supervisor: a.supervisor,
        healthcheck: secs(a.timeout_worker_healthcheck, "timeout-worker-healthcheck")?,
        worker_timeout,
        backlog: a.backlog,
        admin_port: a.admin_port,
        max_requests: a.limit_max_requests,
        max_requests_jitter: a.limit_max_requests_jitter,
        worker,
        app,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn parses_leak_sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size(" 1MiB "), Ok(1 << 20));
        for bad in ["", "lots", "64 parsecs", "-1", "2048GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
