//! Each slow-client behaviour does what it says on the wire, checked on the server side
//! (real nginx's access log, stub_status and timeouts).

mod common;
use common::*;
use proxylab_loadgen::plan::{Behaviour, Dur};
use proxylab_testkit::Nginx;
use std::time::{Duration, Instant};

const LOG: &str = "log_format t '$status $request_length $body_bytes_sent $request_time';\n";

fn nginx(server_body: &str) -> Option<Nginx> {
    Nginx::start(&format!(
        "{LOG}server {{ listen 127.0.0.1:{{PORT}} sndbuf=4096; access_log {{DIR}}/t.log t; {server_body} }}\n\
         server {{ listen 127.0.0.1:{{PORT2}}; access_log off; client_max_body_size 100m; location / {{ return 200 'ok'; }} }}"
    ))
}

fn log(n: &Nginx) -> String {
    std::fs::read_to_string(n.dir().join("t.log")).unwrap_or_default()
}

fn url(n: &Nginx) -> String {
    format!("http://127.0.0.1:{}", n.port())
}

#[test]
fn slowloris_is_cut_by_client_header_timeout_and_nginx_logs_408() {
    let Some(n) = nginx("client_header_timeout 1s; location / { return 200 'ok'; }") else {
        return;
    };
    let b = Behaviour::SlowHeaders {
        interval: Dur::secs(3),
        max_hold: Dur::secs(20),
    };
    let res = run(&with(
        plan(&url(&n), closed(3), Duration::from_secs(3)),
        b,
        "/",
        false,
    ));
    let d = &res.summary.details["p"];
    // Each session: request line, then silence past nginx's 1 s timeout: nginx closes it.
    let by_server = d.outcomes.get("closed_by_server").copied().unwrap_or(0)
        + d.outcomes.get("status_408").copied().unwrap_or(0);
    assert!(by_server >= 3, "{:?}", d.outcomes);
    assert!(
        d.held_us.p50 > 800_000 && d.held_us.p50 < 1_600_000,
        "held {:?}",
        d.held_us
    );
    // nginx logged a 408 for each of them (and perhaps for sessions cut at the run's end).
    let logged = count_lines(&log(&n), "408 ") as u64;
    let sent = res.summary.populations["p"].sent;
    assert!(
        logged >= by_server && logged <= sent,
        "logged {logged}, by server {by_server}, sent {sent}"
    );
}

#[test]
fn slowloris_header_timeout_is_total_and_a_patient_server_holds_it() {
    // nginx's client_header_timeout covers the whole header: a 300 ms drip is still cut at 1 s.
    let Some(n) = nginx("client_header_timeout 1s; location / { return 200 'ok'; }") else {
        return;
    };
    let b = Behaviour::SlowHeaders {
        interval: Dur::millis(300),
        max_hold: Dur::secs(20),
    };
    let res = run(&with(
        plan(&url(&n), closed(2), Duration::from_secs(2)),
        b,
        "/",
        false,
    ));
    let d = &res.summary.details["p"];
    assert!(
        d.outcomes.get("closed_by_server").copied().unwrap_or(0) >= 2,
        "{:?}",
        d.outcomes
    );
    assert!(
        d.held_us.p50 > 800_000 && d.held_us.p50 < 1_600_000,
        "{:?}",
        d.held_us
    );
    // With a 10 s timeout the server keeps it, and our client gives up at max_hold.
    let Some(n) = nginx("client_header_timeout 10s; location / { return 200 'ok'; }") else {
        return;
    };
    let b = Behaviour::SlowHeaders {
        interval: Dur::millis(300),
        max_hold: Dur::millis(1500),
    };
    let res = run(&with(
        plan(&url(&n), closed(2), Duration::from_secs(2)),
        b,
        "/",
        false,
    ));
    let d = &res.summary.details["p"];
    assert!(
        d.outcomes.get("held_to_end").copied().unwrap_or(0) >= 2,
        "{:?}",
        d.outcomes
    );
    assert_eq!(d.outcomes.get("closed_by_server"), None, "{:?}", d.outcomes);
    assert!(d.held_us.max >= 1_400_000, "{:?}", d.held_us);
}

#[test]
fn slow_body_is_cut_by_client_body_timeout() {
    let Some(n) =
        nginx("client_body_timeout 1s; location / { proxy_pass http://127.0.0.1:{PORT2}; }")
    else {
        return;
    };
    let b = Behaviour::SlowBody {
        declared_bytes: 1000,
        chunk_bytes: 10,
        interval: Dur::secs(3),
        max_hold: Dur::secs(20),
    };
    let mut p = with(
        plan(&url(&n), closed(2), Duration::from_secs(3)),
        b,
        "/up",
        false,
    );
    p.populations[0].requests[0].method = "POST".into();
    let res = run(&p);
    let d = &res.summary.details["p"];
    let ended_by_server: u64 = d
        .outcomes
        .iter()
        .filter(|(k, _)| *k != "cut_at_run_end")
        .map(|(_, v)| v)
        .sum();
    assert!(ended_by_server >= 2, "{:?}", d.outcomes);
    assert!(
        d.held_us.p50 > 800_000 && d.held_us.p50 < 2_500_000,
        "{:?}",
        d.held_us
    );
    assert!(count_lines(&log(&n), "408 ") >= 2, "{}", log(&n));
}

