//! One link: a listening port on 127.0.0.1 relaying to a backend address, its toxics (a
//! `watch` channel every connection follows) and its counters. A `down` toxic closes the
//! listening socket (new connections are refused) and the same port is bound again when the
//! link comes back up.

use crate::conn;
use crate::state::{Active, LinkState, mix};
use crate::toxic::ToxicSpec;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// Counters of a link.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

/// A relayed link.
#[derive(Debug)]
pub(crate) struct Link {
    pub backend: SocketAddr,
    pub port: u16,
    pub stats: Stats,
    tx: watch::Sender<Arc<LinkState>>,
    seed: u64,
}

fn bind(port: u16) -> io::Result<TcpListener> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    s.listen(4096)
}

impl Link {
    /// Binds a free port and starts accepting (inside a Tokio runtime).
    pub(crate) fn open(backend: SocketAddr, seed: u64) -> io::Result<Arc<Link>> {
        let listener = bind(0)?;
        let port = listener.local_addr()?.port();
        let (tx, _) = watch::channel(Arc::new(LinkState::default()));
        let link = Arc::new(Link {
            backend,
            port,
            stats: Stats::default(),
            tx,
            seed,
        });
        tokio::spawn(accept_loop(link.clone(), Some(listener)));
        Ok(link)
    }

    pub(crate) fn rx(&self) -> watch::Receiver<Arc<LinkState>> {
        self.tx.subscribe()
    }

    /// Adds toxic `id` (replacing one with the same id).
    pub(crate) fn add(&self, id: u64, spec: ToxicSpec) {
        self.tx.send_modify(|st| {
            let mut s = LinkState::clone(st);
            s.toxics.retain(|a| a.id != id);
            s.toxics.push(Active {
                id,
                spec,
                since: std::time::Instant::now(),
            });
            s.generation += 1;
            *st = Arc::new(s);
        });
    }

    /// Removes toxic `id`; false when it was not there.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut found = false;
        self.tx.send_modify(|st| {
            let mut s = LinkState::clone(st);
            let before = s.toxics.len();
            s.toxics.retain(|a| a.id != id);
            found = s.toxics.len() != before;
            s.generation += 1;
            *st = Arc::new(s);
        });
        found
    }
}

async fn accept_loop(link: Arc<Link>, mut listener: Option<TcpListener>) {
    let mut rx = link.rx();
    let mut conns = 0u64;
    loop {
        if rx.borrow_and_update().down() {
            listener = None;
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match bind(link.port) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("proxylab-relay: cannot bind port {} again: {e}", link.port);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        loop {
            tokio::select! {
                r = l.accept() => match r {
                    Ok((s, _)) => {
                        conns += 1;
                        link.stats.accepted.fetch_add(1, Ordering::Relaxed);
                        let seed = mix(link.seed ^ mix(conns));
                        tokio::spawn(conn::serve(s, link.clone(), seed));
                    }
                    Err(e) => {
                        // Out of descriptors and the like: keep serving what is open.
                        eprintln!("proxylab-relay: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                r = rx.changed() => {
                    if r.is_err() {
                        return;
                    }
                    if rx.borrow_and_update().down() {
                        break;
                    }
                }
            }
        }
        // `l` is dropped here: the port is closed while the link is down.
    }
}
