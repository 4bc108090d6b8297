//! nginx 1.22's `limit_req`: the leaky bucket in milli-requests with millisecond time, burst,
//! `nodelay`/`delay=N`, several limits per location with nginx's order of lookup and
//! accounting, dry run, `$limit_req_status`, and zones that hold and evict keys as nginx's
//! slab-backed zones do (spec §1).
//!
//! Pure state machine: the caller evaluates the keys, passes `now_ms` (a monotonic clock in
//! milliseconds) and performs the delay itself (e.g. `tokio::time::sleep(decision.delay)`).
//! What the caller owns: applying the limits once per main request (skip when the request
//! already has a `$limit_req_status`), the response code (`limit_req_status`, default 503),
//! the log lines ([`Decision::log_line`]) at `limit_req_log_level`, and the 499 when the client
//! leaves during a delay.

mod config;
mod slab;
mod zone;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use config::{Delay, LimitArgs, LimitReqConfError, Rate, ZoneArgs, parse_size};
pub use slab::PAGE_SIZE;
pub use zone::{NODE_OVERHEAD, Zone, ZoneStats};

use zone::{CLOCK_OFFSET_MS, Lookup};

/// Longest key nginx accounts (longer keys are logged and skipped).
pub const MAX_KEY_LEN: usize = 65535;

/// One `limit_req` directive bound to its zone.
#[derive(Debug, Clone)]
pub struct Limit {
    /// The zone (shared by every location naming it).
    pub zone: Arc<Zone>,
    /// `burst=N` requests (default 0).
    pub burst: u32,
    /// `nodelay` / `delay=N` (default `Delay::After(0)`).
    pub delay: Delay,
}

impl Limit {
    fn burst_m(&self) -> i64 {
        i64::from(self.burst) * 1000
    }

    fn delay_m(&self) -> i64 {
        match self.delay {
            Delay::After(n) => i64::from(n) * 1000,
            // nginx: NGX_MAX_INT_T_VALUE / 1000 * 1000
            Delay::Never => i64::MAX / 1000 * 1000,
        }
    }
}

/// The value of `$limit_req_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed without delay.
    Passed,
    /// Delayed by [`Decision::delay`].
    Delayed,
    /// Rejected with `limit_req_status`.
    Rejected,
    /// Dry run: would have been delayed; passes at once.
    DelayedDryRun,
    /// Dry run: would have been rejected; passes.
    RejectedDryRun,
}

impl Status {
    /// The variable's text (`PASSED`, `DELAYED`, `REJECTED`, `DELAYED_DRY_RUN`,
    /// `REJECTED_DRY_RUN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Delayed => "DELAYED",
            Status::Rejected => "REJECTED",
            Status::DelayedDryRun => "DELAYED_DRY_RUN",
            Status::RejectedDryRun => "REJECTED_DRY_RUN",
        }
    }
}

/// The outcome of [`check`] for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `$limit_req_status`.
    pub status: Status,
    /// How long to hold the request before the next phase (zero unless [`Status::Delayed`]).
    pub delay: Duration,
    /// The excess (milli-requests) reported in the log line.
    pub excess: i64,
    /// Index (into the `limits` slice) of the limit the log line names.
    pub limit_index: usize,
    /// Name of that limit's zone.
    pub zone: String,
    /// Rejected because the zone could not store a new key even after eviction (nginx logs an
    /// alert `could not allocate node in limit_req zone "NAME"` and answers limit_req_status).
    pub zone_full: bool,
}

impl Decision {
    /// Whether the request must be answered with `limit_req_status` now.
    pub fn rejects(&self) -> bool {
        self.status == Status::Rejected
    }

    /// nginx's error-log message for this decision (without the `, client: …` context), or
    /// `None` for [`Status::Passed`]. Rejections are logged at `limit_req_log_level`, delays
    /// one level lower, the zone-full alert at `alert`.
    pub fn log_line(&self) -> Option<String> {
        let dry = matches!(self.status, Status::DelayedDryRun | Status::RejectedDryRun);
        let dry = if dry { ", dry run" } else { "" };
        let e = format!("{}.{:03}", self.excess / 1000, self.excess % 1000);
        match self.status {
            Status::Passed => None,
            _ if self.zone_full => Some(format!(
                "could not allocate node in limit_req zone \"{}\"",
                self.zone
            )),
            Status::Rejected | Status::RejectedDryRun => Some(format!(
                "limiting requests{dry}, excess: {e} by zone \"{}\"",
                self.zone
            )),
            Status::Delayed | Status::DelayedDryRun => Some(format!(
                "delaying request{dry}, excess: {e}, by zone \"{}\"",
                self.zone
            )),
        }
    }
}

