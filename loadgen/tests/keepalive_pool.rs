//! The open-loop keep-alive pool against real nginx: idle connections the server closed
//! (`keepalive_timeout`) are dropped before reuse, not charged to the next request as errors;
//! live ones are reused.

mod common;

use common::{open, plan, run};
use proxylab_testkit::Nginx;
use std::time::Duration;

/// Runs `p` on one thread and requires at least three requests, every one completed, none
/// failed.
fn run_single_thread_without_errors(mut p: proxylab_loadgen::plan::Plan) {
    p.threads = 1;
    let res = run(&p);
    let s = &res.summary.overall;
    assert!(s.sent >= 3, "{s:?}");
    assert_eq!(s.completed, s.sent, "{s:?}");
    assert!(s.errors.values().all(|v| *v == 0), "{s:?}");
}

#[test]
fn idle_connections_closed_by_the_server_are_not_reused() {
    let Some(n) = Nginx::start(
        "log_format c '$connection $connection_requests';\n\
         server { listen 127.0.0.1:{PORT}; keepalive_timeout 1s; access_log {DIR}/c.log c;\n\
         location / { return 200 \"ok\"; } }",
    ) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", n.port());
    // One request every 2 s: each finds its pooled connection closed by nginx 1 s earlier.
    let p = plan(&url, open(0.5, 7), Duration::from_secs(7));
    run_single_thread_without_errors(p);
    // Ten per second: the same connection serves several requests (the pool still reuses).
    let mut p = plan(&url, open(10.0, 2), Duration::from_secs(2));
    p.threads = 1;
    let res = run(&p);
    let s = &res.summary.overall;
    assert_eq!(s.completed, s.sent, "{s:?}");
    let log = std::fs::read_to_string(n.dir().join("c.log")).expect("log");
    let reused = log
        .lines()
        .filter_map(|l| l.split(' ').nth(1)?.parse::<u32>().ok())
        .filter(|r| *r > 1)
        .count();
    assert!(reused >= 5, "keep-alive connections not reused:\n{log}");
}

#[test]
fn closed_loop_think_time_longer_than_keepalive_timeout_has_no_errors() {
    let Some(n) = Nginx::start(
        "server { listen 127.0.0.1:{PORT}; keepalive_timeout 1s; access_log off;\n\
         location / { return 200 \"ok\"; } }",
    ) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", n.port());
    let p = plan(
        &url,
        proxylab_loadgen::plan::Load::Closed {
            connections: 1,
            think_time: proxylab_loadgen::plan::Dur::secs(2),
        },
        Duration::from_secs(7),
    );
    run_single_thread_without_errors(p);
}
