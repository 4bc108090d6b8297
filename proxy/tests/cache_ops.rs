//! proxy_cache operations on our proxy: the `proxylab_cache_status` counters page (counts by
//! `$upstream_cache_status`, stored files, keys), and the cache kept across a SIGHUP reload.

mod cache_support;
mod common;

use cache_support::Origin;
use common::{Embedded, conf, get, request};

/// `CACHE-STATUS BODY`.
fn status(addr: std::net::SocketAddr, path: &str) -> String {
    let r = get(addr, path);
    format!(
        "{} {}",
        r.header("x-cache-status").unwrap_or("-"),
        String::from_utf8_lossy(&r.body)
    )
}

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
