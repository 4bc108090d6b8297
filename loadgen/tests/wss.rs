//! `wss://`: WebSockets over TLS through real nginx terminating TLS (HTTP/1.1 upgrade proxied
//! to the fake upstream's `/ws` echo), with a CA file and SNI; the echo round trip is measured
//! and nginx and the fake both saw every handshake.

mod common;
use common::*;
use proxylab_loadgen::plan::{Behaviour, Dur};
use proxylab_testkit::{FakeUpstream, Nginx};
use std::time::{Duration, Instant};

#[test]
fn wss_chatty_through_nginx_tls_to_the_fake_echo() {
    let fake = FakeUpstream::start(&["--admin-port", "0", "--quiet"]);
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let Some(n) = Nginx::start(&format!(
        "log_format w '$status $request_uri $ssl_protocol';\n\
         server {{ listen 127.0.0.1:{{PORT}} ssl; server_name localhost; access_log {{DIR}}/w.log w;\n\
           ssl_certificate {}; ssl_certificate_key {};\n\
           location /ws {{ proxy_pass http://{}; proxy_http_version 1.1;\n\
             proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";\n\
             proxy_read_timeout 10s; }} }}",
        cert.display(),
        key.display(),
        fake.addr()
    )) else {
        return;
    };
    let b = Behaviour::WsChatty {
        messages_per_sec: 20.0,
        message_bytes: 100,
        hold: Dur::secs(2),
    };
    let mut p = with(
        plan(
            &format!("wss://127.0.0.1:{}", n.port()),
            closed(3),
            Duration::from_secs(5),
        ),
        b,
        "/ws",
        false,
    );
    p.tls.ca_file = Some(cert.clone());
    p.tls.sni = Some("localhost".into());
    p.populations[0].max_requests = Some(3);
    let res = run(&p);
    let s = &res.summary.populations["p"];
    let d = &res.summary.details["p"];
    assert_eq!(s.status.get("101").copied(), Some(3), "{s:?} {d:?}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        d.outcomes.get("held_to_end").copied(),
        Some(3),
        "{:?}",
        d.outcomes
    );
    // 20 messages/s for 2 s on each of 3 sockets: a few dozen echoes, each measured.
    assert!(
        d.ws_rtt_us.p50 > 0 && d.ws_rtt_us.p99 < 500_000,
        "{:?}",
        d.ws_rtt_us
    );
    let hdr = proxylab_loadgen::merge::with_histograms(&res);
    assert!(hdr.details["p"].hdr.contains_key("ws_rtt"));
    // nginx logs an upgraded connection when it ends: wait (bounded) for the three lines.
    let log_path = n.dir().join("w.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = String::new();
    while Instant::now() < deadline {
        log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if count_lines(&log, "101 /ws TLS") >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count_lines(&log, "101 /ws TLS"), 3, "{log}");
    // The fake behind nginx served the three upgrades.
    let c = counters(fake.admin_addr().unwrap());
    let ws = c["routes"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.contains("/ws"))
        .map(|(_, v)| v.as_u64().unwrap());
    assert_eq!(ws, Some(3), "{c}");
}
