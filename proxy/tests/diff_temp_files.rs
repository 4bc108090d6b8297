//! Buffered responses that spill to `proxy_temp_path`, judged by real nginx: each proxy runs
//! with `{DIR}/limited` a small tmpfs in its own mount namespace (as the scenario runner's
//! `[proxy] disk_limit` does), and a client that does not read makes the response wait in
//! the proxy's buffers, then in its temp file.
//! - A full temp directory: both log the temp file (warn, the same hashed path under the
//!   levels), then nginx's `[crit]` write failure, and end the response at once: status 200,
//!   the body cut short, the connection closed.
//! - `proxy_max_temp_file_size` caps the file (it only grows): with the cap under the free
//!   space nothing fails, the file stops at the cap while the client waits, and the whole
//!   body arrives.

mod common;

use common::procs::{open_file_sizes, worker_of};
use common::{Ours, conf, wait_until};
use proxylab_testkit::{FakeUpstream, Nginx};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// The tmpfs size under each proxy's `{DIR}/limited`.
const LIMIT: u64 = 256 * 1024;

/// The fake upstream with `/big` answering `bytes` bytes.
fn upstream(bytes: u64) -> (tempfile::TempDir, FakeUpstream) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.toml");
    let routes = format!("[[routes]]\npath = \"/big\"\nbody_bytes = {bytes}\n");
    std::fs::write(&app, routes).expect("write app");
    let fake = FakeUpstream::start(&["--app", app.to_str().expect("utf8")]);
    (dir, fake)
}

/// The http block: 8 × 4k buffers, responses spilling to `{DIR}/limited/proxy` (levels 1:2).
fn http(up: SocketAddr, extra: &str) -> String {
    format!(
        "proxy_buffers 8 4k;\n  proxy_buffer_size 4k;\n  \
         server {{ listen 127.0.0.1:{{PORT}};\n    location / {{\n      proxy_pass http://{up};\n      \
         proxy_temp_path {{DIR}}/limited/proxy 1 2;\n      {extra}\n    }}\n  }}"
    )
}

/// Whether this machine can give a process a tmpfs of its own (root and `unshare`); prints
/// SKIPPED (or fails, when references are required) when it cannot.
fn can_limit() -> bool {
    if proxylab_testkit::require("unshare", "apt-get install -y util-linux").is_none() {
        return false;
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")));
    if !root {
        assert!(
            !proxylab_testkit::references_required(),
            "a tmpfs in a mount namespace needs root, and references are required"
        );
        println!("SKIPPED: a tmpfs in a mount namespace needs root");
    }
    root
}

/// What a client saw: status, whether the whole Content-Length arrived, bytes of body.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    complete: bool,
    body: u64,
}

/// `GET /big` with a 4 KiB receive buffer; reads nothing until `ready()` holds (bounded:
/// 20 s), then everything to the end of the connection.
fn stalled_get(addr: SocketAddr, ready: impl FnMut() -> bool) -> (Seen, bool) {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    sock.connect(&addr.into()).expect("connect");
    let mut s: TcpStream = sock.into();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let was_ready = wait_until(Duration::from_secs(20), ready);
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let length: Option<u64> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let body = (all.len() - end - 4) as u64;
    let seen = Seen {
        status,
        complete: length == Some(body),
        body,
    };
    (seen, was_ready)
}

/// The message of the first `[level]` line containing `key`, from `key` to its `while`,
/// with the prefix written as `{DIR}`.
fn message(log: &str, level: &str, key: &str, dir: &Path) -> Option<String> {
    let line = log
        .lines()
        .find(|l| l.contains(&format!("[{level}]")) && l.contains(key))?;
    let from = &line[line.find(key)?..];
    let text = from.split(" while ").next().unwrap_or(from);
    Some(text.replace(&dir.display().to_string(), "{DIR}"))
}

/// The status the access log recorded (the `t` format's first field) for the last request.
fn logged_status(access: &str) -> Option<String> {
    access
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
}

/// `(nginx, ours)` on the same config, each with its own limited directory.
fn both_limited(http_body: &str) -> Option<(Nginx, Ours)> {
    let c = conf(http_body);
    let nginx = Nginx::start_full_limited(&c, LIMIT)?;
    Some((nginx, Ours::start_full_limited(&c, LIMIT)))
}

