//! One fake Uvicorn worker: a single-threaded event loop (tokio current-thread runtime +
//! `LocalSet`) that accepts on a listening socket, serves connections, runs uvicorn's 0.1 s
//! main-loop tick (date header, `--limit-max-requests`, signals) and shuts down like uvicorn.

mod builtin;
mod conn;
mod exec;
mod shutdown;
mod ws;

use crate::app::App;
use crate::config::{ConcurrencyMode, WorkerConfig};
use crate::shared::Shared;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Length of an RFC 1123 date (`Thu, 26 Nov 2026 04:45:36 GMT`).
const DATE_LEN: usize = 29;

/// Counter names of an app's routes: the table's routes, then the built-in ones.
pub fn route_names(app: &App) -> Vec<String> {
    let mut names: Vec<String> = app.routes.iter().map(|r| r.name.clone()).collect();
    names.extend(builtin::BUILTIN_NAMES.iter().map(|s| s.to_string()));
    names
}

/// Why a worker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// `--limit-max-requests` reached.
    MaxRequests,
    /// SIGTERM / SIGINT.
    Signal,
}

/// The state of one worker's event loop (lives on its thread only).
pub(crate) struct Worker {
    pub cfg: WorkerConfig,
    pub app: App,
    pub shared: Arc<Shared>,
    date: RefCell<[u8; DATE_LEN]>,
    pub conns: Cell<usize>,
    pub tasks: Cell<usize>,
    pub total: Cell<u64>,
    pub rng: RefCell<StdRng>,
    pub threadpool: Semaphore,
    pub db: Option<Semaphore>,
    /// true once shutdown started (idle connections close, responses get `connection: close`).
    pub shutdown_tx: watch::Sender<bool>,
    /// Mirror of `shutdown_tx` readable without a lock.
    pub stopping: Cell<bool>,
    /// true once `--timeout-graceful-shutdown` expired: in-flight tasks are cancelled.
    pub cancel_tx: watch::Sender<bool>,
}

impl Worker {
    fn new(cfg: WorkerConfig, app: App, shared: Arc<Shared>) -> Self {
        let db = match cfg.pool.max_overflow {
            o if o < 0 => None,
            o => Some(Semaphore::new(cfg.pool.size as usize + o as usize)),
        };
        let w = Worker {
            rng: RefCell::new(StdRng::seed_from_u64(cfg.seed)),
            threadpool: Semaphore::new(cfg.threadpool.max(1)),
            db,
            cfg,
            app,
            shared,
            date: RefCell::new([b' '; DATE_LEN]),
            conns: Cell::new(0),
            tasks: Cell::new(0),
            total: Cell::new(0),
            shutdown_tx: watch::channel(false).0,
            stopping: Cell::new(false),
            cancel_tx: watch::channel(false).0,
        };
        w.refresh_date();
        w
    }

    /// Recomputes the cached `date` header value (uvicorn does it once per second, on the tick).
    fn refresh_date(&self) {
        let s = httpdate::fmt_http_date(SystemTime::now());
        let mut d = self.date.borrow_mut();
        if s.len() == DATE_LEN {
            d.copy_from_slice(s.as_bytes());
        }
    }

    /// The cached `date` header value.
    pub fn date(&self) -> [u8; DATE_LEN] {
        *self.date.borrow()
    }

    /// Whether graceful shutdown has started.
    pub fn shutting_down(&self) -> bool {
        self.stopping.get()
    }

    /// Starts graceful shutdown: wakes idle connections and the accept loop.
    pub fn begin_shutdown(&self) {
        self.stopping.set(true);
        let _ = self.shutdown_tx.send(true);
    }

    /// uvicorn's `--limit-concurrency` check at request-head time.
    pub fn over_limit(&self) -> bool {
        self.cfg
            .limit_concurrency
            .is_some_and(|n| self.conns.get() >= n || self.tasks.get() >= n)
    }

    /// Counts a completed response (for `--limit-max-requests` and the counters).
    pub fn response_done(&self) {
        self.total.set(self.total.get() + 1);
        self.shared.requests.fetch_add(1, Relaxed);
    }

    /// Latency multiplier set through the admin API.
    pub fn latency_multiplier(&self) -> f64 {
        self.shared.faults.latency_multiplier()
    }

    fn log(&self, msg: &str) {
        if self.cfg.log {
            eprintln!("{msg}");
        }
    }
}

/// Serves `listener` until `--limit-max-requests` or a signal stops the worker, then drains like
/// uvicorn. Blocks the calling thread; the socket must already be listening.
pub fn run(
    listener: std::net::TcpListener,
    cfg: WorkerConfig,
    app: App,
    shared: Arc<Shared>,
) -> std::io::Result<ExitReason> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    listener.set_nonblocking(true)?;
    local.block_on(&rt, async move {
        let listener = TcpListener::from_std(listener)?;
        let w = Rc::new(Worker::new(cfg, app, shared));
        w.log(&format!(
            "INFO:     Started server process [{}]",
            std::process::id()
        ));
        let accept = tokio::task::spawn_local(accept_loop(w.clone(), listener));
        let reason = shutdown::main_loop(&w).await;
        accept.abort();
        let _ = accept.await;
        shutdown::drain(&w, reason).await;
        Ok(reason)
    })
}

async fn accept_loop(w: Rc<Worker>, listener: TcpListener) {
    let mut stop = w.shutdown_tx.subscribe();
    let uvloop = w.cfg.concurrency_mode == ConcurrencyMode::Uvloop;
    loop {
        let changed = w.shared.faults.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if w.shared.faults.accept_paused.load(Relaxed) {
            tokio::select! {
                _ = &mut changed => continue,
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            _ = &mut changed => continue,
            r = listener.accept() => match r {
                Ok((sock, _)) => {
                    let _ = sock.set_nodelay(true);
                    w.shared.accepted.fetch_add(1, Relaxed);
                    tokio::task::spawn_local(conn::serve(w.clone(), sock));
                    if uvloop {
                        // libuv ≥ 1.45 accepts one connection per loop iteration.
                        tokio::task::yield_now().await;
                    }
                }
                Err(e) => {
                    w.log(&format!("ERROR:    accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}
