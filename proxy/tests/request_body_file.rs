//! Request bodies larger than `client_body_buffer_size` go through a temporary file under
//! `client_body_temp_path`, in our proxy as in nginx: a 1 MiB upload (Content-Length and
//! chunked) reaches the fake upstream byte-exact (its `/echo` checksum equals the one the
//! fake computes for the same body sent to it directly), both log the same warn line, the
//! file is open (already unlinked) while a slow upload is buffered, no upstream connection is
//! made during that time, memory does not grow by the body, and the directory is empty after.

mod common;

use common::servers::{Behaviour, TestServer};
use common::{both, parse, request, wait_until};
use proxylab_testkit::FakeUpstream;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Deterministic, non-repeating-looking bytes.
fn body(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn chunked_request(path: &str, b: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for c in b.chunks(10_000) {
        r.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        r.extend_from_slice(c);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// Regular files below `dir` (recursively).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut guard = 0;
    while let Some(d) = stack.pop() {
        guard += 1;
        if guard > 1000 {
            break;
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Open descriptors of `pid` that point below `dir` (as `readlink` shows them).
fn fds_under(pid: u32, dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .filter(|p| p.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// The largest size of the files open under `dir` (a deleted file still has its size).
fn temp_size(pids: &[u32], dir: &Path) -> u64 {
    let prefix = dir.display().to_string();
    let mut max = 0;
    for pid in pids {
        let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for e in rd.flatten() {
            let points_here = std::fs::read_link(e.path())
                .is_ok_and(|p| p.display().to_string().starts_with(&prefix));
            if points_here && let Ok(m) = std::fs::metadata(e.path()) {
                max = max.max(m.len());
            }
        }
    }
    max
}

/// `pid` and its direct children (nginx's workers).
fn family(pid: u32) -> Vec<u32> {
    let mut v = vec![pid];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if ppid == Some(pid) {
                v.push(child);
            }
        }
    }
    v
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn buffered_line(log: &str, dir: &Path) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.find("a client request body is buffered").map(|i| &l[i..]))
        .map(|l| l.replace(&dir.display().to_string(), "DIR"))
        .collect()
}

#[test]
fn large_bodies_go_through_a_temp_file_byte_exact_like_nginx() {
    let fake = FakeUpstream::start(&[]);
    let http = format!(
        "client_max_body_size 8m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_pass http://{}; }}\n\
           location /levels/ {{ client_body_temp_path {{DIR}}/levels 1 2; proxy_pass http://{}/; }}\n\
           location /small/ {{ client_body_buffer_size 2m; proxy_pass http://{}/; }} }}",
        fake.addr(),
        fake.addr(),
        fake.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let data = body(1 << 20);
    let direct = request(fake.addr(), "POST", "/echo", "", &data);
    assert_eq!(direct.status, 200, "{direct:?}");
    let want = String::from_utf8_lossy(&direct.body).into_owned();
    assert!(want.contains("\"length\":1048576"), "{want}");
    for (name, addr, dir) in [
        ("nginx", nginx.addr(), nginx.dir().to_path_buf()),
        ("ours", ours.addr(), ours.dir().to_path_buf()),
    ] {
        let r = request(addr, "POST", "/echo", "", &data);
        assert_eq!(r.status, 200, "{name}: {r:?}");
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            want,
            "{name}: content-length"
        );
        let out = common::raw(
            addr,
            &chunked_request("/echo", &data),
            Duration::from_secs(20),
        );
        let r = parse(&out).map(|(r, _)| r);
        assert_eq!(
            r.as_ref()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned()),
            Some(want.clone()),
            "{name}: chunked"
        );
        let r = request(addr, "POST", "/levels/echo", "", &data);
        assert_eq!(String::from_utf8_lossy(&r.body), want, "{name}: levels");
        // Under client_body_buffer_size: memory, no temp file.
        let r = request(addr, "POST", "/small/echo", "", &data);
        assert_eq!(String::from_utf8_lossy(&r.body), want, "{name}: in memory");
        let under = files_under(&dir.join("client_body"));
        assert!(under.is_empty(), "{name}: temp files left: {under:?}");
        assert!(files_under(&dir.join("levels")).is_empty(), "{name}");
    }
    let read_n = |n: &dyn Fn() -> String, dir: &Path| {
        wait_until(Duration::from_secs(5), || {
            buffered_line(&n(), dir).len() >= 3
        });
        buffered_line(&n(), dir)
    };
    let theirs = read_n(&|| nginx.error_log(), nginx.dir());
    let mine = read_n(&|| ours.error_log(), ours.dir());
    assert_eq!(mine, theirs, "error log lines");
    assert_eq!(theirs.len(), 3, "{theirs:?}");
    assert!(
        theirs[0].starts_with("a client request body is buffered to a temporary file DIR/client_body/0000000001, client: 127.0.0.1, server: , request: \"POST /echo HTTP/1.1\""),
        "{theirs:?}"
    );
    assert!(
        theirs[2].contains("DIR/levels/3/00/0000000003"),
        "{theirs:?}"
    );
}

/// Sends the head and `first` bytes of a `total`-byte body; returns the socket.
fn start_upload(addr: SocketAddr, total: usize, first: &[u8]) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "POST /up HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: {total}\r\n\r\n"
    )
    .expect("head");
    s.write_all(first).expect("first part");
    s
}

#[test]
fn slow_upload_is_held_in_an_unlinked_temp_file_not_upstream() {
    let echo = TestServer::start(Behaviour::EchoHead);
    let http = format!(
        "client_max_body_size 64m;\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ proxy_pass http://{}; }} }}",
        echo.addr
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let total = 16 << 20;
    let data = body(total);
    let half = total - 4096;
    for (name, addr, dir, pid) in [
        ("nginx", nginx.addr(), nginx.dir(), nginx.proc().pid()),
        ("ours", ours.addr(), ours.dir(), ours.proc.pid()),
    ] {
        let before = echo.accepted.load(Ordering::Relaxed);
        let pids = family(pid);
        let rss_before: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
        let mut s = start_upload(addr, total, &data[..half]);
        let tmp = dir.join("client_body");
        let mut seen = Vec::new();
        let held = wait_until(Duration::from_secs(10), || {
            seen = pids.iter().flat_map(|p| fds_under(*p, &tmp)).collect();
            !seen.is_empty()
        });
        assert!(held, "{name}: no open temp file under {}", tmp.display());
        assert!(
            seen.iter().all(|p| p.ends_with(" (deleted)")),
            "{name}: the temp file is unlinked at once: {seen:?}"
        );
        assert!(
            files_under(&tmp).is_empty(),
            "{name}: {:?}",
            files_under(&tmp)
        );
        // All but 4 KiB of the body was sent: wait until the proxy wrote it to the file.
        let written = wait_until(Duration::from_secs(10), || {
            temp_size(&pids, &tmp) + 64 * 1024 >= half as u64
        });
        assert!(
            written,
            "{name}: temp file at {} bytes",
            temp_size(&pids, &tmp)
        );
        let rss_during: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
        assert!(
            rss_during < rss_before + (total as u64 / 1024) / 2,
            "{name}: RSS grew from {rss_before} KiB to {rss_during} KiB for a {} KiB body",
            total / 1024
        );
        assert_eq!(
            echo.accepted.load(Ordering::Relaxed),
            before,
            "{name}: upstream contacted before the body was complete"
        );
        s.write_all(&data[half..]).expect("rest");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let r = parse(&out).map(|(r, _)| r);
        let head = r.map(|r| String::from_utf8_lossy(&r.body).into_owned());
        assert!(
            head.as_deref()
                .is_some_and(|h| h.contains(&format!("Content-Length: {total}"))),
            "{name}: {head:?}"
        );
        assert!(
            wait_until(Duration::from_secs(5), || pids
                .iter()
                .all(|p| fds_under(*p, &tmp).is_empty())),
            "{name}: temp file still open after the request"
        );
    }
}

#[test]
fn client_gone_mid_upload_leaves_nothing_behind() {
    let echo = TestServer::start(Behaviour::EchoHead);
    let http = format!(
        "client_max_body_size 64m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_pass http://{}; }}\n\
           location /keep/ {{ client_body_in_file_only clean; proxy_pass http://{}; }} }}",
        echo.addr, echo.addr
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let data = body(1 << 20);
    for (name, addr, dir, pid) in [
        ("nginx", nginx.addr(), nginx.dir(), nginx.proc().pid()),
        ("ours", ours.addr(), ours.dir(), ours.proc.pid()),
    ] {
        let pids = family(pid);
        let tmp = dir.join("client_body");
        let s = start_upload(addr, 2 << 20, &data);
        assert!(
            wait_until(Duration::from_secs(10), || pids
                .iter()
                .any(|p| !fds_under(*p, &tmp).is_empty())),
            "{name}: no temp file"
        );
        drop(s);
        assert!(
            wait_until(Duration::from_secs(10), || pids
                .iter()
                .all(|p| fds_under(*p, &tmp).is_empty())),
            "{name}: temp file still open after the client left"
        );
        assert!(files_under(&tmp).is_empty(), "{name}");
        // client_body_in_file_only clean: a named file during the request, removed after.
        let r = request(addr, "POST", "/keep/x", "", b"tiny");
        assert_eq!(r.status, 200, "{name}: {r:?}");
        assert!(
            wait_until(Duration::from_secs(5), || files_under(&tmp).is_empty()),
            "{name}: clean file left: {:?}",
            files_under(&tmp)
        );
    }
    let notice = |log: String| {
        log.contains("[notice]")
            && log.contains("a client request body is buffered to a temporary file")
    };
    assert!(
        notice(nginx.error_log()),
        "nginx logs in_file_only at notice"
    );
    assert!(notice(ours.error_log()), "ours: {}", ours.error_log());
}
