//! `--workers N` / `--supervisor gunicorn`: the parent binds one socket, re-executes the current
//! binary once per worker (same argv, worker mode marked in the environment, the socket
//! inherited), and replaces workers that exit: uvicorn polls every 0.5 s and stalls for the
//! health-check timeout (≈5 s) per dead worker, one at a time; gunicorn reaps at once and
//! forks a new worker ≈0.2 s later. SIGTERM/SIGINT are forwarded to workers, then it waits.

use crate::admin::{self, Backend};
use crate::config::Supervisor;
use crate::protocol::{
    ENV_FAULTS, ENV_FD, ENV_GENERATION, ENV_PARENT, ENV_WORKER, WORKER_FINAL, WORKER_READY,
};
use crate::server;
use crate::settings::Settings;
use crate::shared::{Counters, Shared};
use anyhow::Context;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

/// A live worker as the admin thread sees it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    pid: u32,
    admin: SocketAddr,
}

/// Admin backend of the supervisor: sums the workers' counters, forwards faults.
struct SupBackend {
    shared: Shared,
    slots: Mutex<Vec<Option<Slot>>>,
    /// Counters of workers that exited cleanly.
    retired: Mutex<Counters>,
}

impl SupBackend {
    fn live(&self) -> Vec<Slot> {
        self.slots
            .lock()
            .map(|s| s.iter().flatten().copied().collect())
            .unwrap_or_default()
    }
}

impl Backend for SupBackend {
    fn shared(&self) -> &Shared {
        &self.shared
    }
    fn counters(&self) -> Counters {
        let mut total = Counters::default();
        for slot in self.live() {
            if let Ok((200, body)) = admin::request(slot.admin, "GET", "/counters")
                && let Ok(c) = serde_json::from_str::<Counters>(&body)
            {
                total.add(&c);
            }
        }
        if let Ok(r) = self.retired.lock() {
            let mut r = r.clone();
            r.in_flight = 0;
            r.queued = 0;
            r.connections = 0;
            r.workers = 0;
            total.add(&r);
        }
        total.restarts = self.shared.restarts.load(Relaxed);
        total.crashes = self.shared.crashes.load(Relaxed);
        total
    }
    fn forward(&self, path_and_query: &str) {
        for slot in self.live() {
            let _ = admin::request(slot.admin, "POST", path_and_query);
        }
    }
    fn crash(&self, index: Option<u32>) -> Result<String, String> {
        let slots = self.slots.lock().map_err(|_| "lock poisoned".to_string())?;
        let i = index.unwrap_or(0) as usize;
        match slots.get(i) {
            Some(Some(slot)) => {
                crate::sys::kill(slot.pid, libc::SIGKILL);
                Ok(format!("worker {i} (pid {}) killed", slot.pid))
            }
            Some(None) => Err(format!("worker {i} is not running")),
            None => Err(format!("no worker {i} (have {})", slots.len())),
        }
    }
}

/// Runs the supervisor until SIGTERM/SIGINT.
pub fn run(s: &Settings) -> anyhow::Result<ExitCode> {
    let addr = server::resolve(&s.host, s.port)?;
    let sock = server::bind(addr, s.backlog)?;
    sock.set_cloexec(false)?;
    let local = sock
        .local_addr()?
        .as_socket()
        .context("bound address is not IP")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(supervise(s, sock.as_raw_fd(), local))?;
    drop(sock);
    Ok(ExitCode::SUCCESS)
}

