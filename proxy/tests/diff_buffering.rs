//! `proxy_buffering` with a slow client, nginx vs ours: with buffering on, the proxy reads
//! the whole (large) response into memory and a temp file while the client has not read
//! anything, so the upstream finishes writing and is free; with `proxy_buffering off` the
//! upstream stays blocked until the client reads. The upstream (`BigBody`) records when its
//! write completed; the body is larger than every kernel buffer on the way.

mod common;

use common::servers::{Behaviour, TestServer};
use common::{both, wait_until};
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

const SIZE: usize = 64 << 20;

#[test]
fn slow_client_holds_upstream_only_without_buffering() {
    let up = TestServer::start(Behaviour::BigBody(SIZE));
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}};\n\
           location /on/ {{ proxy_pass http://{0}/; }}\n\
           location /off/ {{ proxy_pass http://{0}/; proxy_buffering off; }} }}",
        up.addr
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut row = Vec::new();
        for mode in ["on", "off"] {
            let before = up.completed.load(Ordering::Relaxed);
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            write!(
                s,
                "GET /{mode}/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            .expect("write");
            // The client reads nothing for a while: did the upstream finish its write?
            let released = wait_until(Duration::from_secs(4), || {
                up.completed.load(Ordering::Relaxed) > before
            });
            row.push(released);
            let mut all = Vec::new();
            s.read_to_end(&mut all).expect("read");
            let head_end = all
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |i| i + 4);
            row.push(all.len() - head_end == SIZE);
            assert!(wait_until(Duration::from_secs(10), || up
                .completed
                .load(Ordering::Relaxed)
                > before));
        }
        seen.push(row);
    }
    assert_eq!(
        seen[0], seen[1],
        "nginx vs ours: [on released, on complete, off released, off complete]"
    );
    assert_eq!(seen[1], vec![true, true, false, true]);
}
