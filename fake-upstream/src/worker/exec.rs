//! Running a request's "work" the way a FastAPI worker does: CPU overhead on the event-loop
//! thread, then the latency as an async wait, a blocking spin, a threadpool job (40 slots) or a
//! QueuePool checkout that times out into FastAPI's 500, then the query: it waits while its
//! table is locked, and the database's statement_timeout cancels it (FastAPI's 500).

use super::Worker;
use crate::app::{Fault, Kind};
use crate::wire::response::Response;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// What the app answers once the work is done.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A ready response.
    Ready(Response),
    /// `POST /echo`: SHA-256 and length of the request body.
    Echo,
}

/// One request's work and answer, decided at dispatch time.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Per-route counter slot (see [`super::route_names`]).
    pub counter: usize,
    /// Where the latency is spent.
    pub kind: Kind,
    /// The table a `db` query reads (waits while it is locked).
    pub table: Option<String>,
    /// Sampled latency (multiplier applied).
    pub latency: Duration,
    /// Route CPU cost.
    pub cpu: Duration,
    /// The answer.
    pub reply: Reply,
    /// Drawn fault, if any.
    pub fault: Option<Fault>,
    /// Trickle step (bytes) and pause.
    pub trickle: (usize, Duration),
}

impl Plan {
    /// A plan that answers at once with `resp`.
    pub fn ready(counter: usize, resp: Response) -> Self {
        Plan {
            counter,
            kind: Kind::Async,
            table: None,
            latency: Duration::ZERO,
            cpu: Duration::ZERO,
            reply: Reply::Ready(resp),
            fault: None,
            trickle: (1, Duration::from_millis(100)),
        }
    }
}

/// How the work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Work done: send the reply.
    Done,
    /// The app raised (QueuePool checkout timed out, query cancelled by statement_timeout):
    /// FastAPI 500, then close.
    AppException,
    /// `--timeout-graceful-shutdown` cancelled the task: uvicorn's 500, then close.
    Cancelled,
}

/// Burns CPU on the current thread for `d` (blocks the whole worker, like Python code does).
pub(crate) fn spin(d: Duration) {
    if d.is_zero() {
        return;
    }
    let end = Instant::now() + d.min(crate::latency::MAX_LATENCY);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// `--leak-per-request`: allocates `bytes`, writes every page (so they count as resident
/// memory, not just address space) and never frees them, like an app that appends to a global
/// cache on every request. An allocation the memory limit refuses aborts the worker, as Python's
/// MemoryError-then-crash or the kernel's OOM kill would end it.
pub(crate) fn leak(bytes: usize) {
    if bytes > 0 {
        // black_box: an allocation nobody reads may be optimized away in a release build,
        // which then leaks nothing; the pages must really be written and kept
        std::mem::forget(std::hint::black_box(vec![0xA5u8; bytes]));
    }
}

/// Does the plan's work. Holds a threadpool slot (and a pool connection for `db`) meanwhile.
pub(crate) async fn work(w: &Worker, plan: &Plan) -> Waited {
    leak(w.cfg.leak_per_request);
    spin(w.cfg.cpu_overhead + plan.cpu);
    match plan.kind {
        Kind::Async if plan.latency.is_zero() => Waited::Done,
        Kind::Async => cancellable(w, tokio::time::sleep(plan.latency))
            .await
            .map_or(Waited::Cancelled, |()| Waited::Done),
        Kind::Blocking => {
            spin(plan.latency);
            Waited::Done
        }
        Kind::Threadpool | Kind::Db => {
            let r = cancellable(w, async {
                w.shared.queued.fetch_add(1, Relaxed);
                let slot = w.threadpool.acquire().await;
                w.shared.queued.fetch_sub(1, Relaxed);
                let _slot = slot.ok();
                if plan.kind == Kind::Db {
                    db_work(w, plan).await
                } else {
                    tokio::time::sleep(plan.latency).await;
                    Waited::Done
                }
            })
            .await;
            r.unwrap_or(Waited::Cancelled)
        }
    }
}

/// A `db` route: a connection from the QueuePool (when the worker has one), then the query:
/// it waits while its table is locked, then takes the route's latency; the database's
/// statement_timeout bounds both.
async fn db_work(w: &Worker, plan: &Plan) -> Waited {
    let _conn = match &w.db {
        None => None,
        Some(pool) => {
            w.shared.queued.fetch_add(1, Relaxed);
            let got = tokio::time::timeout(w.cfg.pool.timeout, pool.acquire()).await;
            w.shared.queued.fetch_sub(1, Relaxed);
            match got {
                Ok(Ok(conn)) => Some(conn),
                _ => {
                    w.log(&format!(
                        "ERROR:    Exception in ASGI application: sqlalchemy.exc.TimeoutError: QueuePool limit of size {} overflow {} reached, connection timed out, timeout {:.2}",
                        w.cfg.pool.size,
                        w.cfg.pool.max_overflow,
                        w.cfg.pool.timeout.as_secs_f64()
                    ));
                    return Waited::AppException;
                }
            }
        }
    };
    let query = async {
        if let Some(t) = &plan.table {
            unlocked(w, t).await;
        }
        tokio::time::sleep(plan.latency).await;
    };
    let Some(limit) = w.cfg.pool.statement_timeout else {
        query.await;
        return Waited::Done;
    };
    if tokio::time::timeout(limit, query).await.is_ok() {
        return Waited::Done;
    }
    w.log(
        "ERROR:    Exception in ASGI application: sqlalchemy.exc.OperationalError: (psycopg.errors.QueryCanceled) canceling statement due to statement timeout",
    );
    Waited::AppException
}

/// Returns once `table` is not locked (the admin API notifies every change).
async fn unlocked(w: &Worker, table: &str) {
    loop {
        let changed = w.shared.faults.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !w.shared.faults.table_locked(table) {
            return;
        }
        changed.await;
    }
}

/// Runs `f` unless graceful-shutdown cancellation fires first (then `None`).
pub(crate) async fn cancellable<T>(w: &Worker, f: impl Future<Output = T>) -> Option<T> {
    let mut cancel = w.cancel_tx.subscribe();
    tokio::select! {
        v = f => Some(v),
        _ = cancel.wait_for(|c| *c) => None,
    }
}
