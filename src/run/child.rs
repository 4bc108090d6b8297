//! One component process: spawned in its own process group, stdout and stderr appended to its
//! log file, stdout lines also forwarded for readiness checks; stopped with its whole group.

use super::os;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running (or exited) component process.
#[derive(Debug)]
pub struct Proc {
    /// Component name (`proxy`, `api.0`, `loadgen`).
    pub name: String,
    child: Child,
    /// Its log file (stdout + stderr).
    pub log: PathBuf,
    lines: mpsc::Receiver<String>,
    exit: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` as component `name`, in its own process group (pinned to `cpus`), with
    /// stdin closed and output appended to `log`.
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        log: &Path,
        cpus: &[usize],
    ) -> std::io::Result<Proc> {
        let mut f = File::options().create(true).append(true).open(log)?;
        if cpus.is_empty() {
            writeln!(f, "=== proxylab: starting {name}: {cmd:?}")?;
        } else {
            writeln!(f, "=== proxylab: starting {name} on CPUs {cpus:?}: {cmd:?}")?;
        }
        os::prepare(&mut cmd, cpus);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(f.try_clone()?);
        let mut child = cmd.spawn()?;
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut f = f;
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(f, "{line}");
                    let _ = tx.send(line);
                }
            });
        }
        Ok(Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            lines: rx,
            exit: None,
        })
    }

    /// Process id (= process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a stdout line satisfies `pred` (returns it) or the deadline passes or the
    /// process exits (None).
    pub fn wait_line(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(l) if pred(&l) => return Some(l),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.exited().is_some() {
                        return None;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is exiting or exited.
                    std::thread::sleep(Duration::from_millis(20).min(left));
                    if self.exited().is_some() || Instant::now() >= deadline {
                        return None;
                    }
                }
            }
        }
    }

    /// The exit status once the process has exited (non-blocking).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Sends `sig` to the process group.
    pub fn signal(&self, sig: i32) {
        os::signal_group(self.pid(), sig);
    }

    /// SIGTERM to the group, up to `grace` for it to go, then SIGKILL; reaps the leader and
    /// waits (bounded) until no member of the group is left.
    pub fn stop(&mut self, grace: Duration) {
        let pg = self.pid();
        if self.exited().is_none() || os::group_alive(pg) {
            os::signal_group(pg, libc::SIGCONT);
            os::signal_group(pg, libc::SIGTERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && (self.exited().is_none() || os::group_alive(pg)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }

    /// SIGKILL to the group, reap the leader, wait (≤ 2 s) for the group to vanish.
    pub fn kill(&mut self) {
        let pg = self.pid();
        os::signal_group(pg, libc::SIGKILL);
        let _ = self.child.kill();
        if self.exit.is_none() {
            self.exit = self.child.wait().ok();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while os::group_alive(pg) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exit.is_none() || os::group_alive(self.pid()) {
            self.kill();
        }
    }
}

/// The last `n` lines of a file (empty when unreadable).
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `127.0.0.1:port` accepts a TCP connection, the deadline passes (false), or
/// `alive()` turns false.
pub fn wait_port(port: u16, deadline: Instant, mut alive: impl FnMut() -> bool) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline || !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
