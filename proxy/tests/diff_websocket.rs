//! WebSocket through both proxies with the article's `/ws/` location, in front of the fake
//! upstream's echo route: the 101 head (Connection: upgrade, Upgrade, accept key), an echoed
//! frame, and the idle close after `proxy_read_timeout`.

mod common;

use common::{Conn, both, parse};
use proxylab_testkit::FakeUpstream;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn frame(text: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x81, 0x80 | text.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(text.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[test]
fn websocket_upgrade_echo_and_idle_close_match_nginx() {
    let f = FakeUpstream::start(&[]);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}};\n\
           location /ws {{ proxy_pass http://{};\n\
             proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n\
             proxy_set_header Connection \"upgrade\"; proxy_read_timeout 1s; }} }}",
        f.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut c = Conn::open(addr);
        c.s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("write");
        let deadline = Instant::now() + Duration::from_secs(10);
        let head_end = loop {
            if let Some(i) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(Instant::now() < deadline, "no 101 head");
            let mut tmp = [0u8; 4096];
            let n = c.s.read(&mut tmp).expect("read head");
            assert!(n > 0, "closed before 101");
            c.buf.extend_from_slice(&tmp[..n]);
        };
        let (resp, _) = parse(&c.buf[..head_end]).expect("101 head");
        c.buf.drain(..head_end);
        c.s.write_all(&frame(b"hello")).expect("frame");
        while c.buf.len() < 7 {
            let mut tmp = [0u8; 4096];
            let n = c.s.read(&mut tmp).expect("read echo");
            assert!(n > 0, "closed before echo");
            c.buf.extend_from_slice(&tmp[..n]);
        }
        let echo = c.buf[..7].to_vec();
        c.buf.clear();
        let t0 = Instant::now();
        let closed = c.closed_within(Duration::from_secs(5));
        let idle = t0.elapsed();
        seen.push((
            resp.status,
            resp.header("connection").map(str::to_string),
            resp.header("upgrade").map(str::to_string),
            resp.header("sec-websocket-accept").map(str::to_string),
            echo,
            closed,
            idle > Duration::from_millis(700) && idle < Duration::from_secs(3),
        ));
    }
    assert_eq!(seen[0], seen[1], "nginx vs ours");
    assert_eq!(seen[1].0, 101);
    assert_eq!(&seen[1].4[2..], b"hello");
}
