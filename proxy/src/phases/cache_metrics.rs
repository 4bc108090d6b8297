//! proxy_cache metrics in the Prometheus text: responses per zone by
//! `$upstream_cache_status`, files stored, evicted by the manager and refused as corrupt,
//! and the zone's keys and bytes on disk.

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
