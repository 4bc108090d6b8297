//! Accepting client connections: the accept loop of each worker (stub_status counts,
//! `worker_connections`), the wait for a connection's first bytes, the TLS handshake, and the
//! choice of protocol (HTTP/1.x loop, HTTP/2 over ALPN `h2`, prior-knowledge h2c).

use super::conn::serve_stream;
use crate::live::Shared;
use crate::logs::LogLevel;
use crate::request::stream::Stream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpStream;

/// Counts one open connection (stub_status "active" and the worker's own count for
/// `worker_connections`) until dropped.
struct Active {
    shared: Arc<Shared>,
    local: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.local.fetch_sub(1, Ordering::Relaxed);
        if self.shared.stats.active.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}

/// Accepts connections on `l` until the drain signal; each connection runs in its own task.
pub async fn accept_loop(l: tokio::net::TcpListener, shared: Arc<Shared>, max_conns: usize) {
    let bound = l.local_addr().ok();
    let mut drain = shared.drain_tx.subscribe();
    let local_active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut failed: Option<std::io::Error> = None;
    loop {
        if let Some(e) = failed.take() {
            accept_failed(&shared, &e).await;
        }
        tokio::select! {
            r = l.accept() => {
                let (stream, peer) = match r {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        failed = Some(e);
                        continue;
                    }
                };
                shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
                if local_active.load(Ordering::Relaxed) >= max_conns {
                    // nginx's ngx_get_connection: the line, then the socket closed.
                    let msg = format!("{max_conns} worker_connections are not enough");
                    shared.live.load().error_log.log(LogLevel::Alert, &msg);
                    drop(stream);
                    continue;
                }
                shared.stats.handled.fetch_add(1, Ordering::Relaxed);
                shared.stats.active.fetch_add(1, Ordering::Relaxed);
                local_active.fetch_add(1, Ordering::Relaxed);
                let sh = shared.clone();
                let la = local_active.clone();
                let (tls, h2c) = {
                    let live = sh.live.load();
                    let tls = bound
                        .and_then(|b| live.tls.get(&b).cloned())
                        .map(tokio_rustls::TlsAcceptor::from);
                    (tls, bound.is_some_and(|b| live.h2c.contains(&b)))
                };
                // Kept small while the client sends nothing: the request loop (several KiB
                // of state) is boxed only once the first bytes are readable.
                let started = tokio::time::Instant::now();
                tokio::spawn(async move {
                    let _active = Active { shared: sh.clone(), local: la };
                    let Ok(local) = stream.local_addr() else { return };
                    // An h2c connection that sent nothing still gets nginx's GOAWAY.
                    if first_byte(&stream, local, &sh).await || (h2c && tls.is_none()) {
                        let conn = Accepted { peer, local, started };
                        Box::pin(serve(stream, conn, sh, tls, h2c)).await;
                    }
                });
            }
            _ = drain.wait_for(|d| *d) => return,
        }
    }
}

/// A failed `accept()`, as nginx's `ngx_event_accept`: `accept4() failed (…)` at `crit` (`error`
/// for a connection aborted before it was taken); out of descriptors (EMFILE, ENFILE) the
/// listener is left alone for 500 ms (nginx disables its accept events for
/// `accept_mutex_delay`) instead of failing again at once while the backlog stays readable.
async fn accept_failed(shared: &Shared, e: &std::io::Error) {
    let level = if e.raw_os_error() == Some(libc::ECONNABORTED) {
        LogLevel::Error
    } else {
        LogLevel::Crit
    };
    let msg = format!("accept4() failed ({})", crate::logs::os_error(e));
    shared.live.load().error_log.log(level, &msg);
    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `client_header_timeout` of the default server for connections to `local` (60 s when no
/// server listens there any more, e.g. after a reload).
fn header_timeout(shared: &Shared, local: SocketAddr) -> Duration {
    let live = shared.live.load();
    live.route(local)
        .map(|r| live.config.http.servers[r.default].client_header_timeout)
        .unwrap_or(Duration::from_secs(60))
}

/// Waits until the client's first bytes (or EOF) are readable, at most the default server's
/// `client_header_timeout`; false when it expired or the socket failed. The accept loop awaits
/// this small future before it builds any per-connection state (buffers, TLS session, the
/// request loop), so a connection that sends nothing costs a few hundred bytes, as in nginx,
/// which also waits for the first read event before allocating its buffer or SSL object.
pub async fn first_byte(stream: &TcpStream, local: SocketAddr, shared: &Shared) -> bool {
    let limit = header_timeout(shared, local);
    // A peek, not `readable()`: tokio marks an accepted stream ready before any event, so
    // only a read that finds nothing makes it wait for the kernel's first read event.
    let mut one = [0u8; 1];
    matches!(
        tokio::time::timeout(limit, stream.peek(&mut one)).await,
        Ok(Ok(_))
    )
}

/// Where and when a connection was accepted.
pub struct Accepted {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address it connected to.
    pub local: SocketAddr,
    /// When it was accepted (nginx's `client_header_timeout` runs from here).
    pub started: tokio::time::Instant,
}

/// Serves one accepted connection until it closes; `tls` does the handshake first (bounded
/// by the default server's `client_header_timeout`); `h2c` serves prior-knowledge HTTP/2.
pub async fn serve(
    stream: TcpStream,
    conn: Accepted,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    h2c: bool,
) {
    let Accepted {
        peer,
        local,
        started,
    } = conn;
    let _ = stream.set_nodelay(true);
    let https = tls.is_some();
    let stream = match tls {
        None => Stream::Plain(stream),
        Some(acceptor) => {
            let limit = header_timeout(&shared, local);
            match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    if s.get_ref().1.alpn_protocol() == Some(b"h2") {
                        let st = Stream::Tls(Box::new(s));
                        return super::h2::serve(st, peer, local, shared, true, started).await;
                    }
                    Stream::Tls(Box::new(s))
                }
                _ => return,
            }
        }
    };
    if h2c {
        return super::h2::serve(stream, peer, local, shared, false, started).await;
    }
    serve_stream(stream, peer, local, shared, https).await;
}
