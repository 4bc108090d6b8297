//! The running proxy: binds the listen sockets, starts `worker_processes` worker threads (one
//! single-threaded tokio runtime each, all accepting on the same sockets, as nginx workers
//! do), prints the ready line, and handles signals: SIGHUP reloads (new config swapped in;
//! listeners kept, new ones opened; a bad config is logged and the old one kept), SIGQUIT
//! drains (stop accepting, finish in-flight requests, close idle connections), SIGTERM and
//! SIGINT exit at once.

mod accept;
pub mod conn;
mod h2;

use crate::conf::Loaded;
use crate::live::{Live, Shared};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

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

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
    let err = |e: std::io::Error| ServerError::Bind(addr, crate::logs::os_error(&e));
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None).map_err(err)?;
    s.set_reuse_address(true).map_err(err)?;
    if addr.is_ipv6() {
        let _ = s.set_only_v6(true);
    }
    s.bind(&addr.into()).map_err(err)?;
    s.listen(511).map_err(err)?;
    s.set_nonblocking(true).map_err(err)?;
    Ok(s.into())
}

/// Addresses to bind: a wildcard address covers specific ones on the same port (nginx binds
/// only the wildcard and picks the server by the connection's local address).
fn bind_set(live: &Live) -> Vec<SocketAddr> {
    let mut v: Vec<SocketAddr> = Vec::new();
    for r in &live.routes {
        let covered = live.routes.iter().any(|w| {
            w.addr.ip().is_unspecified() && w.addr.port() == r.addr.port() && w.addr != r.addr
        });
        if !covered && !v.contains(&r.addr) {
            v.push(r.addr);
        }
    }
    v
}

struct Workers {
    handles: Vec<tokio::runtime::Handle>,
}

fn spawn_accepts(
    workers: &Workers,
    listeners: &[(SocketAddr, std::net::TcpListener)],
    shared: &Arc<Shared>,
    max_conns: usize,
) -> Result<(), ServerError> {
    for h in &workers.handles {
        for (_, l) in listeners {
            let l = l.try_clone()?;
            let sh = shared.clone();
            let _g = h.enter();
            let tl = tokio::net::TcpListener::from_std(l)?;
            h.spawn(accept::accept_loop(tl, sh, max_conns));
        }
    }
    Ok(())
}

fn start_workers(n: usize) -> Result<Workers, ServerError> {
    let mut handles = Vec::new();
    for i in 0..n {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(format!("proxylab-worker-{i}"))
            .spawn(move || {
                crate::live::set_worker_index(i);
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_unpark(crate::logs::time::refresh)
                    .build()
                {
                    Ok(rt) => rt,
                    Err(_) => return,
                };
                let _ = tx.send(rt.handle().clone());
                rt.block_on(std::future::pending::<()>());
            })?;
        let h = rx
            .recv()
            .map_err(|_| ServerError::Setup("worker runtime failed to start".into()))?;
        handles.push(h);
    }
    Ok(Workers { handles })
}

fn flush_logs(shared: &Shared, force: bool) {
    let live = shared.live.load();
    let now = Instant::now();
    for w in &live.writers {
        w.flush_due(now, force);
    }
}

/// Runs the proxy until SIGTERM/SIGINT (fast) or SIGQUIT (graceful).
pub fn run(conf: PathBuf, prefix: Option<PathBuf>, loaded: Loaded) -> Result<(), ServerError> {
    let epoch = Instant::now();
    let config = Arc::new(loaded.config);
    let nworkers = config.worker_processes.max(1);
    let max_conns = config.worker_connections.max(1);
    let live = Live::build(config, nworkers, 1, epoch).map_err(ServerError::Setup)?;
    let mut listeners: Vec<(SocketAddr, std::net::TcpListener)> = Vec::new();
    for a in bind_set(&live) {
        listeners.push((a, bind(a)?));
    }
    let shared = Arc::new(Shared::new(live, epoch));
    // Active health checks follow the live config on their own thread (nginx Plus).
    if let Err(e) =
        crate::health::Manager::spawn(Arc::downgrade(&shared.live), shared.reload_tx.subscribe())
    {
        let msg = format!("health checks not started ({e})");
        shared
            .live
            .load()
            .error_log
            .log(crate::conf::model::LogLevel::Alert, &msg);
    }
    let workers = start_workers(nworkers)?;
    spawn_accepts(&workers, &listeners, &shared, max_conns)?;
    let addrs: Vec<String> = {
        let live = shared.live.load();
        listeners
            .iter()
            .map(|(a, _)| {
                let scheme = if live.tls.contains_key(a) {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{a}")
            })
            .collect()
    };
    {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "proxylab-proxy ready {}", addrs.join(" "));
        let _ = out.flush();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        let mut quit = signal(SignalKind::quit())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        let mut generation = 1;
        let mut bound: HashMap<SocketAddr, ()> = listeners.iter().map(|(a, _)| (*a, ())).collect();
        loop {
            tokio::select! {
                _ = tick.tick() => flush_logs(&shared, false),
                _ = hup.recv() => {
                    generation += 1;
                    let old = shared.live.load_full();
                    match crate::conf::load(&conf, prefix.as_deref())
                        .map_err(|e| e.to_string())
                        .and_then(|l| Live::build(Arc::new(l.config), nworkers, generation, epoch))
                    {
                        Ok(new) => {
                            let mut fresh = Vec::new();
                            for a in bind_set(&new) {
                                if bound.contains_key(&a) { continue; }
                                match bind(a) {
                                    Ok(l) => { bound.insert(a, ()); fresh.push((a, l)); }
                                    Err(e) => old.error_log.log(crate::conf::model::LogLevel::Emerg, &e.to_string()),
                                }
                            }
                            flush_logs(&shared, true);
                            shared.live.store(Arc::new(new));
                            shared.reload_tx.send_replace(generation);
                            let _ = spawn_accepts(&workers, &fresh, &shared, max_conns);
                            shared.live.load().error_log.log(crate::conf::model::LogLevel::Notice, "reconfiguring");
                        }
                        Err(e) => old.error_log.log(crate::conf::model::LogLevel::Emerg, &e),
                    }
                }
                _ = quit.recv() => {
                    shared.draining.store(true, Ordering::Relaxed);
                    let _ = shared.drain_tx.send(true);
                    loop {
                        let notified = shared.idle.notified();
                        if shared.stats.active.load(Ordering::Relaxed) == 0 { break; }
                        tokio::select! {
                            _ = notified => {}
                            _ = term.recv() => break,
                            _ = int.recv() => break,
                        }
                    }
                    flush_logs(&shared, true);
                    return Ok::<(), ServerError>(());
                }
                _ = term.recv() => { flush_logs(&shared, true); return Ok(()); }
                _ = int.recv() => { flush_logs(&shared, true); return Ok(()); }
            }
        }
    })?;
    std::process::exit(0);
}
