//! PREACCESS: `limit_req` through the `limit_req` module (nginx's algorithm and zones), with
//! `$limit_req_status`, nginx's log lines and levels, delays that really wait, and
//! `limit_req_status` rejections.

use crate::conf::model::LogLevel;
use crate::limit_req::{Delay, Limit, Status, check};
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::log::log_error;
use crate::request::reply::send_error;

fn one_less(l: LogLevel) -> LogLevel {
    match l {
        LogLevel::Error => LogLevel::Warn,
        LogLevel::Warn => LogLevel::Notice,
        _ => LogLevel::Info,
    }
}

/// Runs the location's limits; `Some(next)` when the request was answered (rejected).
pub async fn apply(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    discard: &mut crate::http::linger::Discard,
) -> Option<Next> {
    let live = req.live;
    let limits: Vec<Limit> = req
        .loc
        .limit_req
        .iter()
        .map(|r| Limit {
            zone: live.zones[r.zone].clone(),
            burst: u32::try_from(r.burst).unwrap_or(u32::MAX),
            delay: if r.delay == u64::MAX {
                Delay::Never
            } else {
                Delay::After(u32::try_from(r.delay).unwrap_or(u32::MAX))
            },
        })
        .collect();
    let keys: Vec<Vec<u8>> = req
        .loc
        .limit_req
        .iter()
        .map(|r| live.config.http.limit_req_zones[r.zone].key.render(req))
        .collect();
    let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let now_ms = shared.epoch.elapsed().as_millis() as u64;
    let d = check(&limits, &key_refs, req.loc.limit_req_dry_run, now_ms)?;
    req.limit_req_status = Some(d.status.as_str());
    if let Some(line) = d.log_line() {
        let level = if d.zone_full {
            LogLevel::Alert
        } else if matches!(d.status, Status::Rejected | Status::RejectedDryRun) {
            req.loc.limit_req_log_level
        } else {
            one_less(req.loc.limit_req_log_level)
        };
        log_error(live, req, level, &line);
    }
    if d.rejects() {
        let code = req.loc.limit_req_status;
        // nginx answers at once; the body is dropped after the response (http::linger).
        *discard =
            crate::http::linger::Discard::start(client, req.head, true, req.loc.send_timeout).await;
        return Some(send_error(client, req, shared, code).await);
    }
    if d.status == Status::Delayed && !d.delay.is_zero() {
        tokio::time::sleep(d.delay).await;
    }
    None
}
