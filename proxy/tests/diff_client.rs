//! Differential client-side tests: the request nginx and our proxy send upstream (an upstream
//! that echoes the request head it received), client keep-alive (`keepalive_requests`,
//! `keepalive_timeout`, HTTP/1.0), client timeouts (closed without a response, logged as
//! 408), and `client_max_body_size` on chunked bodies.

mod common;

use common::servers::{Behaviour, TestServer};
use common::{Conn, Ours, both, log_lines, parse, raw};
use proxylab_testkit::Nginx;
use std::io::Write;
use std::time::{Duration, Instant};

fn echo_config(echo: std::net::SocketAddr) -> String {
    format!(
        "upstream echo {{ server {echo}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; server_name example.com;\n\
           proxy_set_header X-Server-Level srv;\n\
           location /default/ {{ proxy_pass http://{echo}; }}\n\
           location /named/ {{ proxy_pass http://echo; }}\n\
           location /uri/ {{ proxy_pass http://echo/x/; }}\n\
           location /inherit/ {{ proxy_pass http://echo; }}\n\
           location /set/ {{ proxy_pass http://echo; proxy_http_version 1.1;\n\
             proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header Connection \"\";\n\
             proxy_set_header X-Empty \"\"; proxy_set_header X-Missing $http_x_missing;\n\
             proxy_set_header X-Args \"$args|$arg_q|$request_uri|$uri|$request_method\"; }}\n\
           location /small/ {{ client_max_body_size 10; proxy_pass http://echo; }} }}"
    )
}

#[test]
fn request_sent_upstream_matches_nginx() {
    let echo = TestServer::start(Behaviour::EchoHead);
    let Some((nginx, ours)) = both(&echo_config(echo.addr)) else {
        return;
    };
    let reqs: Vec<Vec<u8>> = vec![
        b"GET /default/a/../b//c%20d?q=%41 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /uri/a/../b//c%20d?q=%41 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /named/x HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nKeep-Alive: 300\r\nUpgrade: websocket\r\nX_Under: dropped\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n".to_vec(),
        b"GET /set/p?q=7&r=8 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /set/p HTTP/1.0\r\n\r\n".to_vec(),
        b"POST /inherit/ HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec(),
        b"POST /inherit/chunked HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        b"POST /inherit/expect HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec(),
        b"POST /small/ HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n14\r\n01234567890123456789\r\n0\r\n\r\n".to_vec(),
        b"POST /small/ HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec(),
    ];
    let mut bad = Vec::new();
    for r in &reqs {
        let label =
            String::from_utf8_lossy(&r[..r.iter().position(|&b| b == b'\r').unwrap_or(r.len())])
                .to_string();
        let n = raw(nginx.addr(), r, Duration::from_secs(10));
        let o = raw(ours.addr(), r, Duration::from_secs(10));
        let strip_100 = |b: &[u8]| -> Vec<u8> {
            let p = b"HTTP/1.1 100 Continue\r\n\r\n";
            if b.starts_with(p) {
                b[p.len()..].to_vec()
            } else {
                b.to_vec()
            }
        };
        let (n100, o100) = (
            n.starts_with(b"HTTP/1.1 100"),
            o.starts_with(b"HTTP/1.1 100"),
        );
        let (Some((a, _)), Some((b, _))) = (parse(&strip_100(&n)), parse(&strip_100(&o))) else {
            bad.push(format!(
                "{label}: unparsable\n  nginx {:?}\n  ours {:?}",
                String::from_utf8_lossy(&n),
                String::from_utf8_lossy(&o)
            ));
            continue;
        };
        let nb = String::from_utf8_lossy(&a.body).replace(&nginx.port().to_string(), "PORT");
        let ob = String::from_utf8_lossy(&b.body).replace(&ours.addr().port().to_string(), "PORT");
        if a.status != b.status || nb != ob || n100 != o100 {
            bad.push(format!(
                "{label}:\n  nginx {} (100: {n100}) {nb:?}\n  ours  {} (100: {o100}) {ob:?}",
                a.status, b.status
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn client_keepalive_matches_nginx() {
    let http = "server { listen 127.0.0.1:{PORT}; keepalive_requests 3; keepalive_timeout 1s;\n\
                location / { return 200 ok; } location /hdr { keepalive_timeout 10s 7; return 200 ok; } }";
    let Some((nginx, ours)) = both(http) else {
        return;
    };
    let mut results = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut c = Conn::open(addr);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let r = c
                .exchange(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                .expect("response");
            seen.push(r.header("connection").unwrap_or("").to_string());
        }
        seen.push(format!(
            "closed after keepalive_requests: {}",
            c.closed_within(Duration::from_secs(3))
        ));
        let mut c = Conn::open(addr);
        let r = c
            .exchange(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .expect("1.0 keep-alive");
        seen.push(r.header("connection").unwrap_or("").to_string());
        let t0 = Instant::now();
        let closed = c.closed_within(Duration::from_secs(5));
        let idle = t0.elapsed();
        seen.push(format!(
            "closed after keepalive_timeout: {closed}, within 0.5..3 s: {}",
            idle > Duration::from_millis(500) && idle < Duration::from_secs(3)
        ));
        let mut c = Conn::open(addr);
        let r = c.exchange(b"GET / HTTP/1.0\r\n\r\n").expect("1.0");
        seen.push(r.header("connection").unwrap_or("").to_string());
        let mut c = Conn::open(addr);
        let r = c
            .exchange(b"GET /hdr HTTP/1.1\r\nHost: a\r\n\r\n")
            .expect("hdr");
        seen.push(format!("{:?}", r.header("keep-alive")));
        results.push(seen);
    }
    assert_eq!(results[0], results[1], "nginx vs ours");
    assert_eq!(results[1][2], "close");
}

#[test]
fn client_timeouts_close_without_response_and_log_408() {
    let http = "server { listen 127.0.0.1:{PORT}; client_header_timeout 1s; client_body_timeout 1s;\n\
                location / { proxy_pass http://127.0.0.1:{PORT2}; } }\n\
                server { listen 127.0.0.1:{PORT2}; return 200 upstream; }";
    let c = common::conf(http);
    let Some(nginx) = Nginx::start_full(&c) else {
        return;
    };
    let ours = Ours::start_full(&c);
    let mut outcomes = Vec::new();
    for (addr, read) in [
        (
            nginx.addr(),
            Box::new(|| nginx.access_log()) as Box<dyn Fn() -> String>,
        ),
        (ours.addr(), Box::new(|| ours.access_log())),
    ] {
        let mut partial = std::net::TcpStream::connect(addr).expect("connect");
        partial
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
            .expect("write");
        let mut body = std::net::TcpStream::connect(addr).expect("connect");
        body.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
            .expect("write");
        let mut c1 = Conn {
            s: partial,
            buf: Vec::new(),
        };
        let mut c2 = Conn {
            s: body,
            buf: Vec::new(),
        };
        let t0 = Instant::now();
        let closed =
            c1.closed_within(Duration::from_secs(5)) && c2.closed_within(Duration::from_secs(5));
        let took = t0.elapsed();
        let mut lines: Vec<String> = log_lines(&*read, 2)
            .into_iter()
            .map(|l| l.split(' ').next().unwrap_or("").to_string())
            .collect();
        lines.sort();
        outcomes.push((
            closed,
            took < Duration::from_secs(4),
            c1.buf.is_empty() && c2.buf.is_empty(),
            lines,
        ));
    }
    assert_eq!(outcomes[0], outcomes[1], "nginx vs ours");
    assert_eq!(outcomes[1].3, vec!["408".to_string(), "408".to_string()]);
}
