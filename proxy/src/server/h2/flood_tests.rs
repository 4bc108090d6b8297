//! The guard's frame-queue rule on byte streams that arrive in one read loop or in several:
//! more than 10000 PINGs read before the socket runs dry end the connection (nginx queues
//! every answer until its read loop ends), the same PINGs in two loops do not. And the byte
//! ratio: the read that crosses it is handed on whole before the guard stops, for each read
//! size (`http2_recv_buffer_size`).

use super::guard::{Guard, Watch};
use super::preface::PREFACE;
use super::timers::ConnLimits;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn pings(n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend([0, 0, 8, 6, 0, 0, 0, 0, 0]);
        v.extend(i.to_be_bytes());
    }
    v
}

fn guard() -> (DuplexStream, Guard<DuplexStream>, Arc<Watch>) {
    guard_reading(super::recv::read_size(None))
}

/// A guard whose reads take at most `read_size` bytes.
fn guard_reading(read_size: usize) -> (DuplexStream, Guard<DuplexStream>, Arc<Watch>) {
    let (client, server) = tokio::io::duplex(512 * 1024);
    let watch = Arc::new(Watch::default());
    let limits = ConnLimits {
        header: Duration::from_secs(60),
        keepalive: Duration::from_secs(75),
        keepalive_requests: 1000,
        keepalive_time: Duration::from_secs(3600),
        send: Duration::from_secs(60),
        max_streams: 128,
        read_size,
    };
    let g = Guard::new(server, watch.clone(), &limits, false);
    (client, g, watch)
}

/// Reads `n` bytes through the guard.
async fn take(g: &mut Guard<DuplexStream>, n: usize) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut got = 0;
    while got < n {
        match g.read(&mut buf).await? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            k => got += k,
        }
    }
    Ok(())
}

#[tokio::test]
async fn more_than_10000_answers_in_one_read_loop_end_the_connection() {
    let (mut client, mut g, watch) = guard();
    let mut bytes = PREFACE.to_vec();
    bytes.extend(pings(12_000));
    client.write_all(&bytes).await.expect("write");
    let e = take(&mut g, bytes.len()).await.expect_err("flood");
    assert_eq!(e.to_string(), "http2 flood detected");
    assert!(watch.queue_flood.load(Ordering::Relaxed));
}

#[tokio::test]
async fn the_same_answers_over_two_read_loops_are_not_a_flood() {
    let (mut client, mut g, watch) = guard();
    let mut first = PREFACE.to_vec();
    first.extend(pings(6_000));
    client.write_all(&first).await.expect("write");
    take(&mut g, first.len()).await.expect("first loop");
    let second = pings(6_000);
    client.write_all(&second).await.expect("write");
    take(&mut g, second.len()).await.expect("second loop");
    assert!(!watch.queue_flood.load(Ordering::Relaxed));
    assert!(!watch.flood.load(Ordering::Relaxed));
}

#[tokio::test]
async fn the_read_that_crosses_the_byte_ratio_is_handed_on_before_the_flood() {
    // Bytes read reach an eighth over 1 MiB (no payload) at this many.
    let cross = (8 << 20) + 8;
    for read_size in [4064, super::recv::read_size(None)] {
        let (mut client, mut g, watch) = guard_reading(read_size);
        let mut bytes = PREFACE.to_vec();
        while bytes.len() < cross + 2 * read_size {
            // WINDOW_UPDATE on the connection, increment 1.
            bytes.extend([0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        }
        let writer = tokio::spawn(async move {
            let _ = client.write_all(&bytes).await;
            client
        });
        let (mut handed, mut buf) = (0, vec![0u8; 16 * 1024]);
        // The guard stops with Pending once the flood is raised.
        while let Ok(r) = tokio::time::timeout(Duration::from_secs(2), g.read(&mut buf)).await {
            match r {
                Ok(n) if n > 0 => handed += n,
                other => panic!("read size {read_size}: {other:?} after {handed} bytes"),
            }
        }
        assert!(watch.flood.load(Ordering::Relaxed), "read size {read_size}");
        assert!(
            handed >= cross && handed < cross + read_size,
            "read size {read_size}: {handed} bytes handed on, the limit crossed at {cross}"
        );
        writer.abort();
    }
}
