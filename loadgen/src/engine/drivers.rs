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

/// Open-loop driver of one population on one thread.
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
        if !pace(&ctx, &timer, intended).await {
            break;
        }
        if !ctx.shared.take_budget(ctx.idx) {
            break;
        }
        ctx.rec.lag(intended, Instant::now());
        ctx.rec.start();
        let c = ctx.clone();
        tokio::task::spawn_local(async move {
            let mut lease = c.pool.acquire(&c.rec).await;
            run_session(&c, intended, seq, &mut lease.slot).await;
            drop(lease);
            c.rec.end();
        });
    }
}

/// Below this, the driver yields in a loop instead of arming its timer (a timerfd: tokio's
/// own timer fires on whole milliseconds, up to 2 ms late). Only short gaps (high per-thread
/// rates, where the thread is busy anyway) spin.
const SPIN_BELOW: Duration = Duration::from_micros(10);

/// Waits until `intended`; false when the run is stopping.
async fn pace(ctx: &PopCtx, timer: &PreciseTimer, intended: Instant) -> bool {
    let now = Instant::now();
    if now >= intended {
        return true;
    }
    if intended - now > SPIN_BELOW {
        tokio::select! {
            _ = timer.sleep_until(intended) => return true,
            _ = ctx.stop.wait() => return false,
        }
    }
    while Instant::now() < intended {
        tokio::task::yield_now().await;
    }
    !ctx.stop.is_set()
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
            tokio::select! {
                _ = tokio::time::sleep(think) => {}
                _ = ctx.stop.wait() => break,
            }
        }
    }
}
