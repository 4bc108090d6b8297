//! Criterion benchmark of the request head the proxy sends upstream
//! (`proxylab_proxy::upstream::request::build`): `proxy_set_header` templates rendered in order
//! (`Host $host`, `X-Forwarded-For $proxy_add_x_forwarded_for`, `X-Forwarded-Proto $scheme`,
//! `Connection ""`), the hop-by-hop headers dropped and the client's other headers copied.
//!
//! Two locations of one config, the same 12-header browser-like request:
//! - `article_location`: the article's `location /` (proxy_http_version 1.1 and its headers);
//! - `default_location`: no `proxy_set_header` (nginx's defaults: `Host: $proxy_host`,
//!   `Connection: close`).
//!
//! Run: `cargo bench --bench header_rewrite` (add `-- --quick` for a short run). Before
//! measuring, the built heads are checked (a wrong head aborts the bench).

mod support;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use criterion::Criterion;
use proxylab_proxy::conf::model::{Handler, ProxyPass};
use proxylab_proxy::http::head::{Limits, RequestHead, parse};
use proxylab_proxy::live::Live;
use proxylab_proxy::phases::locate::{Found, locate};
use proxylab_proxy::request::ctx::{ConnInfo, Req, UpstreamLog};
use proxylab_proxy::upstream::request::{BodyLen, build};

const CONF: &str = r#"worker_processes 1;
events { worker_connections 1024; }
http {
    access_log off;
    upstream uvicorn_servers {
        least_conn;
        server 127.0.0.1:8001 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:8002 max_fails=3 fail_timeout=30s;
    }
    server {
        listen 127.0.0.1:8080;
        server_name api.sivaro.com;
        location / {
            proxy_pass http://uvicorn_servers;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /plain/ {
            proxy_pass http://uvicorn_servers;
        }
    }
}
"#;

/// A browser-like request with an X-Forwarded-For from a CDN and hop-by-hop headers.
fn head(path: &str) -> RequestHead {
    let raw = format!(
        "GET {path}?page=2&sort=price HTTP/1.1\r\n\
         Host: api.sivaro.com\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
         Accept: application/json, text/plain, */*\r\n\
         Accept-Language: en-US,en;q=0.5\r\n\
         Accept-Encoding: gzip, deflate, br\r\n\
         Referer: https://www.sivaro.com/shop\r\n\
         Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n\
         X-Forwarded-For: 203.0.113.7\r\n\
         Connection: keep-alive\r\n\
         Keep-Alive: timeout=5\r\n\
         TE: trailers\r\n\
         X-Request-Id: 5b7c1c2e-8a61-4d8e-9d0f-2f0f6a1f3c11\r\n\r\n"
    );
    let lim = Limits {
        small: 1024,
        large_num: 4,
        large_size: 8192,
        underscores: false,
        ignore_invalid: true,
    };
    match parse(raw.as_bytes(), &lim) {
        Ok(Some((h, _))) => h,
        other => panic!("request head did not parse: {other:?}"),
    }
}

/// Sets up the request for `uri` the way the request path does (location found, then
/// `$proxy_host` from the location's proxy_pass) and hands it to `f` with that proxy_pass.
fn with_req<T>(
    live: &Live,
    conn: &ConnInfo,
    head: &RequestHead,
    uri: &[u8],
    f: impl FnOnce(&Req<'_>, &ProxyPass) -> T,
) -> T {
    let server = &live.config.http.servers[0];
    let (loc, captures) = match locate(&server.locations, uri) {
        Found::Loc(l, c) => (l, c),
        _ => panic!("no location for {}", String::from_utf8_lossy(uri)),
    };
    let Handler::Proxy(pp) = &loc.conf.handler else {
        panic!("location {} is not proxy_pass", loc.name)
    };
    let q = head
        .target()
        .iter()
        .position(|b| *b == b'?')
        .map_or(0, |i| i + 1);
    let req = Req {
        conn,
        head,
        server,
        loc: &loc.conf,
        live,
        uri: uri.to_vec().into(),
        args: if q == 0 { 0..0 } else { q..head.target().len() },
        start: Instant::now(),
        start_time: SystemTime::now(),
        status: proxylab_proxy::http::status::Status::NONE,
        body_bytes_sent: 0,
        bytes_sent: 0,
        request_length: 0,
        up: UpstreamLog::default(),
        proxy_host: &pp.proxy_host,
        proxy_port: pp.proxy_port,
        limit_req_status: None,
        captures,
    };
    f(&req, pp)
}

fn check(built: &[u8], must: &[&str], must_not: &[&str]) {
    let text = String::from_utf8_lossy(built).to_ascii_lowercase();
    for m in must {
        assert!(
            text.contains(&m.to_ascii_lowercase()),
            "missing {m:?} in:\n{text}"
        );
    }
    for m in must_not {
        assert!(
            !text.contains(&m.to_ascii_lowercase()),
            "unexpected {m:?} in:\n{text}"
        );
    }
}

fn header_rewrite(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, CONF).expect("write conf");
    let loaded = proxylab_proxy::conf::load(&path, Some(dir.path())).expect("config loads");
    let live = Live::build(Arc::new(loaded.config), 1, 1, Instant::now()).expect("live state");
    let peer: SocketAddr = "198.51.100.23:51234".parse().expect("addr");
    let conn = ConnInfo {
        peer,
        local: "127.0.0.1:8080".parse().expect("addr"),
        id: 1,
        requests: 1,
        https: false,
        started: Instant::now(),
        sni: None,
        h2: false,
    };
    let article = head("/api/items");
    let plain = head("/plain/items");

    let a = with_req(&live, &conn, &article, b"/api/items", |r, pp| {
        build(r, pp, BodyLen::Known(0))
    });
    check(
        &a,
        &[
            "GET /api/items?page=2&sort=price HTTP/1.1\r\n",
            "Host: api.sivaro.com\r\n",
            "X-Forwarded-For: 203.0.113.7, 198.51.100.23\r\n",
            "X-Forwarded-Proto: http\r\n",
            "X-Request-Id: ",
            "Cookie: session=",
        ],
        &["connection:", "keep-alive:", "te:"],
    );
    let p = with_req(&live, &conn, &plain, b"/plain/items", |r, pp| {
        build(r, pp, BodyLen::Known(0))
    });
    check(
        &p,
        &[
            " HTTP/1.0\r\n",
            "Host: uvicorn_servers\r\n",
            "Connection: close\r\n",
            "X-Forwarded-For: 203.0.113.7\r\n",
        ],
        &["keep-alive:", "te:", "x-forwarded-proto"],
    );

    let mut g = c.benchmark_group("header_rewrite");
    with_req(&live, &conn, &article, b"/api/items", |r, pp| {
        g.bench_function("article_location", |b| {
            b.iter(|| black_box(build(black_box(r), pp, BodyLen::Known(0)).len()))
        });
    });
    with_req(&live, &conn, &plain, b"/plain/items", |r, pp| {
        g.bench_function("default_location", |b| {
            b.iter(|| black_box(build(black_box(r), pp, BodyLen::Known(0)).len()))
        });
    });
    g.finish();
}

fn main() {
    let mut c = support::criterion();
    header_rewrite(&mut c);
    c.final_summary();
}
