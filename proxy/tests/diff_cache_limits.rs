//! Limits of proxy_cache, real nginx as the judge. How many keys a `keys_zone` holds: the
//! zone's size gives nginx's slab allocator so many 128-byte slots
//! (`cache::zone::capacity_of`); one key more and the least recently used key is dropped
//! (nginx's forced expire). `proxy_cache_max_range_offset`: a range starting beyond it goes
//! upstream as it is and is not stored. The same request sequences through both proxies give
//! the same answers line for line.

mod cache_support;
mod common;

use cache_support::Origin;
use common::{Ours, conf, request};
use proxylab_proxy::cache::zone::capacity_of;
use proxylab_testkit::Nginx;
use std::net::SocketAddr;

const HTTP: &str = "proxy_cache_path {DIR}/cache keys_zone=z:SIZE;\n\
  server { listen 127.0.0.1:{PORT};\n\
    add_header X-Cache-Status $upstream_cache_status always;\n\
    location / { proxy_cache z; proxy_cache_valid 200 10m; proxy_pass http://ORIGIN; }\n\
  }";

/// `PATH STATUS` for each GET of `paths`, in order.
fn statuses(addr: SocketAddr, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            let r = request(addr, "GET", p, "", b"");
            format!("{p} {}", r.header("x-cache-status").unwrap_or("-"))
        })
        .collect()
}

#[test]
fn a_keys_zone_holds_as_many_keys_as_nginxs() {
    for (size, keys) in [("16k", 63), ("32k", 191)] {
        assert_eq!(
            capacity_of(if size == "16k" { 16384 } else { 32768 }, "z"),
            keys
        );
        let http = HTTP.replace("SIZE", size);
        let (on, oo) = (Origin::start(), Origin::start());
        let Some(nginx) = Nginx::start_full(&conf(&http.replace("ORIGIN", &on.addr.to_string())))
        else {
            return;
        };
        let ours = Ours::start_full(&conf(&http.replace("ORIGIN", &oo.addr.to_string())));
        // fill the zone, use the first key again, then one key more: the least recently used
        // key (k1) goes, k0 stays
        let mut paths: Vec<String> = (0..keys).map(|i| format!("/k{i}")).collect();
        for p in [
            "/k0".to_string(),
            format!("/k{keys}"),
            "/k1".into(),
            "/k0".into(),
        ] {
            paths.push(p);
        }
        let n = statuses(nginx.addr(), &paths);
        let o = statuses(ours.addr(), &paths);
        let want = [
            "/k0 HIT".to_string(),
            format!("/k{keys} MISS"),
            "/k1 MISS".into(),
            "/k0 HIT".into(),
        ];
        assert_eq!(&n[keys..], &want[..], "nginx with keys_zone={size}");
        let differ: Vec<String> = n
            .iter()
            .zip(&o)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("nginx {a}, ours {b}"))
            .collect();
        assert!(
            differ.is_empty(),
            "keys_zone={size}:\n{}",
            differ.join("\n")
        );
    }
}

/// Status, cache status and body of a GET of `path` with `range` (if any), and whether the
/// origin was asked, with or without `Range`.
fn ranged(addr: SocketAddr, origin: &Origin, path: &str, range: Option<&str>) -> String {
    let extra = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    let before = origin.heads().len();
    let r = request(addr, "GET", path, &extra, b"");
    let heads = origin.heads();
    let sent = match heads.get(before) {
        None => "not asked",
        Some(h) if h.to_ascii_lowercase().contains("\r\nrange:") => "asked with Range",
        Some(_) => "asked without Range",
    };
    format!(
        "{path} {:?}: {} {} {:?}, upstream {sent}",
        range,
        r.status,
        r.header("x-cache-status").unwrap_or("-"),
        String::from_utf8_lossy(&r.body)
    )
}

#[test]
fn ranges_beyond_max_range_offset_go_upstream_unstored_as_in_nginx() {
    let http = "proxy_cache_path {DIR}/cache keys_zone=z:1m;\n\
      server { listen 127.0.0.1:{PORT};\n\
        add_header X-Cache-Status $upstream_cache_status always;\n\
        location / { proxy_cache z; proxy_cache_valid 200 10m;\n\
          proxy_cache_max_range_offset 5; proxy_pass http://ORIGIN; }\n\
        location /zero/ { proxy_cache z; proxy_cache_valid 200 10m;\n\
          proxy_cache_max_range_offset 0; proxy_pass http://ORIGIN/ranges9/; }\n\
      }";
    let (on, oo) = (Origin::start(), Origin::start());
    let Some(nginx) = Nginx::start_full(&conf(&http.replace("ORIGIN", &on.addr.to_string())))
    else {
        return;
    };
    let ours = Ours::start_full(&conf(&http.replace("ORIGIN", &oo.addr.to_string())));
    let steps: [(&str, Option<&str>); 9] = [
        // beyond the offset: passed with its Range, not stored
        ("/ranges1", Some("bytes=6-8")),
        ("/ranges1", None),
        // stored now: a hit is ranged from the cache whatever the offset
        ("/ranges1", Some("bytes=6-8")),
        // below the offset: Range dropped upstream, stored, one range from the response
        ("/ranges2", Some("bytes=1-3")),
        ("/ranges2", None),
        // a suffix range is beyond any offset
        ("/ranges3", Some("bytes=-3")),
        ("/ranges3", None),
        // proxy_cache_max_range_offset 0: any Range goes upstream
        ("/zero/a", Some("bytes=0-1")),
        ("/zero/a", None),
    ];
    let mut bad = Vec::new();
    for (path, range) in steps {
        let n = ranged(nginx.addr(), &on, path, range);
        let o = ranged(ours.addr(), &oo, path, range);
        if n != o {
            bad.push(format!("nginx {n}\nours  {o}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(on.count("/ranges1"), 2, "the first response was not stored");
    assert_eq!(on.count("/ranges2"), 1);
}