#[test]
fn a_full_proxy_temp_path_cuts_the_response_as_nginx_does() {
    if !can_limit() {
        return;
    }
    let (_app, fake) = upstream(32 * 1024 * 1024);
    let Some((nginx, ours)) = both_limited(&http(fake.addr(), "")) else {
        return;
    };
    let mut got = Vec::new();
    for (name, addr, dir) in [
        ("nginx", nginx.addr(), nginx.dir().to_path_buf()),
        ("ours", ours.addr(), ours.dir().to_path_buf()),
    ] {
        let log = || std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        let (seen, crit) = stalled_get(addr, || log().contains("[crit]"));
        let log = log();
        let access = || std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
        wait_until(Duration::from_secs(5), || !access().is_empty());
        let access = access();
        got.push((
            name,
            seen,
            crit,
            message(&log, "warn", "an upstream response is buffered", &dir),
            message(&log, "crit", "pwrite", &dir),
            logged_status(&access),
            log,
        ));
    }
    let (n, o) = (&got[0], &got[1]);
    println!("nginx: {n:?}\nours: {o:?}");
    let path = "{DIR}/limited/proxy/1/00/0000000001";
    let warn = format!("an upstream response is buffered to a temporary file {path}");
    assert_eq!(n.3.as_deref(), Some(warn.as_str()), "nginx: {}", n.6);
    assert!(n.2 && !n.1.complete && n.1.status == 200, "nginx: {n:?}");
    let crit = n.4.clone().unwrap_or_default();
    assert!(
        crit.starts_with(&format!("pwritev() \"{path}\" "))
            || crit.starts_with(&format!("pwrite() \"{path}\" ")),
        "nginx: {crit}"
    );
    assert_eq!(
        (o.1.status, o.1.complete, o.2, &o.3, &o.5),
        (n.1.status, n.1.complete, n.2, &n.3, &n.5),
        "ours vs nginx; ours' error log:\n{}",
        o.6
    );
    assert_eq!(o.4, n.4, "the crit lines; ours' error log:\n{}", o.6);
}

#[test]
fn proxy_max_temp_file_size_caps_the_file_and_the_whole_body_arrives_as_with_nginx() {
    if !can_limit() {
        return;
    }
    // More than the kernel takes: a send buffer the proxy cannot fill would hide the file.
    let bytes = 16 * 1024 * 1024;
    let (_app, fake) = upstream(bytes);
    let cap = 64 * 1024;
    let Some((nginx, ours)) = both_limited(&http(fake.addr(), "proxy_max_temp_file_size 64k;"))
    else {
        return;
    };
    let mut got = Vec::new();
    for (name, pid, dir) in [
        ("nginx", worker_of(nginx.proc().pid()), nginx.dir()),
        ("ours", ours.proc.pid(), ours.dir()),
    ] {
        let addr = if name == "nginx" {
            nginx.addr()
        } else {
            ours.addr()
        };
        // The file grows to near the cap (nginx writes whole 8k pieces: at least cap - 8k),
        // then holds while the client reads nothing.
        let mut largest = 0;
        let (seen, filled) = stalled_get(addr, || {
            largest = open_file_sizes(pid, "limited/proxy")
                .into_iter()
                .max()
                .unwrap_or(0);
            largest >= cap - 8192
        });
        let later = open_file_sizes(pid, "limited/proxy").into_iter().max();
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        got.push((
            name,
            seen,
            filled,
            largest.max(later.unwrap_or(0)) <= cap,
            message(&log, "warn", "an upstream response is buffered", dir).is_some(),
            log.contains("[crit]"),
            log,
        ));
    }
    let (n, o) = (&got[0], &got[1]);
    assert_eq!(n.1.body, bytes, "nginx: {n:?}");
    assert!(n.1.complete && n.2 && n.3 && n.4 && !n.5, "nginx: {n:?}");
    assert_eq!(
        (&o.1, o.2, o.3, o.4, o.5),
        (&n.1, n.2, n.3, n.4, n.5),
        "ours vs nginx; ours' error log:\n{}",
        o.6
    );
}
