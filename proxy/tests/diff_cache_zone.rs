//! How many keys a `keys_zone` holds, real nginx as the judge: the zone's size gives nginx's
//! slab allocator so many 128-byte slots (`cache::zone::capacity_of`); one key more and the
//! least recently used key is dropped (nginx's forced expire). The same request sequence
//! through both proxies gives the same `$upstream_cache_status` line for line.

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
        assert_eq!(capacity_of(if size == "16k" { 16384 } else { 32768 }, "z"), keys);
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
        for p in ["/k0".to_string(), format!("/k{keys}"), "/k1".into(), "/k0".into()] {
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
        assert!(differ.is_empty(), "keys_zone={size}:\n{}", differ.join("\n"));
    }
}