/// Applies the `limits` of a location to one request, as nginx's PREACCESS handler.
///
/// `keys[i]` is the evaluated key of `limits[i]` (an empty key skips that limit; a key longer
/// than [`MAX_KEY_LEN`] is skipped too — nginx logs an error). `now_ms` is a monotonic clock
/// in milliseconds. Returns `None` when no limit applied (all keys empty): then
/// `$limit_req_status` stays unset. Limits are looked up in config order; all but the last
/// matched one are only pinned, and charged after the whole list accepted the request; when a
/// later limit rejects, the earlier ones are released uncharged. A rejected request is never
/// charged.
///
/// Metrics attribution: a rejection or delay counts for the zone named in the decision; a
/// pass counts for every zone whose key was non-empty.
pub fn check(limits: &[Limit], keys: &[&[u8]], dry_run: bool, now_ms: u64) -> Option<Decision> {
    let now = now_ms.wrapping_add(CLOCK_OFFSET_MS);
    let mut looked = look_up(limits, keys, now)?;
    if matches!(looked.rc, Lookup::Busy | Lookup::Error) {
        return Some(reject(limits, looked, dry_run));
    }
    if matches!(looked.rc, Lookup::Again(_)) {
        looked.excess = 0;
    }
    let max_delay = account(limits, &mut looked, now);
    let decider = looked.decider;
    let zone = &limits[decider].zone;
    let status = match (max_delay, dry_run) {
        (0, _) => Status::Passed,
        (_, false) => Status::Delayed,
        (_, true) => Status::DelayedDryRun,
    };
    match status {
        Status::Passed => {
            for (l, k) in limits.iter().zip(keys) {
                if !k.is_empty() && k.len() <= MAX_KEY_LEN {
                    l.zone.stats.passed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Status::Delayed => _ = zone.stats.delayed.fetch_add(1, Ordering::Relaxed),
        _ => _ = zone.stats.delayed_dry_run.fetch_add(1, Ordering::Relaxed),
    }
    Some(Decision {
        status,
        delay: if status == Status::Delayed {
            Duration::from_millis(max_delay as u64)
        } else {
            Duration::ZERO
        },
        excess: looked.excess,
        limit_index: decider,
        zone: zone.name().to_string(),
        zone_full: false,
    })
}

/// The limits looked up in config order (nginx's loop in `ngx_http_limit_req_handler`).
struct Looked {
    /// The last lookup's result.
    rc: Lookup,
    /// Limits that accepted the request so far (index, node), pinned until accounted.
    pinned: Vec<(usize, u32)>,
    /// The excess (milli-requests) of the deciding limit.
    excess: i64,
    /// The limit that decided.
    decider: usize,
}

/// Looks the keys up until a limit refuses or the last one accepts; None when every key was
/// empty (or too long).
fn look_up(limits: &[Limit], keys: &[&[u8]], now: u64) -> Option<Looked> {
    let mut pinned: Vec<(usize, u32)> = Vec::new();
    let mut rc: Option<Lookup> = None;
    let mut excess = 0i64;
    let last = limits.len().saturating_sub(1);
    let mut decider = 0usize;
    for (n, limit) in limits.iter().enumerate() {
        decider = n;
        let key = keys.get(n).copied().unwrap_or(b"");
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            continue;
        }
        let mut g = limit.zone.lock();
        let r = limit
            .zone
            .lookup(&mut g, key, limit.burst_m(), n == last, now, &mut excess);
        drop(g);
        rc = Some(r);
        match r {
            Lookup::Again(id) => pinned.push((n, id)),
            _ => break,
        }
    }
    Some(Looked {
        rc: rc?,
        pinned,
        excess,
        decider,
    })
}

/// A limit refused (or its zone is full): the pinned limits are released uncharged and the
/// rejection counted for the deciding zone.
fn reject(limits: &[Limit], looked: Looked, dry_run: bool) -> Decision {
    for &(i, id) in &looked.pinned {
        let mut g = limits[i].zone.lock();
        let node = g.node_mut(id);
        node.count = node.count.saturating_sub(1);
    }
    let zone = &limits[looked.decider].zone;
    let (status, counter) = if dry_run {
        (Status::RejectedDryRun, &zone.stats.rejected_dry_run)
    } else {
        (Status::Rejected, &zone.stats.rejected)
    };
    counter.fetch_add(1, Ordering::Relaxed);
    Decision {
        status,
        delay: Duration::ZERO,
        excess: looked.excess,
        limit_index: looked.decider,
        zone: zone.name().to_string(),
        zone_full: looked.rc == Lookup::Error,
    }
}

/// nginx's `ngx_http_limit_req_account`: charges the pinned limits and returns the longest
/// delay (ms) any of them asks for, moving the decider and its excess to that limit.
fn account(limits: &[Limit], looked: &mut Looked, now: u64) -> i64 {
    let lim = &limits[looked.decider];
    let mut max_delay = if looked.excess <= lim.delay_m() {
        0
    } else {
        (looked.excess - lim.delay_m()) * 1000 / lim.zone.rate().0 as i64
    };
    for &(i, id) in looked.pinned.iter().rev() {
        let zone = &limits[i].zone;
        let mut g = zone.lock();
        let node = g.node_mut(id);
        let (e, ms) = zone.leak(node.excess, node.last, now);
        if ms != 0 {
            node.last = now;
        }
        node.excess = e;
        node.count = node.count.saturating_sub(1);
        drop(g);
        if e <= limits[i].delay_m() {
            continue;
        }
        let d = (e - limits[i].delay_m()) * 1000 / zone.rate().0 as i64;
        if d > max_delay {
            max_delay = d;
            looked.excess = e;
            looked.decider = i;
        }
    }
    max_delay
}

#[cfg(test)]
mod tests;