#[test]
fn slow_reader_reads_at_its_rate_and_nginx_send_timeout_cuts_it() {
    let Some(n) = nginx("send_timeout 1s; location / { root {DIR}/www; }") else {
        return;
    };
    let www = n.dir().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("big"), vec![b'x'; 4 << 20]).unwrap();
    let b = Behaviour::SlowReader {
        bytes_per_sec: 2048,
        recv_buffer: 4096,
        max_hold: Dur::secs(30),
    };
    let res = run(&with(
        plan(&url(&n), closed(1), Duration::from_secs(6)),
        b,
        "/big",
        false,
    ));
    let d = &res.summary.details["p"];
    // 4 MiB at 2 KiB/s cannot finish: nginx gives up (send_timeout) and closes mid-body.
    assert!(
        d.outcomes.get("truncated").copied().unwrap_or(0) >= 1,
        "{:?}",
        d.outcomes
    );
    let l = log(&n);
    let sent: Vec<u64> = l
        .lines()
        .filter_map(|x| x.split(' ').nth(2)?.parse().ok())
        .collect();
    assert!(!sent.is_empty() && sent.iter().all(|&b| b < 4 << 20), "{l}");
}

#[test]
fn idle_hoarders_hold_connections_until_nginx_closes_them() {
    let Some(n) = Nginx::start(
        "server { listen 127.0.0.1:{PORT}; client_header_timeout 2s; location / { return 200; } }\n\
         server { listen 127.0.0.1:{PORT2}; location / { stub_status; } }",
    ) else {
        return;
    };
    let p = with(
        plan(&url(&n), closed(20), Duration::from_secs(3)),
        Behaviour::IdleHoarder {
            hold: Dur::secs(10),
        },
        "/",
        false,
    );
    let port2 = n.ports()[1];
    let watcher = std::thread::spawn(move || {
        // Wait (bounded) until nginx reports our 20 connections, or give up after 2.5 s.
        let until = Instant::now() + Duration::from_millis(2500);
        let mut best = 0;
        while Instant::now() < until {
            let body = proxylab_testkit::raw_exchange(
                ([127, 0, 0, 1], port2).into(),
                b"GET / HTTP/1.0\r\n\r\n",
                Duration::from_secs(2),
            )
            .unwrap_or_default();
            let text = String::from_utf8_lossy(&body).to_string();
            if let Some(n) = text
                .split("Active connections:")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
            {
                best = best.max(n);
                if best > 20 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        best
    });
    let res = run(&p);
    let active = watcher.join().unwrap();
    assert!(active > 20, "nginx saw {active} active connections");
    let d = &res.summary.details["p"];
    assert!(
        d.outcomes.get("closed_by_server").copied().unwrap_or(0) >= 20,
        "{:?}",
        d.outcomes
    );
    // nginx closes idle connections after client_header_timeout (2 s).
    assert!(
        d.held_us.max > 1_800_000 && d.held_us.max < 3_000_000,
        "{:?}",
        d.held_us
    );
}

#[test]
fn large_upload_arrives_whole() {
    let Some(n) =
        nginx("client_max_body_size 100m; location / { proxy_pass http://127.0.0.1:{PORT2}; }")
    else {
        return;
    };
    let bytes = 3_000_000u64;
    let mut p = with(
        plan(&url(&n), closed(1), Duration::from_secs(30)),
        Behaviour::LargeUpload { bytes },
        "/upload",
        false,
    );
    p.populations[0].requests[0].method = "PUT".into();
    p.populations[0].max_requests = Some(3);
    let res = run(&p);
    let s = &res.summary.populations["p"];
    assert_eq!(
        (s.sent, s.completed, s.status.get("200").copied()),
        (3, 3, Some(3)),
        "{s:?}"
    );
    let lens: Vec<u64> = log(&n)
        .lines()
        .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
        .collect();
    assert_eq!(lens.len(), 3);
    assert!(
        lens.iter().all(|&l| l > bytes && l < bytes + 1000),
        "{lens:?}"
    );
}

#[test]
fn reconnect_storm_opens_a_connection_per_session() {
    let Some(n) = nginx("location / { return 200 'ok'; }") else {
        return;
    };
    let b = Behaviour::ReconnectStorm {
        hold: Dur::millis(20),
        backoff: Dur::default(),
        websocket: false,
    };
    let res = run(&with(
        plan(&url(&n), closed(4), Duration::from_secs(2)),
        b,
        "/",
        false,
    ));
    let s = &res.summary.populations["p"];
    let d = &res.summary.details["p"];
    assert!(s.completed > 20, "{s:?}");
    assert_eq!(d.connections_opened, s.sent);
    assert_eq!(count_lines(&log(&n), "200 ") as u64, s.completed);
}
