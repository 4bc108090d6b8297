//! HTTP/2 behaviours: over h2c (prior knowledge) to real nginx proxying to the fake upstream,
//! response bodies are verified against `x-body-sha256` and 1 MiB request bodies arrive whole; behaviours that speak HTTP/1.1 only are refused with a clear error and exit code 2.

mod common;
use common::*;
use proxylab_loadgen::plan::{Behaviour, Protocol};
use proxylab_testkit::{FakeUpstream, Nginx};
use std::time::Duration;

fn nginx_h2c(fake: &FakeUpstream) -> Option<Nginx> {
    Nginx::start(&format!(
        "log_format h '$server_protocol $request_method $status $request_length';\n\
         server {{ listen 127.0.0.1:{{PORT}} http2; access_log {{DIR}}/h.log h;\n\
           client_max_body_size 16m;\n\
           location / {{ proxy_pass http://{}; proxy_http_version 1.1; }} }}",
        fake.addr()
    ))
}

fn log(n: &Nginx) -> String {
    std::fs::read_to_string(n.dir().join("h.log")).unwrap_or_default()
}

#[test]
fn h2c_bodies_are_verified_and_request_bodies_arrive_whole() {
    let fake = FakeUpstream::start(&["--quiet"]);
    let Some(n) = nginx_h2c(&fake) else { return };
    let url = format!("http://127.0.0.1:{}", n.port());

    // The request budget ends the run; the duration is only a bound (generous: a debug build
    // on a loaded 2-core machine once needed ~110 ms per 100 kB response through nginx).
    let mut p = with(
        plan(&url, closed(4), Duration::from_secs(30)),
        Behaviour::Normal {},
        "/bytes/100000",
        false,
    );
    p.protocol = Protocol::H2c;
    p.populations[0].max_requests = Some(200);
    let res = run(&p);
    let s = &res.summary.overall;
    assert_eq!(
        (s.completed, s.status.get("200").copied()),
        (200, Some(200)),
        "{s:?}"
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(res.summary.details["p"].bodies_verified, 200);
    assert_eq!(
        count_lines(&log(&n), "HTTP/2.0 GET 200"),
        200,
        "{}",
        log(&n)
    );

    let mut p = with(
        plan(&url, closed(2), Duration::from_secs(30)),
        Behaviour::Normal {},
        "/echo",
        false,
    );
    p.protocol = Protocol::H2c;
    p.populations[0].requests[0].method = "POST".into();
    p.populations[0].requests[0].body_size = Some(1 << 20);
    p.populations[0].max_requests = Some(4);
    let res = run(&p);
    let s = &res.summary.overall;
    assert_eq!(
        (s.completed, s.status.get("200").copied()),
        (4, Some(4)),
        "{s:?}"
    );
    let uploads: Vec<u64> = log(&n)
        .lines()
        .filter(|l| l.starts_with("HTTP/2.0 POST 200"))
        .filter_map(|l| l.split(' ').nth(3)?.parse().ok())
        .collect();
    assert_eq!(uploads.len(), 4, "{}", log(&n));
    assert!(uploads.iter().all(|b| *b >= 1 << 20), "{uploads:?}");
}

#[test]
fn http1_only_behaviours_are_refused_over_http2() {
    for (proto, behaviour) in [
        ("h2c", "slow_headers"),
        ("h2c", "ws_idle"),
        ("h2", "idle_hoarder"),
        ("h2c", "large_upload"),
    ] {
        let url = if proto == "h2" {
            "https://127.0.0.1:9/"
        } else {
            "http://127.0.0.1:9/"
        };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_proxylab-loadgen"))
            .args([
                url,
                "--protocol",
                proto,
                "--behaviour",
                behaviour,
                "-d",
                "1s",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{proto} {behaviour}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("HTTP/1.1 only"), "{err}");
    }
}
