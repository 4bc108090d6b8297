//! The two schedulers. Open loop: one global schedule of intended send times per population,
//! dealt out to threads by index (thread k takes arrivals k, k+n, …), each arrival a task that
//! leases a connection. Closed loop: N clients (dealt out to threads), each running sessions
//! back to back. Both count `sent` at dispatch and hand the session to the behaviour.

use super::ctx::PopCtx;
use super::timer::PreciseTimer;
use crate::behaviour::run_session;
use crate::plan::Load;
use crate::schedule::Schedule;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Open-loop driver of one population on one thread. Each wake dispatches every arrival that
/// is due or within [`EARLY_BY`] of being due, so at high rates one timer wake serves several
/// arrivals instead of one each. An arrival dispatched early is timed from its actual dispatch
/// (the earlier instant: latency is never understated), one dispatched late from its intended
/// time (the lag is charged to latency and recorded as schedule lag).
pub async fn open_loop(ctx: Rc<PopCtx>) {
    let ps = ctx.ps();
    let Load::Open {
        stages, arrivals, ..
    } = &ps.pop.load
    else {
        return;
    };
    let mut sched = Schedule::new(stages, *arrivals, ctx.shared.plan.seed ^ ctx.idx as u64);
    let (k, n) = (ctx.thread.0 as u64, ctx.thread.1 as u64);
    let (start, end) = (ps.start, ps.end);
    let mut i: u64 = 0;
    let timer = PreciseTimer::new();
    // Refreshed only when waiting or after a dispatch: a batch shares one clock read.
    let mut now = Instant::now();
    let mut burst = 0u32;
    while let Some(offset) = sched.next_offset() {
        let seq = i;
        i += 1;
        if seq % n != k {
            continue;
        }
        let intended = start + Duration::from_secs_f64(offset);
        if intended >= end || ctx.stop.is_set() {
            break;
        }
        if intended > now + EARLY_BY {
            if !wait(&ctx, &timer, intended).await {
                break;
            }
            now = Instant::now();
            burst = 0;
        } else if burst >= MAX_BURST {
            // Far behind schedule: let the sessions already dispatched make progress.
            tokio::task::yield_now().await;
            now = Instant::now();
            burst = 0;
        }
        burst += 1;
        if !ctx.shared.take_budget(ctx.idx) {
            break;
        }
        ctx.rec.lag(intended, now);
        ctx.rec.start();
        let from = intended.min(now);
        let c = ctx.clone();
        tokio::task::spawn_local(async move {
            let mut lease = c.pool.acquire(&c.rec).await;
            run_session(&c, from, seq, &mut lease.slot).await;
            drop(lease);
            c.rec.end();
        });
        now = Instant::now();
    }
}

/// How early an arrival may be dispatched rather than armed on the timer (a timerfd wake costs
/// a sleep, an epoll round and a context switch, and under load the wake itself comes late).
pub const EARLY_BY: Duration = Duration::from_micros(50);

/// Dispatches in a row without sleeping after which the driver yields to the runtime.
const MAX_BURST: u32 = 64;

/// Sleeps until `intended`; false when the run is stopping.
async fn wait(ctx: &PopCtx, timer: &PreciseTimer, intended: Instant) -> bool {
    tokio::select! {
        _ = timer.sleep_until(intended) => true,
        _ = ctx.stop.wait() => false,
    }
}

/// Closed-loop client number `client` of `clients`.
pub async fn closed_client(ctx: Rc<PopCtx>, client: u64, clients: u64) {
    let ps = ctx.ps();
    let Load::Closed { think_time, .. } = &ps.pop.load else {
        return;
    };
    let think = think_time.get();
    if Instant::now() < ps.start {
        tokio::select! {
            _ = tokio::time::sleep_until(ps.start.into()) => {}
            _ = ctx.stop.wait() => return,
        }
    }
    let mut slot = None;
    let mut seq = client;
    loop {
        let now = Instant::now();
        if ctx.stop.is_set() || now >= ps.end || !ctx.shared.take_budget(ctx.idx) {
            break;
        }
        ctx.rec.start();
        run_session(&ctx, now, seq, &mut slot).await;
        ctx.rec.end();
        seq += clients;
        if !think.is_zero() {
            let idle_from = Instant::now();
            tokio::select! {
                _ = tokio::time::sleep(think) => {}
                _ = ctx.stop.wait() => break,
            }
            // A connection the server closed during the think time is not reused; counted as
            // the outcome `closed_by_server` (held: the idle time it was seen closed after).
            if matches!(&slot, Some(super::ctx::Conn::H1 { c, .. }) if c.io.is_stale()) {
                slot = None;
                ctx.rec
                    .outcome("closed_by_server", idle_from, Instant::now());
            }
        }
    }
}
