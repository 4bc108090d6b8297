//! Two upstream failures judged by real nginx (our proxy once answered both differently):
//! - a large POST the upstream answers before reading its body (the real fake upstream
//!   answers, closes, and its kernel resets the unread input): nginx reads the response while
//!   it is still sending, stops sending once the response started, and passes the upstream's
//!   200 on; a proxy that waits for its last write sees `writev() failed (104: Connection reset
//!   by peer)` and answers 502;
//! - the proxy out of file descriptors when it opens the upstream connection: `socket()` fails
//!   with EMFILE, nginx logs `[alert] socket() failed (24: Too many open files) while
//!   connecting to upstream` and answers 500 (not 502: no peer was tried).

mod common;

use common::procs::{open_fds, worker_of};
use common::{both, request};
use proxylab_testkit::FakeUpstream;
use std::time::{Duration, Instant};

/// The upstream answers `POST /upload` after 300 ms without reading the body (the fake reads
/// 64 KiB ahead, no more), then closes with the rest unread (its kernel resets). By then both
/// proxies wait with full socket buffers, so the answer is read before the reset is seen:
/// nginx passes it on every time. (An upstream that answers the instant the head arrives
/// makes a race of it: nginx itself then mostly fails its next writev() with EPIPE and
/// answers 502, 7 of 8 tries on this machine, so that case is not compared.)
#[test]
fn a_large_post_answered_early_by_the_upstream_gets_its_answer_as_with_nginx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.toml");
    std::fs::write(
        &app,
        "[[routes]]\nmethod = \"POST\"\npath = \"/upload\"\nlatency = { dist = \"fixed\", ms = 300 }\nbody = \"answered early\"\n",
    )
    .expect("write app");
    let fake = FakeUpstream::start(&["--app", app.to_str().expect("utf8")]);
    let http = format!(
        "client_max_body_size 10m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_pass http://{}; }} }}",
        fake.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    // The article's /api/ limit (10M) less 1 KiB: buffered whole by both proxies (temp file).
    let data = vec![b'x'; 10 * 1024 * 1024 - 1024];
    let mut seen = Vec::new();
    for (name, addr) in [("nginx", nginx.addr()), ("ours", ours.addr())] {
        for _ in 0..3 {
            let r = request(addr, "POST", "/upload", "", &data);
            seen.push((
                name,
                r.status,
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
    }
    let want = ("nginx", 200, "answered early".to_string());
    assert!(seen[..3].iter().all(|s| *s == want), "nginx: {seen:?}");
    let ours_want = ("ours", 200, "answered early".to_string());
    assert!(
        seen[3..].iter().all(|s| *s == ours_want),
        "{seen:?}; ours' error log:\n{}",
        ours.error_log()
    );
}

/// Lowers `pid`'s RLIMIT_NOFILE (soft) so that exactly one descriptor number is free below
/// it, once its descriptors stopped changing (the warm-up connection closed): the next
/// `accept()` takes that number and the upstream `socket()` after it fails with EMFILE.
fn leave_one_descriptor(pid: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut fds = open_fds(pid);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = open_fds(pid);
        if now == fds || Instant::now() > deadline {
            break;
        }
        fds = now;
    }
    // The smallest limit with one free number below it: that number is `limit - 1`.
    let mut limit = 0u64;
    while limit - fds.iter().filter(|&&f| u64::from(f) < limit).count() as u64 != 1 {
        limit += 1;
    }
    let out = std::process::Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:"))
        .output()
        .expect("prlimit");
    assert!(out.status.success(), "prlimit: {out:?}");
    fds
}

#[test]
fn out_of_descriptors_at_the_upstream_socket_is_500_and_an_alert_as_with_nginx() {
    let fake = FakeUpstream::start(&[]);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_pass http://{}; }} }}",
        fake.addr()
    );
    if proxylab_testkit::require("prlimit", "apt-get install -y util-linux").is_none() {
        return;
    }
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let line = "socket() failed (24: Too many open files) while connecting to upstream";
    let mut seen = Vec::new();
    for (name, pid, addr) in [
        ("nginx", worker_of(nginx.proc().pid()), nginx.addr()),
        ("ours", ours.proc.pid(), ours.addr()),
    ] {
        let warm = request(addr, "GET", "/", "", b"");
        assert_eq!(warm.status, 200, "{name} warm-up: {warm:?}");
        let fds = leave_one_descriptor(pid);
        let r = request(addr, "GET", "/", "", b"");
        let log = if name == "nginx" {
            nginx.error_log()
        } else {
            ours.error_log()
        };
        let alert = log
            .lines()
            .find(|l| l.contains(line))
            .map(|l| l.contains("[alert]"));
        seen.push((name, r.status, alert, fds.len()));
    }
    assert_eq!(seen[0].1, 500, "nginx: {seen:?}\n{}", nginx.error_log());
    assert_eq!(
        seen[0].2,
        Some(true),
        "nginx: {seen:?}\n{}",
        nginx.error_log()
    );
    assert_eq!(
        (seen[1].1, seen[1].2),
        (seen[0].1, seen[0].2),
        "ours vs nginx {seen:?}; ours' error log:\n{}",
        ours.error_log()
    );
}
