//! `proxy_request_buffering` through both proxies: with `on` (default) the upstream is
//! contacted only once the whole body arrived; with `off` it is contacted at once and the
//! body streams (Content-Length kept; chunked kept as chunked with `proxy_http_version 1.1`).

mod common;

use common::servers::{Behaviour, TestServer};
use common::{both, parse, raw, wait_until};
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[test]
fn request_buffering_on_and_off_match_nginx() {
    let echo = TestServer::start(Behaviour::EchoHead);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}};\n\
           location /on/ {{ proxy_pass http://{0}; }}\n\
           location /off/ {{ proxy_pass http://{0}; proxy_request_buffering off; proxy_http_version 1.1; }} }}",
        echo.addr
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut row = Vec::new();
        // A slow upload: half the body, then a pause.
        for mode in ["on", "off"] {
            let before = echo.accepted.load(Ordering::Relaxed);
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            write!(s, "POST /{mode}/up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\n01234").expect("write");
            let contacted = wait_until(Duration::from_millis(1500), || {
                echo.accepted.load(Ordering::Relaxed) > before
            });
            row.push(format!(
                "{mode}: upstream contacted before the body ended: {contacted}"
            ));
            s.write_all(b"56789").expect("write rest");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            let body = parse(&out)
                .map(|(r, _)| String::from_utf8_lossy(&r.body).into_owned())
                .unwrap_or_default();
            row.push(body.replace(&addr.port().to_string(), "PORT"));
        }
        let chunked = raw(
            addr,
            b"POST /off/c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            Duration::from_secs(10),
        );
        row.push(
            parse(&chunked)
                .map(|(r, _)| String::from_utf8_lossy(&r.body).into_owned())
                .unwrap_or_default(),
        );
        // A chunked body still arriving is streamed as chunked.
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        s.write_all(b"POST /off/slow HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n").expect("write");
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(b"0\r\n\r\n").expect("write end");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        row.push(
            parse(&out)
                .map(|(r, _)| String::from_utf8_lossy(&r.body).into_owned())
                .unwrap_or_default(),
        );
        seen.push(row);
    }
    assert_eq!(seen[0], seen[1], "nginx vs ours");
    assert!(seen[1][2].ends_with("true"), "{:?}", seen[1]);
    assert!(seen[1][0].ends_with("false"), "{:?}", seen[1]);
    assert!(
        seen[1][5].contains("Transfer-Encoding: chunked"),
        "{:?}",
        seen[1]
    );
}
