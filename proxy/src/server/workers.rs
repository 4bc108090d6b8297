//! The listen sockets and the worker threads: binding as nginx does (a wildcard address
//! covers specific ones on its port), `worker_processes` threads with one single-threaded
//! tokio runtime each, and every worker accepting on every socket.

use super::ServerError;
use super::accept::accept_loop;
use crate::live::{Live, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Binds `addr` (SO_REUSEADDR, IPv6 only for IPv6, backlog 511, non-blocking).
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
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
pub fn bind_set(live: &Live) -> Vec<SocketAddr> {
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

/// The worker threads: each runs its runtime until [`Workers::stop`].
pub struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` worker threads.
    pub fn start(n: usize) -> Result<Workers, ServerError> {
        let mut workers = Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..n {
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("proxylab-worker-{i}"))
                .spawn(move || {
                    crate::live::set_worker_index(i);
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .on_thread_unpark(crate::logs::time::refresh)
                        .build()
                    else {
                        return;
                    };
                    let _ = handle_tx.send(rt.handle().clone());
                    rt.block_on(async {
                        let _ = stop_rx.await;
                    });
                })?;
            workers.threads.push(thread);
            workers.stops.push(stop_tx);
            let handle = handle_rx
                .recv()
                .map_err(|_| ServerError::Setup("worker runtime failed to start".into()))?;
            workers.handles.push(handle);
        }
        Ok(workers)
    }

    /// Starts an accept loop for each listener on every worker.
    pub fn accept(
        &self,
        listeners: &[(SocketAddr, std::net::TcpListener)],
        shared: &Arc<Shared>,
        max_conns: usize,
    ) -> Result<(), ServerError> {
        for h in &self.handles {
            for (_, l) in listeners {
                let l = l.try_clone()?;
                let _entered = h.enter();
                let listener = tokio::net::TcpListener::from_std(l)?;
                h.spawn(accept_loop(listener, shared.clone(), max_conns));
            }
        }
        Ok(())
    }

    /// Ends every worker's runtime (its connections are dropped) and waits for the threads.
    pub fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
