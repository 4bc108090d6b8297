//! Differential test of the limit_req zone memory model against real nginx 1.22: how many
//! keys a zone holds, which key the LRU eviction removes, and the 503 + alert when a key
//! needs a bigger slab class than eviction can free. The same key sequence goes to nginx and
//! to our [`check`]; `$limit_req_status` must agree request by request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxylab_proxy::limit_req::{Delay, Limit, Rate, Zone, check};
use proxylab_testkit::Nginx;

/// Sends one GET, returns the status code (0 when no response).
fn send(addr: SocketAddr, path: &str) -> u16 {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").expect("write");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let head = String::from_utf8_lossy(&resp[..resp.len().min(12)]).to_string();
    head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Zone capacity and LRU eviction against nginx: a 32k zone holds 191 four-byte keys; the
/// 192nd evicts the least recently used one; a 300-byte key cannot be stored in a zone full of
/// small nodes (503, "could not allocate node").
#[test]
fn zone_capacity_and_eviction_match_nginx() {
    let conf = r#"
    log_format lr '$arg_k $arg_i $limit_req_status $status';
    access_log {DIR}/lr.log lr;
    limit_req_zone $arg_k zone=cap:32k rate=1r/m;
    server {
        listen 127.0.0.1:{PORT};
        location / { limit_req zone=cap; empty_gif; }
    }
    "#;
    let Some(ngx) = Nginx::start(conf) else {
        return;
    };
    let zone = Arc::new(Zone::new("cap", 32 * 1024, Rate::per_minute(1)));
    let limits = [Limit {
        zone: zone.clone(),
        burst: 0,
        delay: Delay::After(0),
    }];
    let k = |i: usize| format!("k{i:03}");
    let mut keys: Vec<String> = (0..191).map(k).collect();
    // k000 again (kept), a new key (evicts the LRU tail k001), k001 (evicted: new again, evicts
    // k002), k003 (kept), k002 (evicted), k004 (evicted by k002's insertion), a long key
    // (rejected; its failed allocation force-evicted the tail k005 first), k005 (new again)
    keys.extend([k(0), k(191), k(1), k(3), k(2), k(4), "L".repeat(300), k(5)]);
    let start = Instant::now();
    let mut mine = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let code = send(ngx.addr(), &format!("/?k={key}&i={i}"));
        let now = 1_000_000 + start.elapsed().as_millis() as u64;
        let d = check(&limits, &[key.as_bytes()], false, now).expect("applied");
        assert_eq!(
            code == 503,
            d.rejects(),
            "request {i} key {key}: nginx {code}"
        );
        mine.push(d.status.as_str().to_string());
    }
    let log = ngx.dir().join("lr.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let theirs: Vec<String> = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let v: Vec<String> = text
            .lines()
            .filter_map(|l| l.split(' ').nth(2).map(String::from))
            .collect();
        if v.len() >= keys.len() || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(mine, theirs);
    assert_eq!(
        &theirs[191..],
        [
            "REJECTED", "PASSED", "PASSED", "REJECTED", "PASSED", "PASSED", "REJECTED", "PASSED"
        ]
    );
    assert!(
        ngx.error_log()
            .contains("could not allocate node in limit_req zone \"cap\"")
    );
}
