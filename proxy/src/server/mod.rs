//! The running proxy, embeddable: [`Server::start`] builds the live state, binds the listen
//! sockets and starts `worker_processes` worker threads (one single-threaded tokio runtime
//! each, all accepting on the same sockets, as nginx workers do) and a log flusher; the
//! [`Handle`] it returns reloads (new config swapped in; listeners kept, new ones opened; a bad
//! config is logged and the old one kept), drains (stop accepting, finish in-flight requests,
//! close idle connections), and stops. Signals and the process's exit belong to the binary
//! (`cli.rs`).

mod accept;
pub mod conn;
mod h2;
mod workers;

use crate::conf::Loaded;
use crate::conf::model::LogLevel;
use crate::live::{Live, Shared};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use workers::{Workers, bind, bind_set};

/// How often buffered access logs are checked for their `flush=` time.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Errors starting the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding a listen address failed.
    #[error("bind() to {0} failed ({1})")]
    Bind(SocketAddr, String),
    /// Building the live state failed (log files, upstreams).
    #[error("{0}")]
    Setup(String),
    /// Any other I/O failure at startup.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where a server's configuration comes from (read again by [`Handle::reload`]).
#[derive(Debug, Clone)]
pub struct Server {
    /// The configuration file (nginx syntax).
    pub file: PathBuf,
    /// Prefix for relative paths (`-p`); None: the file's directory.
    pub prefix: Option<PathBuf>,
}

/// A running server.
pub struct Handle {
    server: Server,
    shared: Arc<Shared>,
    workers: Workers,
    /// Bound listen addresses, first the initial ones in config order.
    bound: Vec<SocketAddr>,
    workers_count: usize,
    max_conns: usize,
    generation: u64,
    epoch: Instant,
    flusher: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

fn flush_logs(shared: &Shared, force: bool) {
    let live = shared.live.load();
    let now = Instant::now();
    for w in &live.writers {
        w.flush_due(now, force);
    }
}

/// A thread that flushes due access-log buffers every [`FLUSH_EVERY`] until told to stop.
fn start_flusher(
    shared: &Arc<Shared>,
) -> std::io::Result<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let shared = Arc::downgrade(shared);
    let thread = std::thread::Builder::new()
        .name("proxylab-log-flush".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(FLUSH_EVERY)
            {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                flush_logs(&shared, false);
            }
        })?;
    Ok((stop, thread))
}

impl Server {
    /// Starts serving `loaded` (read from [`Server::file`]): live state, sockets, workers,
    /// the health checker and the log flusher.
    pub fn start(self, loaded: Loaded) -> Result<Handle, ServerError> {
        let epoch = Instant::now();
        let config = Arc::new(loaded.config);
        let workers_count = config.worker_processes.max(1);
        let max_conns = config.worker_connections.max(1);
        let live = Live::build(config, workers_count, 1, epoch).map_err(ServerError::Setup)?;
        let mut listeners = Vec::new();
        for a in bind_set(&live) {
            listeners.push((a, bind(a)?));
        }
        let shared = Arc::new(Shared::new(live, epoch));
        // Active health checks follow the live config on their own thread (nginx Plus).
        if let Err(e) = crate::health::Manager::spawn(
            Arc::downgrade(&shared.live),
            shared.reload_tx.subscribe(),
        ) {
            let msg = format!("health checks not started ({e})");
            shared.live.load().error_log.log(LogLevel::Alert, &msg);
        }
        let workers = Workers::start(workers_count)?;
        workers.accept(&listeners, &shared, max_conns)?;
        let flusher = Some(start_flusher(&shared)?);
        Ok(Handle {
            server: self,
            bound: listeners.iter().map(|(a, _)| *a).collect(),
            shared,
            workers,
            workers_count,
            max_conns,
            generation: 1,
            epoch,
            flusher,
        })
    }
}

impl Handle {
    /// The bound listen addresses.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.bound
    }

    /// The stub_status counters (connections, requests, states).
    pub fn stats(&self) -> &crate::live::Stats {
        &self.shared.stats
    }

    /// `http://ADDR` or `https://ADDR` for each bound address (the ready line's words).
    pub fn urls(&self) -> Vec<String> {
        let live = self.shared.live.load();
        self.bound
            .iter()
            .map(|a| {
                let scheme = if live.tls.contains_key(a) {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{a}")
            })
            .collect()
    }

    /// Reads the configuration file again and swaps the new config in (nginx's SIGHUP): new
    /// listen addresses are bound, old ones kept; idle connections of the old generation
    /// close. A config that does not load is logged (`emerg`) and returned; the old one stays.
    pub fn reload(&mut self) -> Result<(), String> {
        self.generation += 1;
        let shared = &self.shared;
        let old = shared.live.load_full();
        let new = crate::conf::load(&self.server.file, self.server.prefix.as_deref())
            .map_err(|e| e.to_string())
            .and_then(|l| {
                let config = Arc::new(l.config);
                Live::build(config, self.workers_count, self.generation, self.epoch)
            });
        let new = match new {
            Ok(new) => new,
            Err(e) => {
                old.error_log.log(LogLevel::Emerg, &e);
                return Err(e);
            }
        };
        let mut fresh = Vec::new();
        for a in bind_set(&new) {
            if self.bound.contains(&a) {
                continue;
            }
            match bind(a) {
                Ok(l) => {
                    self.bound.push(a);
                    fresh.push((a, l));
                }
                Err(e) => old.error_log.log(LogLevel::Emerg, &e.to_string()),
            }
        }
        flush_logs(shared, true);
        shared.live.store(Arc::new(new));
        shared.reload_tx.send_replace(self.generation);
        let _ = self.workers.accept(&fresh, shared, self.max_conns);
        shared
            .live
            .load()
            .error_log
            .log(LogLevel::Notice, "reconfiguring");
        Ok(())
    }

    /// Starts a graceful stop (nginx's SIGQUIT): no new connections, idle ones close, requests
    /// in flight finish. Resolves once no client connection is left.
    pub async fn drained(&self) {
        let shared = &self.shared;
        shared.draining.store(true, Ordering::Relaxed);
        let _ = shared.drain_tx.send(true);
        loop {
            let notified = shared.idle.notified();
            if shared.stats.active.load(Ordering::Relaxed) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Stops at once: logs flushed, workers ended (their connections dropped).
    pub fn stop(mut self) {
        if let Some((stop, thread)) = self.flusher.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
        flush_logs(&self.shared, true);
        self.workers.stop();
    }
}
