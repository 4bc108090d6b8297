//! `stub_status` against real nginx (format byte for byte with digits normalized, and the
//! same counter movements), and `proxylab_status` (Prometheus text) scraped during real
//! traffic: responses by code, per-peer requests / state / latency histogram, limit_req
//! decisions per zone, open WebSockets.

mod common;

use common::{Conn, Embedded, conf, get, request, wait_until};
use proxylab_testkit::FakeUpstream;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

fn digits_to_n(s: &str) -> String {
    let mut out = String::new();
    let mut prev_digit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !prev_digit {
                out.push('N');
            }
            prev_digit = true;
        } else {
            out.push(c);
            prev_digit = false;
        }
    }
    out
}

/// The numbers of a stub_status body: active, accepts, handled, requests, r, w, k.
fn numbers(body: &str) -> Vec<u64> {
    body.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect()
}

#[test]
fn stub_status_matches_nginx() {
    let http = "server { listen 127.0.0.1:{PORT}; location = /status { stub_status; } }";
    let Some((nginx, ours)) = common::both(http) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let first = get(addr, "/status");
        // An idle keep-alive connection that has served one request: "Waiting".
        let mut idle = Conn::open(addr);
        let r = idle
            .exchange(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("keep-alive status");
        assert_eq!(r.status, 200);
        let second = get(addr, "/status");
        let post = request(addr, "POST", "/status", "", b"x");
        let (a, b) = (
            String::from_utf8_lossy(&first.body).into_owned(),
            String::from_utf8_lossy(&second.body).into_owned(),
        );
        let (na, nb) = (numbers(&a), numbers(&b));
        seen.push((
            digits_to_n(&a),
            digits_to_n(&b),
            first.header("content-type").map(str::to_string),
            // accepts, handled, requests moved by 2 each between the two scrapes
            [nb[1] - na[1], nb[2] - na[2], nb[3] - na[3]],
            // reading, writing, waiting at the second scrape
            [nb[4], nb[5], nb[6]],
            post.status,
        ));
        drop(idle);
    }
    assert_eq!(seen[0], seen[1], "nginx vs ours");
    assert_eq!(
        seen[1].0,
        "Active connections: N \nserver accepts handled requests\n N N N \nReading: N Writing: N Waiting: N \n"
    );
    assert_eq!(seen[1].3, [2, 2, 2]);
    assert_eq!(seen[1].4, [0, 1, 1]);
    assert_eq!(seen[1].5, 405);
}

/// Parses the Prometheus text into `name{labels}` → value.
fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let mut m = HashMap::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (k, v) = l.rsplit_once(' ').expect("sample line");
        m.insert(k.to_string(), v.parse().expect("value"));
    }
    m
}

fn sum(m: &HashMap<String, f64>, prefix: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn prometheus_endpoint_during_traffic() {
    let (a, b) = (
        FakeUpstream::start(&["--admin-port", "0"]),
        FakeUpstream::start(&[]),
    );
    let c = conf(&format!(
        "  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;\n  \
         upstream app {{ server {}; server {};\n    health_check interval=200ms uri=/health; }}\n  \
         server {{ listen 127.0.0.1:{{PORT}};\n    location = /metrics {{ proxylab_status; }}\n    \
         location = /limited {{ limit_req zone=one; proxy_pass http://app/; }}\n    \
         location /ws {{ proxy_pass http://app; proxy_http_version 1.1;\n      \
         proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; }}\n    \
         location / {{ proxy_pass http://app; }}\n  }}",
        a.addr(),
        b.addr()
    ));
    // Only our proxy is needed here: it runs in this process.
    let ours = Embedded::start_full(&c);
    let addr = ours.addr();
    let traffic = std::thread::spawn(move || {
        let mut codes = HashMap::<u16, u32>::new();
        for i in 0..200 {
            let path = if i % 50 == 0 { "/missing-route" } else { "/" };
            *codes.entry(get(addr, path).status).or_default() += 1;
        }
        codes
    });
    // Scrapes while the traffic runs: counters never go down.
    let mut last = 0.0;
    let mut scrapes = 0;
    while !traffic.is_finished() && scrapes < 500 {
        let m = scrape(addr);
        let ok = m
            .get("proxylab_responses_total{code=\"200\"}")
            .copied()
            .unwrap_or(0.0);
        assert!(ok >= last, "counter went down: {last} -> {ok}");
        last = ok;
        scrapes += 1;
    }
    let codes = traffic.join().expect("traffic thread");
    assert!(scrapes >= 1);
    for i in 0..3 {
        let st = get(addr, "/limited").status;
        assert_eq!(st, if i == 0 { 200 } else { 503 });
    }
    let m = scrape(addr);
    let ok = f64::from(codes[&200]);
    // +1: the /limited request that passed; scrapes themselves count after their response.
    assert!(m["proxylab_responses_total{code=\"200\"}"] >= ok + 1.0);
    assert_eq!(m["proxylab_responses_total{code=\"503\"}"], 2.0);
    let peer_reqs = sum(&m, "proxylab_upstream_peer_requests_total{upstream=\"app\"");
    assert_eq!(peer_reqs, 201.0, "every proxied request is one try");
    let la = format!("upstream=\"app\",peer=\"{}\"", a.addr());
    let count = m[&format!("proxylab_upstream_peer_response_seconds_count{{{la}}}")];
    let reqs = m[&format!("proxylab_upstream_peer_requests_total{{{la}}}")];
    assert_eq!(count, reqs, "one latency sample per try");
    assert!(reqs >= 50.0, "round robin gave a only {reqs}");
    let inf = m[&format!("proxylab_upstream_peer_response_seconds_bucket{{{la},le=\"+Inf\"}}")];
    let small = m[&format!("proxylab_upstream_peer_response_seconds_bucket{{{la},le=\"0.001\"}}")];
    assert_eq!(inf, count);
    assert!(small <= inf);
    assert!(m[&format!("proxylab_upstream_peer_response_seconds_sum{{{la}}}")] > 0.0);
    let z =
        |r: &str| m[&format!("proxylab_limit_req_requests_total{{zone=\"one\",result=\"{r}\"}}")];
    assert_eq!((z("passed"), z("delayed"), z("rejected")), (1.0, 0.0, 2.0));
    assert_eq!(
        m[&format!("proxylab_upstream_peer_state{{{la},state=\"up\"}}")],
        1.0
    );

    // A peer failing its health check shows as unhealthy.
    let admin = a.admin_addr().expect("admin");
    request(admin, "POST", "/faults/health?state=unhealthy", "", b"");
    let key = format!("proxylab_upstream_peer_state{{{la},state=\"unhealthy\"}}");
    assert!(
        wait_until(Duration::from_secs(10), || scrape(addr)[&key] == 1.0),
        "peer never shown unhealthy"
    );
    assert_eq!(
        scrape(addr)[&format!("proxylab_upstream_peer_up{{{la}}}")],
        0.0
    );

    // An open WebSocket tunnel is counted while open.
    assert_eq!(scrape(addr)["proxylab_websockets_open"], 0.0);
    let mut ws = Conn::open(addr);
    ws.s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("write");
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut tmp = [0u8; 1024];
        let n = ws.s.read(&mut tmp).expect("read 101");
        assert!(n > 0, "closed before 101");
        head.extend_from_slice(&tmp[..n]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    assert_eq!(scrape(addr)["proxylab_websockets_open"], 1.0);
    drop(ws);
    assert!(
        wait_until(
            Duration::from_secs(10),
            || scrape(addr)["proxylab_websockets_open"] == 0.0
        ),
        "tunnel not uncounted after close"
    );
}
