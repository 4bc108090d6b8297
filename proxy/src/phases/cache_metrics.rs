//! proxy_cache metrics, in the Prometheus text and as `proxylab_cache_status`'s
//! stub_status-style page: responses per zone by `$upstream_cache_status`, files stored,
//! evicted by the manager and refused as corrupt, and the zone's keys and bytes on disk.

use crate::cache::Status;
use crate::live::Live;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Appends the cache families (nothing when no `proxy_cache_path` is configured).
pub fn render(o: &mut String, live: &Live) {
    if live.caches.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "# HELP proxylab_cache_responses_total Responses of proxy_cache locations by $upstream_cache_status.\n# TYPE proxylab_cache_responses_total counter"
    );
    for z in &live.caches {
        for (s, n) in Status::ALL.iter().zip(z.stats.by_status.iter()) {
            let _ = writeln!(
                o,
                "proxylab_cache_responses_total{{zone=\"{}\",status=\"{}\"}} {}",
                z.path.name,
                s.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
    }
    for (name, help, pick) in [
        ("stored", "Responses written to the cache.", 0),
        (
            "evicted",
            "Cache files removed (inactive, max_size, zone full).",
            1,
        ),
        (
            "refused",
            "Cache files refused as corrupt or of another key.",
            2,
        ),
    ] {
        let _ = writeln!(
            o,
            "# HELP proxylab_cache_{name}_total {help}\n# TYPE proxylab_cache_{name}_total counter"
        );
        for z in &live.caches {
            let a = [&z.stats.stored, &z.stats.evicted, &z.stats.refused][pick];
            let _ = writeln!(
                o,
                "proxylab_cache_{name}_total{{zone=\"{}\"}} {}",
                z.path.name,
                a.load(Ordering::Relaxed)
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP proxylab_cache_keys Keys in the zone.\n# TYPE proxylab_cache_keys gauge"
    );
    for z in &live.caches {
        let _ = writeln!(
            o,
            "proxylab_cache_keys{{zone=\"{}\"}} {}",
            z.path.name,
            z.usage().0
        );
    }
    let _ = writeln!(
        o,
        "# HELP proxylab_cache_size_bytes Bytes of cache files.\n# TYPE proxylab_cache_size_bytes gauge"
    );
    for z in &live.caches {
        let _ = writeln!(
            o,
            "proxylab_cache_size_bytes{{zone=\"{}\"}} {}",
            z.path.name,
            z.usage().1
        );
    }
}

/// `proxylab_cache_status`: per zone, in the layout of nginx's stub_status (a line of names,
/// then a line of counts):
///
/// ```text
/// Cache zone api: keys 2 size 8704 max_size 0
/// MISS BYPASS EXPIRED STALE UPDATING REVALIDATED HIT
///  2 0 0 0 0 0 5
/// stored evicted refused
///  2 0 0
/// ```
pub fn text(live: &Live) -> String {
    let mut o = String::new();
    for z in &live.caches {
        let (keys, size) = z.usage();
        let _ = writeln!(
            o,
            "Cache zone {}: keys {keys} size {size} max_size {}",
            z.path.name, z.path.max_size
        );
        let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(o, "{}", names.join(" "));
        for n in &z.stats.by_status {
            let _ = write!(o, " {}", n.load(Ordering::Relaxed));
        }
        let s = &z.stats;
        let _ = writeln!(
            o,
            "\nstored evicted refused\n {} {} {}",
            s.stored.load(Ordering::Relaxed),
            s.evicted.load(Ordering::Relaxed),
            s.refused.load(Ordering::Relaxed)
        );
    }
    o
}
