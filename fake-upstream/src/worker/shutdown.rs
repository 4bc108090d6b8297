//! uvicorn's main loop and graceful shutdown: the 0.1 s tick (date refresh every second,
//! `--limit-max-requests`, SIGTERM/SIGINT), then close idle connections, let in-flight requests
//! finish with `connection: close`, and cancel them after `--timeout-graceful-shutdown`.

use super::{ExitReason, Worker};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

const TICK: Duration = Duration::from_millis(100);

/// Runs the tick until the worker must stop. Like uvicorn's `main_loop`, it shares the event
/// loop with the requests, so a blocked worker also delays its max-requests and signal checks.
pub(super) async fn main_loop(w: &Rc<Worker>) -> ExitReason {
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut should_exit = false;
    let mut counter: u64 = 0;
    w.shared.beat();
    loop {
        let sleep = tokio::time::sleep(TICK);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                Some(()) = async { match term.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => should_exit = true,
                Some(()) = async { match int.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => should_exit = true,
            }
        }
        counter += 1;
        if counter.is_multiple_of(10) {
            w.refresh_date();
        }
        if counter.is_multiple_of(w.cfg.heartbeat_ticks.max(1)) {
            w.shared.beat();
        }
        if let Some(limit) = w.cfg.limit_max_requests
            && w.total.get() >= limit
        {
            w.log(&format!(
                "WARNING:  Maximum request limit of {limit} exceeded. Terminating process."
            ));
            return ExitReason::MaxRequests;
        }
        if should_exit {
            return ExitReason::Signal;
        }
    }
}

/// Graceful shutdown after the accept loop stopped (uvicorn `Server.shutdown`).
pub(super) async fn drain(w: &Rc<Worker>, _reason: ExitReason) {
    w.log("INFO:     Shutting down");
    // Idle connections close now; in-flight ones finish with `connection: close`.
    w.begin_shutdown();
    tokio::time::sleep(TICK).await;
    let started = Instant::now();
    let deadline = w.cfg.timeout_graceful_shutdown.map(|t| started + t);
    let mut said_waiting = false;
    while w.conns.get() > 0 || w.tasks.get() > 0 {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let n = w.tasks.get();
            w.log(&format!(
                "ERROR:    Cancel {n} running task(s), timeout graceful shutdown exceeded"
            ));
            let _ = w.cancel_tx.send(true);
            // Cancelled tasks answer 500 at once; bound the wait for sockets that will not close.
            let until = Instant::now() + Duration::from_secs(2);
            while w.tasks.get() > 0 && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            break;
        }
        if !said_waiting {
            w.log("INFO:     Waiting for connections to close. (CTRL+C to force quit)");
            said_waiting = true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.log(&format!(
        "INFO:     Finished server process [{}]",
        std::process::id()
    ));
}
