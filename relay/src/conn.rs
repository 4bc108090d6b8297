//! One relayed connection: connect to the backend (from the client's own loopback address
//! when it is not 127.0.0.1, so the server still sees distinct clients), run both directions,
//! and end the connection the way the toxics say (reset, close) or as the peers did.

use crate::link::Link;
use crate::pump::{End, Pump};
use crate::state::LinkState;
use crate::toxic::{Direction, Toxic};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Both directions reached their end of stream.
    Done,
    /// Close both sides now (limit reached, link down, timeout).
    Close,
    /// Reset these sides (RST): `Down` = the client, `Up` = the server.
    Reset(Direction),
    /// A peer failed (reset, broken pipe): reset the other side too.
    Error,
}

/// Serves `client` on `link` until the connection ends.
pub(crate) async fn serve(mut client: TcpStream, link: Arc<Link>, seed: u64) {
    let opened = std::time::Instant::now();
    let _ = client.set_nodelay(true);
    let mut backend = match connect(link.backend, &client).await {
        Ok(b) => b,
        Err(_) => {
            // The server side is gone: the client sees its connection reset.
            let _ = client.set_zero_linger();
            return;
        }
    };
    link.stats.active.fetch_add(1, Ordering::Relaxed);
    let outcome = relay(&mut client, &mut backend, &link, seed, opened).await;
    link.stats.active.fetch_sub(1, Ordering::Relaxed);
    let (rst_client, rst_server) = match outcome {
        Outcome::Done | Outcome::Close => (false, false),
        Outcome::Reset(d) => (d.covers(Direction::Down), d.covers(Direction::Up)),
        Outcome::Error => (true, true),
    };
    if rst_client {
        let _ = client.set_zero_linger();
    }
    if rst_server {
        let _ = backend.set_zero_linger();
    }
}

async fn connect(backend: SocketAddr, client: &TcpStream) -> io::Result<TcpStream> {
    let sock = match backend {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let (Ok(peer), true) = (client.peer_addr(), backend.is_ipv4())
        && let IpAddr::V4(ip) = peer.ip()
        && ip.is_loopback()
        && ip != Ipv4Addr::LOCALHOST
    {
        sock.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
    }
    let s = tokio::time::timeout(Duration::from_secs(5), sock.connect(backend))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let _ = s.set_nodelay(true);
    Ok(s)
}

async fn relay(
    client: &mut TcpStream,
    backend: &mut TcpStream,
    link: &Link,
    seed: u64,
    opened: std::time::Instant,
) -> Outcome {
    let (mut cr, mut cw) = client.split();
    let (mut br, mut bw) = backend.split();
    let up = Pump::new(Direction::Up, link.rx(), seed, opened, &link.stats.bytes_up)
        .run(&mut cr, &mut bw);
    let down = Pump::new(
        Direction::Down,
        link.rx(),
        seed,
        opened,
        &link.stats.bytes_down,
    )
    .run(&mut br, &mut cw);
    let events = events(link.rx(), seed, opened);
    tokio::pin!(up, down, events);
    let (mut up_done, mut down_done) = (false, false);
    loop {
        let r = tokio::select! {
            biased;
            o = &mut events => return o,
            r = &mut up, if !up_done => {
                up_done = true;
                r
            }
            r = &mut down, if !down_done => {
                down_done = true;
                r
            }
        };
        match r {
            Ok(End::Eof) if up_done && down_done => return Outcome::Done,
            Ok(End::Eof) => {}
            Ok(End::Limit) => return Outcome::Close,
            Err(_) => return Outcome::Error,
        }
    }
}

/// Waits for what ends a connection from outside its byte streams: the link going down, a
/// `reset_peer` delay, a black hole's `close_after`.
async fn events(
    mut rx: watch::Receiver<Arc<LinkState>>,
    seed: u64,
    opened: std::time::Instant,
) -> Outcome {
    loop {
        let (down, next) = {
            let st = rx.borrow_and_update();
            (st.down(), earliest(&st, seed, opened))
        };
        if down {
            return Outcome::Close;
        }
        let changed = match next {
            Some((at, o)) if at <= std::time::Instant::now() => return o,
            Some((at, o)) => tokio::select! {
                _ = sleep_until(Instant::from_std(at)) => return o,
                r = rx.changed() => r,
            },
            None => rx.changed().await,
        };
        if changed.is_err() {
            // The link is gone (relay shutting down): let the streams finish.
            std::future::pending::<()>().await;
        }
    }
}

/// The earliest timed end among the toxics touching this connection.
fn earliest(
    st: &LinkState,
    seed: u64,
    opened: std::time::Instant,
) -> Option<(std::time::Instant, Outcome)> {
    st.touching(seed)
        .filter_map(|a| {
            let since = a.since.max(opened);
            match &a.spec.toxic {
                Toxic::ResetPeer { delay } => {
                    Some((since + *delay, Outcome::Reset(a.spec.direction)))
                }
                Toxic::Timeout {
                    close_after: Some(d),
                } => Some((since + *d, Outcome::Close)),
                _ => None,
            }
        })
        .min_by_key(|(t, _)| *t)
}
