//! `stub_status` (nginx's exact text) and `proxylab_status` (Prometheus text: connections,
//! requests, per-peer upstream state, limit_req counters).

use super::client::Client;
use super::ctx::Req;
use super::phases::{Next, send_error, send_simple};
use super::shared::Shared;
use crate::conf::model::Handler;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Answers a stub_status / proxylab_status request.
pub async fn serve(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    let m = req.head.method();
    if m != b"GET" && m != b"HEAD" {
        return send_error(client, req, shared, 405).await;
    }
    let s = &shared.stats;
    let active = s.active.load(Ordering::Relaxed);
    let reading = s.reading.load(Ordering::Relaxed);
    let writing = s.writing.load(Ordering::Relaxed);
    let waiting = active.saturating_sub(reading + writing);
    let body = if matches!(req.loc.handler, Handler::StubStatus) {
        format!(
            "Active connections: {active} \nserver accepts handled requests\n {} {} {} \nReading: {reading} Writing: {writing} Waiting: {waiting} \n",
            s.accepted.load(Ordering::Relaxed),
            s.handled.load(Ordering::Relaxed),
            s.requests.load(Ordering::Relaxed),
        )
    } else {
        let mut o = String::new();
        let _ = writeln!(o, "# TYPE proxylab_connections gauge");
        let _ = writeln!(o, "proxylab_connections{{state=\"active\"}} {active}");
        let _ = writeln!(o, "proxylab_connections{{state=\"reading\"}} {reading}");
        let _ = writeln!(o, "proxylab_connections{{state=\"writing\"}} {writing}");
        let _ = writeln!(o, "proxylab_connections{{state=\"waiting\"}} {waiting}");
        let _ = writeln!(o, "# TYPE proxylab_requests_total counter");
        let _ = writeln!(
            o,
            "proxylab_requests_total {}",
            s.requests.load(Ordering::Relaxed)
        );
        let now = std::time::Instant::now();
        let _ = writeln!(o, "# TYPE proxylab_upstream_peer_requests_total counter");
        let _ = writeln!(o, "# TYPE proxylab_upstream_peer_fails_total counter");
        let _ = writeln!(o, "# TYPE proxylab_upstream_peer_active gauge");
        let _ = writeln!(o, "# TYPE proxylab_upstream_peer_up gauge");
        for u in &req.live.upstreams {
            let snap = u.group.snapshot(now);
            for p in &snap.peers {
                let l = format!("upstream=\"{}\",peer=\"{}\"", snap.name, p.name);
                let up = u8::from(p.status == crate::balance::PeerStatus::Up);
                let _ = writeln!(
                    o,
                    "proxylab_upstream_peer_requests_total{{{l}}} {}",
                    p.requests
                );
                let _ = writeln!(
                    o,
                    "proxylab_upstream_peer_fails_total{{{l}}} {}",
                    p.total_fails
                );
                let _ = writeln!(o, "proxylab_upstream_peer_active{{{l}}} {}", p.active);
                let _ = writeln!(o, "proxylab_upstream_peer_up{{{l}}} {up}");
            }
        }
        o
    };
    send_simple(
        client,
        req,
        shared,
        200,
        Some(b"text/plain"),
        body.as_bytes(),
        None,
        false,
    )
    .await
}