/// Starts the workers, serves the admin port, replaces workers that exit (paced as the
/// chosen supervisor paces it) and stops them all on SIGTERM/SIGINT.
async fn supervise(s: &Settings, fd: i32, local: SocketAddr) -> anyhow::Result<()> {
    let mut workers = Workers::start(s, fd).await?;
    let admin = match s.admin_port {
        Some(p) => Some(admin::spawn(&s.host, p, workers.backend.clone())?),
        None => None,
    };
    if s.worker.log {
        eprintln!("INFO:     Uvicorn running on http://{local} (Press CTRL+C to quit)");
    }
    server::print_ready(local, admin);
    let mut stop = StopSignals::new()?;
    let (poll, delay) = match s.supervisor {
        Supervisor::Uvicorn => (Duration::from_millis(500), s.healthcheck),
        Supervisor::Gunicorn => (Duration::from_millis(50), Duration::from_millis(150)),
    };
    let mut last_heartbeat_check = std::time::Instant::now();
    'outer: while !stop.during(poll).await {
        if s.supervisor == Supervisor::Gunicorn
            && last_heartbeat_check.elapsed() >= Duration::from_secs(1)
        {
            last_heartbeat_check = std::time::Instant::now();
            let b = workers.backend.clone();
            let limit = s.worker_timeout;
            let _ = tokio::task::spawn_blocking(move || kill_silent_workers(&b, limit)).await;
        }
        for i in 0..workers.children.len() {
            if !workers.exited(i, s) {
                continue;
            }
            let pid = workers.forget(i);
            if stop.during(delay).await {
                break 'outer;
            }
            if s.worker.log {
                eprintln!("INFO:     Child process [{pid}] died");
            }
            workers.restart(i).await;
        }
    }
    if s.worker.log {
        eprintln!("INFO:     Stopping parent process [{}]", std::process::id());
    }
    workers.stop(s).await;
    Ok(())
}

/// SIGTERM and SIGINT, which stop the supervisor.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits `d`; true when a stop signal came first.
    async fn during(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = self.term.recv() => true,
            _ = self.int.recv() => true,
            _ = tokio::time::sleep(d) => false,
        }
    }
}

/// The worker processes, one slot each, and the serial of the next one started.
struct Workers {
    backend: Arc<SupBackend>,
    children: Vec<Option<Child>>,
    generation: u64,
    /// The listening socket the workers inherit.
    fd: i32,
}

impl Workers {
    /// Starts `s.workers` workers, each ready before the next starts.
    async fn start(s: &Settings, fd: i32) -> anyhow::Result<Workers> {
        let backend = Arc::new(SupBackend {
            shared: Shared::default(),
            slots: Mutex::new(vec![None; s.workers as usize]),
            retired: Mutex::new(Counters::default()),
        });
        let mut w = Workers {
            backend,
            children: Vec::new(),
            generation: 0,
            fd,
        };
        for i in 0..s.workers {
            let (child, slot) = spawn(&w.backend, fd, i, w.generation).await?;
            w.generation += 1;
            set_slot(&w.backend, i, Some(slot));
            w.children.push(Some(child));
        }
        Ok(w)
    }

    /// Whether worker `i` is gone (a crash is counted and logged as it is noticed).
    fn exited(&mut self, i: usize, s: &Settings) -> bool {
        match self.children[i].as_mut() {
            Some(c) => match c.try_wait() {
                Ok(None) => false,
                Ok(Some(st)) => {
                    note_exit(&self.backend, s, st);
                    true
                }
                Err(_) => true,
            },
            None => true,
        }
    }

    /// Empties slot `i`; returns the pid it held (0 when none).
    fn forget(&mut self, i: usize) -> u32 {
        let pid = self
            .backend
            .slots
            .lock()
            .ok()
            .and_then(|v| v.get(i).copied().flatten())
            .map_or(0, |s| s.pid);
        set_slot(&self.backend, i as u32, None);
        self.children[i] = None;
        pid
    }

    /// Starts a new worker in slot `i` (counted as a restart; a failure is logged and the
    /// slot stays empty until the next poll).
    async fn restart(&mut self, i: usize) {
        match spawn(&self.backend, self.fd, i as u32, self.generation).await {
            Ok((child, slot)) => {
                set_slot(&self.backend, i as u32, Some(slot));
                self.children[i] = Some(child);
                self.backend.shared.restarts.fetch_add(1, Relaxed);
            }
            Err(e) => eprintln!("ERROR:    cannot restart worker {i}: {e:#}"),
        }
        self.generation += 1;
    }

