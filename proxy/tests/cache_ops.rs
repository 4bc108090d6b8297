//! proxy_cache operations on our proxy: the `proxylab_cache_status` counters page (counts by
//! `$upstream_cache_status`, stored files, keys), the cache kept across a SIGHUP reload, and
//! a chunked response too large to hold relayed unstored.

mod cache_support;
mod common;

use cache_support::{Origin, status};
use common::{Embedded, conf, get, request};

fn http(origin: &Origin) -> String {
    format!(
        "proxy_cache_path {{DIR}}/cache levels=1:2 keys_zone=pages:1m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           add_header X-Cache-Status $upstream_cache_status always;\n\
           location / {{ proxy_cache pages; proxy_cache_valid 200 10m;\n\
             proxy_cache_bypass $arg_fresh; proxy_pass http://{}; }}\n\
           location = /cache_status {{ proxylab_cache_status; }} }}",
        origin.addr
    )
}

#[test]
fn cache_status_page_counts_answers_by_cache_status() {
    let origin = Origin::start();
    let ours = Embedded::start_full(&conf(&http(&origin)));
    let a = ours.addr();
    assert_eq!(status(a, "/p"), "MISS /p #1");
    assert_eq!(status(a, "/p"), "HIT /p #1");
    assert_eq!(status(a, "/p"), "HIT /p #1");
    assert_eq!(status(a, "/q"), "MISS /q #1");
    assert_eq!(status(a, "/p?fresh=1"), "BYPASS /p?fresh=1 #1");
    let page = request(a, "GET", "/cache_status", "", b"");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/plain"));
    let text = String::from_utf8_lossy(&page.body).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with("Cache zone pages: keys 3 size ") && lines[0].ends_with(" max_size 0"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "MISS BYPASS EXPIRED STALE UPDATING REVALIDATED HIT"
    );
    assert_eq!(lines[2], " 2 1 0 0 0 0 2");
    assert_eq!(lines[3], "stored evicted refused");
    assert_eq!(lines[4], " 3 0 0");
    let size: u64 = lines[0]
        .split(" size ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("size");
    assert!(
        size > 3 * 300,
        "three files of a 336-byte header and more: {size}"
    );
}

/// The counters page as (keys, size, evicted).
fn counters(addr: std::net::SocketAddr) -> (u64, u64, u64) {
    let text = String::from_utf8_lossy(&get(addr, "/cache_status").body).into_owned();
    let first = text.lines().next().unwrap_or_default().to_string();
    let field = |name: &str| -> u64 {
        first
            .split(&format!(" {name} "))
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let evicted = text
        .lines()
        .nth(4)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (field("keys"), field("size"), evicted)
}

fn with_path(origin: &Origin, params: &str) -> String {
    http(origin).replace("keys_zone=pages:1m;", &format!("{params};"))
}

#[test]
fn max_size_is_kept_by_the_manager_least_recently_used_first() {
    let origin = Origin::start();
    let ours = Embedded::start_full(&conf(&with_path(
        &origin,
        "keys_zone=pages:1m max_size=2k manager_sleep=10ms",
    )));
    let a = ours.addr();
    for i in 0..10 {
        assert_eq!(status(a, &format!("/m{i}")), format!("MISS /m{i} #1"));
    }
    let settled = common::wait_until(std::time::Duration::from_secs(10), || {
        let (_, size, evicted) = counters(a);
        size <= 2048 && evicted > 0
    });
    let (keys, size, evicted) = counters(a);
    assert!(settled, "keys {keys} size {size} evicted {evicted}");
    assert!(keys < 10 && evicted >= 10 - keys, "{keys} {evicted}");
    assert_eq!(status(a, "/m9"), "HIT /m9 #1", "the newest entry is kept");
    assert_eq!(status(a, "/m0"), "MISS /m0 #2", "the oldest was evicted");
}

#[test]
fn a_full_keys_zone_evicts_the_oldest_keys_down_to_seven_eighths() {
    let origin = Origin::start();
    // 16 KiB: 63 keys in nginx's slab layout (`cache::zone::capacity_of`)
    let ours = Embedded::start_full(&conf(&with_path(
        &origin,
        "keys_zone=pages:16k manager_sleep=10ms",
    )));
    let a = ours.addr();
    for i in 0..80 {
        assert_eq!(status(a, &format!("/k{i}")), format!("MISS /k{i} #1"));
        assert!(counters(a).0 <= 63, "the zone never holds more than it can");
    }
    // the zone filled at 63 keys: the manager keeps it at 63 - 63/8 = 56
    let settled = common::wait_until(std::time::Duration::from_secs(10), || counters(a).0 <= 56);
    let (keys, _, evicted) = counters(a);
    assert!(settled && keys >= 50, "keys {keys}");
    assert!(evicted >= 80 - 56, "evicted {evicted}");
    assert_eq!(status(a, "/k79"), "HIT /k79 #1");
    assert_eq!(status(a, "/k0"), "MISS /k0 #2");
}

#[test]
fn sighup_reload_keeps_the_cache() {
    use common::Ours;
    let origin = Origin::start();
    let ours = Ours::start_full(&conf(&http(&origin)));
    let a = ours.addr();
    assert_eq!(status(a, "/r"), "MISS /r #1");
    assert_eq!(status(a, "/r"), "HIT /r #1");
    let text = std::fs::read_to_string(&ours.conf_path)
        .expect("conf")
        .replace("always;", "always; add_header X-Gen two;");
    std::fs::write(&ours.conf_path, text).expect("write conf");
    ours.proc.signal(libc::SIGHUP);
    let reloaded = common::wait_until(std::time::Duration::from_secs(20), || {
        get(a, "/cache_status").header("x-gen") == Some("two")
    });
    assert!(reloaded, "reload did not take effect");
    assert_eq!(
        status(a, "/r"),
        "HIT /r #1",
        "the entry survives the reload"
    );
    assert_eq!(origin.count("/r"), 1);
    // the counters of the kept zone go on
    let page = String::from_utf8_lossy(&get(a, "/cache_status").body).into_owned();
    assert_eq!(page.lines().nth(2), Some(" 1 0 0 0 0 0 2"), "{page}");
}

/// An origin answering every request with a chunked body of `total` bytes (`x`), in 1 MiB
/// chunks; counts requests. Stops when dropped.
struct BigChunked {
    addr: std::net::SocketAddr,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for BigChunked {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn big_chunked(total: usize) -> BigChunked {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let addr = l.local_addr().expect("addr");
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (c, st) = (count.clone(), stop.clone());
    // Bounded by the owner: stops when dropped (checked every 5 ms).
    std::thread::spawn(move || {
        while !st.load(Ordering::Relaxed) {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            c.fetch_add(1, Ordering::Relaxed);
            std::thread::spawn(move || {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut b = [0u8; 4096];
                let _ = s.read(&mut b);
                let head =
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 1 << 20];
                let mut left = total;
                while left > 0 {
                    let n = left.min(chunk.len());
                    let mut piece = format!("{n:x}\r\n").into_bytes();
                    piece.extend_from_slice(&chunk[..n]);
                    piece.extend_from_slice(b"\r\n");
                    if s.write_all(&piece).is_err() {
                        return;
                    }
                    left -= n;
                }
                let _ = s.write_all(b"0\r\n\r\n");
            });
        }
    });
    BigChunked { addr, count, stop }
}

/// A cacheable response without Content-Length that outgrows the 64 MiB the proxy holds in
/// memory is relayed whole as it comes and not stored (nginx would store it: docs/cache.md).
#[test]
fn a_chunked_response_over_64_mib_is_relayed_whole_and_not_stored() {
    let total = (64 << 20) + 12345;
    let origin = big_chunked(total);
    let http = format!(
        "proxy_cache_path {{DIR}}/cache keys_zone=big:1m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           add_header X-Cache-Status $upstream_cache_status always;\n\
           location / {{ proxy_cache big; proxy_cache_valid 200 10m; proxy_pass http://{}; }} }}",
        origin.addr
    );
    let ours = Embedded::start_full(&conf(&http));
    for _ in 0..2 {
        let r = get(ours.addr(), "/big");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-cache-status"), Some("MISS"));
        assert_eq!(r.body.len(), total, "the whole body");
        assert!(r.body.iter().all(|b| *b == b'x'));
    }
    assert_eq!(origin.count.load(std::sync::atomic::Ordering::Relaxed), 2);
}
