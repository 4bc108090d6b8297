//! A worker thread: its own single-threaded tokio runtime running its share of every
//! population, a once-a-second snapshot of its recorder sent to the collector, and the drain
//! at the end.

use super::ctx::{LocalStop, PopCtx};
use super::drivers::{closed_client, open_loop};
use super::shared::Shared;
use crate::plan::Load;
use crate::record::{Rec, Stats, ThreadRec};
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long in-flight requests may finish after the run's end.
pub const DRAIN: Duration = Duration::from_secs(2);

/// How often a worker checks whether all its drivers have finished.
const IDLE_CHECK: Duration = Duration::from_millis(50);

/// What a worker sends to the collector.
#[derive(Debug)]
pub enum Msg {
    /// One second (`sec` counted from t0) of one thread.
    Interval {
        /// Second index.
        sec: u64,
        /// One entry per population.
        stats: Vec<Stats>,
    },
    /// The thread's last (partial) interval.
    Done {
        /// Second index of the partial interval.
        sec: u64,
        /// One entry per population.
        stats: Vec<Stats>,
        /// When the thread stopped dispatching.
        stopped_at: Instant,
    },
}

/// Runs worker `k` until the run ends or `global_stop` turns true.
pub fn run_worker(
    shared: Arc<Shared>,
    k: usize,
    tx: mpsc::Sender<Msg>,
    global_stop: watch::Receiver<bool>,
) {
    crate::fdlimit::tight_timer_slack();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("proxylab loadgen: worker {k}: cannot start a runtime: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, worker_main(shared, k, tx, global_stop));
}

async fn wait_stop(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn worker_main(
    shared: Arc<Shared>,
    k: usize,
    tx: mpsc::Sender<Msg>,
    mut global_stop: watch::Receiver<bool>,
) {
    let n = shared.threads;
    let tr = ThreadRec::new(shared.pops.len());
    let stop = Rc::new(LocalStop::default());
    // One clone per open-loop dispatcher still running.
    let dispatchers = Rc::new(());
    // One clone per driver (dispatcher or closed-loop client) still running: when none is
    // left (request budgets exhausted), this thread is done before the run's end.
    let drivers = Rc::new(());
    for (i, ps) in shared.pops.iter().enumerate() {
        let ctx = Rc::new(PopCtx::new(
            shared.clone(),
            i,
            (k, n),
            Rec::new(tr.clone(), i),
            stop.clone(),
        ));
        match &ps.pop.load {
            Load::Open { .. } => {
                let (token, all) = (dispatchers.clone(), drivers.clone());
                tokio::task::spawn_local(async move {
                    open_loop(ctx).await;
                    drop((token, all));
                });
            }
            Load::Closed { connections, .. } => {
                let clients = *connections as u64;
                for j in (k as u64..clients).step_by(n) {
                    let token = drivers.clone();
                    let c = ctx.clone();
                    tokio::task::spawn_local(async move {
                        closed_client(c, j, clients).await;
                        drop(token);
                    });
                }
            }
        }
    }
    let mut sec = 0u64;
    let by_user = loop {
        let tick = shared.t0 + Duration::from_secs(sec + 1);
        let wake = tick.min(shared.run_end).min(Instant::now() + IDLE_CHECK);
        let by_user = tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => false,
            _ = wait_stop(&mut global_stop) => true,
        };
        let now = Instant::now();
        if now >= tick {
            let _ = tx.send(Msg::Interval {
                sec,
                stats: tr.snapshot(),
            });
            sec += 1;
        }
        let finished = Rc::strong_count(&drivers) == 1 && now >= shared.t0;
        if by_user || finished || now >= shared.run_end {
            break by_user;
        }
    };
    let stopped_at = Instant::now().min(shared.run_end);
    if !by_user {
        // Arrivals due before the end are still sent when the generator runs late (the lag is
        // recorded); bounded by DRAIN.
        let until = Instant::now() + DRAIN;
        while Rc::strong_count(&dispatchers) > 1 && Instant::now() < until && !*global_stop.borrow()
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stop.fire();
    // Let requests in flight finish (bounded); long sessions end on `stop`.
    let drain_end = Instant::now()
        + if by_user {
            Duration::from_millis(300)
        } else {
            DRAIN
        };
    while tr.in_flight() > 0 && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = tx.send(Msg::Done {
        sec,
        stats: tr.snapshot(),
        stopped_at,
    });
}