    /// SIGTERM to every worker, then waits for each (uvicorn: as long as they take;
    /// gunicorn: 30 s, then SIGKILL).
    async fn stop(&mut self, s: &Settings) {
        for c in self.children.iter().flatten() {
            if let Some(pid) = c.id() {
                crate::sys::kill(pid, libc::SIGTERM);
            }
        }
        let grace = match s.supervisor {
            Supervisor::Uvicorn => Duration::from_secs(86_400),
            Supervisor::Gunicorn => Duration::from_secs(30),
        };
        for c in self.children.iter_mut().flatten() {
            if tokio::time::timeout(grace, c.wait()).await.is_err() {
                let _ = c.kill().await;
            }
        }
    }
}

/// Counts a worker that died by a signal or a failure exit as a crash, and says how it died
/// (a graceful `--limit-max-requests` exit is code 0 and not counted).
fn note_exit(b: &SupBackend, s: &Settings, st: std::process::ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    if st.success() {
        return;
    }
    b.shared.crashes.fetch_add(1, Relaxed);
    if s.worker.log {
        match st.signal() {
            Some(libc::SIGKILL) => {
                eprintln!("ERROR:    Worker was sent SIGKILL! Perhaps out of memory?")
            }
            Some(sig) => eprintln!("ERROR:    Worker was sent signal {sig}"),
            None => eprintln!(
                "ERROR:    Worker exited with code {}",
                st.code().unwrap_or(-1)
            ),
        }
    }
}

/// gunicorn's arbiter: a worker whose event loop has not sent a heartbeat within `limit` is
/// killed (`WORKER TIMEOUT`); the reaper then replaces it.
fn kill_silent_workers(b: &SupBackend, limit: Duration) {
    for slot in b.live() {
        let Ok((200, body)) = admin::request(slot.admin, "GET", "/heartbeat") else {
            continue;
        };
        let age = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["age_ms"].as_u64());
        if age.is_some_and(|a| a as u128 > limit.as_millis()) {
            eprintln!("[CRITICAL] WORKER TIMEOUT (pid:{})", slot.pid);
            crate::sys::kill(slot.pid, libc::SIGKILL);
        }
    }
}

fn set_slot(b: &SupBackend, i: u32, slot: Option<Slot>) {
    if let Ok(mut v) = b.slots.lock()
        && let Some(x) = v.get_mut(i as usize)
    {
        *x = slot;
    }
}

/// Starts worker `index` and waits (≤ 10 s) for its ready line.
async fn spawn(
    b: &Arc<SupBackend>,
    fd: i32,
    index: u32,
    generation: u64,
) -> anyhow::Result<(Child, Slot)> {
    let exe = std::env::current_exe().context("cannot find the current executable")?;
    let faults = serde_json::to_string(&b.shared.faults.state())?;
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(ENV_WORKER, index.to_string())
        .env(ENV_FD, fd.to_string())
        .env(ENV_PARENT, std::process::id().to_string())
        .env(ENV_GENERATION, generation.to_string())
        .env(ENV_FAULTS, faults)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start a worker process")?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take().context("worker stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .context("worker did not become ready within 10 s")??
        .context("worker exited before becoming ready")?;
    let admin: SocketAddr = first
        .strip_prefix(WORKER_READY)
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("unexpected worker line {first:?}"))?;
    let b = b.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(json) = line.strip_prefix(WORKER_FINAL)
                && let Ok(c) = serde_json::from_str::<Counters>(json)
                && let Ok(mut r) = b.retired.lock()
            {
                r.add(&c);
            }
        }
    });
    Ok((child, Slot { pid, admin }))
}
