//! `stub_status` (nginx's exact text) and `proxylab_status` (Prometheus text: connections,
//! requests, per-peer upstream state, limit_req counters).

use crate::conf::model::Handler;
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::reply::{send_error, send_simple};
use std::sync::atomic::Ordering;

/// Answers a stub_status / proxylab_status request.
pub async fn serve(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    let m = req.head.method();
    if m != b"GET" && m != b"HEAD" {
        return send_error(client, req, shared, Status::NOT_ALLOWED).await;
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
        super::prometheus::render(s, req.live, std::time::Instant::now())
    };
    send_simple(
        client,
        req,
        shared,
        Status::OK,
        Some(if matches!(req.loc.handler, Handler::StubStatus) {
            b"text/plain".as_slice()
        } else {
            b"text/plain; version=0.0.4".as_slice()
        }),
        body.as_bytes(),
        None,
        false,
    )
    .await
}
