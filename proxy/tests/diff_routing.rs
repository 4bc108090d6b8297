//! Differential tests: the same config and the same raw requests through real nginx and our
//! proxy; status line, headers (except Date/Server) and bodies must be identical. Covers
//! server_name selection, location selection on a tricky config, `return`, allow/deny, the
//! phase order (413 before return, return before deny), auto-redirects, error pages, and
//! malformed or oversized requests.

mod common;

use common::{both, parse, raw};
use std::time::Duration;

const ROUTING: &str = r#"
  server {
    listen 127.0.0.1:{PORT};
    server_name example.com www.example.com;
    location = / { return 200 "exact-root"; }
    location / { return 200 "prefix-root $uri|$args|$host|$server_name"; }
    location /a/ { return 200 "a"; }
    location ^~ /a/b/ { return 200 "a-b-noregex"; }
    location /a/b/c/ { return 200 "a-b-c"; }
    location ~ /a/b/c/d { return 200 "regex-abcd"; }
    location ~* \.(png|JPG)$ { return 200 "img"; }
    location /n/ {
      return 200 "n";
      location ~ /n/x { return 200 "n-nested-regex"; }
      location /n/deep/ { return 200 "n-deep"; }
    }
    location ~ /n/ { return 200 "top-regex-n"; }
    location = /exact { return 200 "exact"; }
    location /exact { return 200 "exact-prefix"; }
    location ~ ^/cap/(\w+)/(\d+)$ { return 200 "cap-$1-$2"; }
    location /api/ { proxy_pass http://127.0.0.1:{PORT3}; }
    location = /api/exact { return 204; }
    location ~* .(env|git|svn|config)$ { deny all; return 404; }
    location /denied/ { deny all; }
    location /allowed/ { allow 127.0.0.0/8; deny all; return 200 "allowed"; }
    location /v6only/ { allow ::1; deny all; return 200 "v6"; }
    location /small/ { client_max_body_size 10; return 200 "small"; }
    location /redir/ { return 302 /elsewhere?x=1; }
    location /redir-abs/ { return 301 https://$server_name$request_uri; }
    location /teapot { return 418; }
    location /text503 { return 503 "busy"; }
    location /nobody200 { return 200; }
    location /close { return 444; }
    location /ka { keepalive_timeout 30s 20s; return 200 "ka"; }
  }
  server { listen 127.0.0.1:{PORT}; server_name *.wild.com; return 200 "wild-head $host"; }
  server { listen 127.0.0.1:{PORT}; server_name www.tail.*; return 200 "wild-tail"; }
  server { listen 127.0.0.1:{PORT}; server_name ~^re\d+\.com$; return 200 "regex-server"; }
  server { listen 127.0.0.1:{PORT2}; server_name other; return 200 "second-port-default"; }
  server { listen 127.0.0.1:{PORT2} default_server; server_name dflt; return 200 "marked-default"; }
"#;

fn get(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

fn compare(
    cases: &[(String, Vec<u8>, bool)],
    nginx: std::net::SocketAddr,
    ours: std::net::SocketAddr,
) {
    let mut bad = Vec::new();
    for (label, req, second_port) in cases {
        let (na, oa) = if *second_port {
            (
                std::net::SocketAddr::new(nginx.ip(), nginx.port()),
                std::net::SocketAddr::new(ours.ip(), ours.port()),
            )
        } else {
            (nginx, ours)
        };
        let n = raw(na, req, Duration::from_secs(10));
        let o = raw(oa, req, Duration::from_secs(10));
        let pn = parse(&n);
        let po = parse(&o);
        match (pn, po) {
            (Some((a, _)), Some((b, _))) => {
                let ports_fixed = |r: &common::Resp, p: u16| {
                    r.comparable_headers()
                        .into_iter()
                        .map(|(k, v)| (k, v.replace(&p.to_string(), "PORT")))
                        .collect::<Vec<_>>()
                };
                if a.status != b.status
                    || a.reason != b.reason
                    || ports_fixed(&a, na.port()) != ports_fixed(&b, oa.port())
                    || a.body != b.body
                {
                    bad.push(format!(
                        "{label}:\n  nginx: {} {} {:?} {:?}\n  ours:  {} {} {:?} {:?}",
                        a.status,
                        a.reason,
                        ports_fixed(&a, na.port()),
                        String::from_utf8_lossy(&a.body),
                        b.status,
                        b.reason,
                        ports_fixed(&b, oa.port()),
                        String::from_utf8_lossy(&b.body)
                    ));
                }
            }
            (None, None) => {
                let norm = |b: &[u8]| {
                    String::from_utf8_lossy(b)
                        .lines()
                        .filter(|l| !l.starts_with("Date: ") && !l.starts_with("Server: "))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                if norm(&n) != norm(&o) {
                    bad.push(format!("{label}: raw differs: nginx {n:?} ours {o:?}"));
                }
            }
            (a, b) => bad.push(format!(
                "{label}: nginx {:?} / ours {:?}",
                a.map(|x| x.0.status),
                b.map(|x| x.0.status)
            )),
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn routing_returns_and_error_pages_match_nginx() {
    let Some((nginx, ours)) = both(ROUTING) else {
        return;
    };
    let paths = [
        "/",
        "/x",
        "/x?q=1&r=2",
        "/a/",
        "/a/b/",
        "/a/b/c/",
        "/a/b/c/d",
        "/a/b/x.png",
        "/a/b/c/x.JPG",
        "/a/x.jpg",
        "/n/x",
        "/n/deep/x",
        "/n/other",
        "/exact",
        "/exact/more",
        "/cap/abc/12",
        "/cap/abc/x",
        "/api",
        "/api?x=1",
        "/api/exact",
        "/.env",
        "/x.ENV",
        "/.git/HEAD",
        "/digit",
        "/a.env?x=1",
        "/denied/x",
        "/allowed/y",
        "/v6only/",
        "/a/../a/b/c/d",
        "/%61/b/",
        "//a//b/",
        "/..",
        "/a/%2e%2e/%2e%2e/x",
        "/redir/",
        "/redir-abs/p?x=1",
        "/teapot",
        "/text503",
        "/nobody200",
        "/close",
        "/ka",
    ];
    let mut cases = Vec::new();
    for p in paths {
        cases.push((format!("GET {p}"), get(p, "example.com"), false));
    }
    for host in [
        "www.example.com",
        "foo.wild.com",
        "a.b.wild.com",
        "www.tail.org",
        "re12.com",
        "unknown.org",
        "EXAMPLE.COM.",
        "example.com:8080",
    ] {
        cases.push((format!("Host {host}"), get("/x", host), false));
    }
    cases.push((
        "HEAD /text503".into(),
        b"HEAD /text503 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".to_vec(),
        false,
    ));
    cases.push((
        "HTTP/1.0 no host".into(),
        b"GET /x HTTP/1.0\r\n\r\n".to_vec(),
        false,
    ));
    cases.push(("413 before return".into(), b"POST /small/ HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\nConnection: close\r\n\r\n01234567890".to_vec(), false));
    cases.push(("413 before deny".into(), b"POST /denied/x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n".to_vec(), false));
    cases.push((
        "return before deny".into(),
        b"GET /.git/config HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".to_vec(),
        false,
    ));
    cases.push(("POST auto-redirect".into(), b"POST /api HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".to_vec(), false));
    cases.push(("small body fits".into(), b"POST /small/ HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789".to_vec(), false));
    compare(&cases, nginx.addr(), ours.addr());
    // The second listen port: the default_server, not the first server.
    let second = vec![("second port".to_string(), get("/", "nobody.org"), true)];
    compare(
        &second,
        ([127, 0, 0, 1], nginx.ports()[1]).into(),
        ([127, 0, 0, 1], ours.ports[1]).into(),
    );
}

#[test]
fn malformed_and_oversized_requests_match_nginx() {
    let Some((nginx, ours)) = both(ROUTING) else {
        return;
    };
    let big_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "a".repeat(9000)
    );
    let ok_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "a".repeat(8100)
    );
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: example.com\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(9000)
    );
    let headers = |n: usize| {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n");
        for i in 0..n {
            s.push_str(&format!("X-H{i}: {}\r\n", "c".repeat(7000)));
        }
        s + "\r\n"
    };
    let cases: Vec<(String, Vec<u8>, bool)> = vec![
        ("no host 1.1".into(), b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), false),
        ("two hosts".into(), b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n".to_vec(), false),
        ("CL and TE".into(), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n".to_vec(), false),
        ("bad CL".into(), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\nConnection: close\r\n\r\n".to_vec(), false),
        ("two CL".into(), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\nConnection: close\r\n\r\nab".to_vec(), false),
        ("unknown TE".into(), b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n".to_vec(), false),
        ("TE with 1.0".into(), b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), false),
        ("bad host".into(), b"GET / HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n".to_vec(), false),
        ("dotdot above root".into(), get("/../x", "example.com"), false),
        ("414".into(), big_uri.into_bytes(), false),
        ("8100 uri ok".into(), ok_uri.into_bytes(), false),
        ("494 one header".into(), big_header.into_bytes(), false),
        ("4 x 7000 ok".into(), headers(4).into_bytes(), false),
        ("5 x 7000 494".into(), headers(5).into_bytes(), false),
        ("garbage".into(), b"HELLO\r\n\r\n".to_vec(), false),
    ];
    compare(&cases, nginx.addr(), ours.addr());
}
