//! The relay's toxics on real loopback sockets, measured from the client: a slow close, a
//! slicer, a black hole that closes, a link cut while a connection is open, and the client's
//! own loopback address kept towards the server.

use proxylab_relay::control::{Relay, Request};
use proxylab_relay::{Direction, Toxic, ToxicSpec};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A server that answers each connection with `reply` and closes; sends the peer address of
/// every connection it accepts.
async fn server(reply: Vec<u8>) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<SocketAddr>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, peer)) = l.accept().await {
            let _ = tx.send(peer);
            let reply = reply.clone();
            tokio::spawn(async move {
                let _ = s.write_all(&reply).await;
            });
        }
    });
    (addr, rx)
}

/// A relay with one link `l` to `backend`, carrying `toxic` (down direction) when given.
fn relay(backend: SocketAddr, toxic: Option<Toxic>) -> (Relay, SocketAddr) {
    let r = Relay::new(7);
    let resp = r.handle(Request::Listen {
        link: "l".into(),
        backend,
    });
    let port = resp.port.expect("port");
    if let Some(t) = toxic {
        let spec = ToxicSpec {
            toxic: t,
            direction: Direction::Down,
            toxicity: 1.0,
        };
        assert!(
            r.handle(Request::Add {
                link: "l".into(),
                id: 1,
                toxic: spec
            })
            .ok
        );
    }
    (r, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Reads to the end: (bytes, number of reads, time to EOF).
async fn drain(mut s: TcpStream, started: Instant) -> (usize, usize, Duration) {
    let mut buf = vec![0u8; 65536];
    let (mut n, mut reads) = (0, 0);
    let limit = Instant::now() + Duration::from_secs(10);
    while Instant::now() < limit {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(k)) => {
                n += k;
                reads += 1;
            }
        }
    }
    (n, reads, started.elapsed())
}

#[tokio::test]
async fn slow_close_delays_the_end_of_stream() {
    let (backend, _) = server(b"hello".to_vec()).await;
    let (_r, front) = relay(
        backend,
        Some(Toxic::SlowClose {
            delay: Duration::from_millis(300),
        }),
    );
    let t = Instant::now();
    let (n, _, took) = drain(TcpStream::connect(front).await.expect("connect"), t).await;
    assert_eq!(n, 5);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn slicer_cuts_a_write_into_delayed_pieces() {
    let (backend, _) = server(vec![b'x'; 4096]).await;
    let (_r, front) = relay(
        backend,
        Some(Toxic::Slicer {
            average_size: 256,
            size_variation: 128,
            delay: Duration::from_millis(5),
        }),
    );
    let t = Instant::now();
    let (n, reads, took) = drain(TcpStream::connect(front).await.expect("connect"), t).await;
    assert_eq!(n, 4096, "every byte arrives");
    // Pieces of at most 384 bytes: at least 11 pieces, 10 pauses of 5 ms between them.
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(reads >= 8, "seen as separate segments: {reads} reads");
}

#[tokio::test]
async fn black_hole_swallows_and_closes_after_its_delay() {
    let (backend, _) = server(b"never seen".to_vec()).await;
    let (_r, front) = relay(
        backend,
        Some(Toxic::Timeout {
            close_after: Some(Duration::from_millis(200)),
        }),
    );
    let t = Instant::now();
    let (n, _, took) = drain(TcpStream::connect(front).await.expect("connect"), t).await;
    assert_eq!(n, 0, "nothing gets through");
    assert!(took >= Duration::from_millis(200), "{took:?}");
}

#[tokio::test]
async fn down_refuses_new_connections_and_up_again_serves() {
    let (backend, _) = server(b"ok".to_vec()).await;
    let (r, front) = relay(backend, None);
    let spec = ToxicSpec {
        toxic: Toxic::Down,
        direction: Direction::Both,
        toxicity: 1.0,
    };
    assert!(
        r.handle(Request::Add {
            link: "l".into(),
            id: 9,
            toxic: spec
        })
        .ok
    );
    // The accept loop closes the port on its next turn.
    let mut refused = false;
    for _ in 0..100 {
        // A connect racing the close can be reset from the backlog; then try again.
        if let Err(e) = TcpStream::connect(front).await
            && e.kind() == std::io::ErrorKind::ConnectionRefused
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the port is closed while the link is down");
    assert!(
        r.handle(Request::Remove {
            link: "l".into(),
            id: 9
        })
        .ok
    );
    let mut served = false;
    for _ in 0..100 {
        if let Ok(s) = TcpStream::connect(front).await {
            served = drain(s, Instant::now()).await.0 == 2;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the same port serves again");
}

#[tokio::test]
async fn the_clients_loopback_address_reaches_the_server() {
    let (backend, mut peers) = server(b"ok".to_vec()).await;
    let (_r, front) = relay(backend, None);
    let sock = TcpSocket::new_v4().expect("socket");
    sock.bind("127.0.0.42:0".parse().expect("addr"))
        .expect("bind");
    let s = sock.connect(front).await.expect("connect");
    assert_eq!(drain(s, Instant::now()).await.0, 2);
    let peer = tokio::time::timeout(Duration::from_secs(5), peers.recv())
        .await
        .expect("accepted")
        .expect("peer");
    assert_eq!(peer.ip().to_string(), "127.0.0.42");
}
