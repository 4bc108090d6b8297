//! One component process (`proxylab_harness::Child`): spawned in its own process group,
//! stdout and stderr appended to its log file, stdout lines also kept for readiness checks;
//! stopped with its whole group.

use super::os;
use proxylab_harness::{Child, Tee};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running (or exited) component process.
#[derive(Debug)]
pub struct Proc {
    /// Component name (`proxy`, `api.0`, `loadgen`).
    pub name: String,
    child: Child,
    /// Its log file (stdout + stderr).
    pub log: PathBuf,
    /// The first stdout line [`Proc::wait_line`] has not looked at yet.
    next_line: usize,
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
        let stderr = Stdio::from(f.try_clone()?);
        let tee = Tee {
            file: Some(f),
            channel: None,
        };
        Ok(Proc {
            name: name.to_string(),
            child: Child::spawn(name, cmd, stderr, tee)?,
            log: log.to_path_buf(),
            next_line: 0,
        })
    }

    /// Process id (= process group id).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Waits until a stdout line not looked at by an earlier wait satisfies `pred` (returns
    /// it) or the deadline passes or the process exits (None).
    pub fn wait_line(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        loop {
            // Short slices, so that an exit whose stdout is held open by a grandchild is seen.
            let slice = deadline.min(Instant::now() + Duration::from_millis(100));
            if let Some(l) = self.child.wait_line(&mut self.next_line, slice, &mut pred) {
                return Some(l);
            }
            if self.exited().is_some() || Instant::now() >= deadline {
                return None;
            }
            // Stdout ended before the slice did: the process is exiting.
            if Instant::now() < slice {
                std::thread::sleep(
                    Duration::from_millis(20).min(slice.saturating_duration_since(Instant::now())),
                );
            }
        }
    }

    /// The exit status once the process has exited (non-blocking).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.exited()
    }

    /// Sends `sig` to the process group.
    pub fn signal(&self, sig: i32) {
        self.child.signal_group(sig);
    }

    /// SIGTERM to the group, up to `grace` for it to go, then SIGKILL; reaps the leader and
    /// waits (bounded) until no member of the group is left.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_none() || self.child.group_alive() {
            self.child.signal_group(libc::SIGCONT);
            self.child.signal_group(libc::SIGTERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && (self.exited().is_none() || self.child.group_alive())
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }

    /// SIGKILL to the group, reap the leader, wait (≤ 2 s) for the group to vanish.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
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
    proxylab_harness::free_port()
}

/// Waits until `127.0.0.1:port` accepts a TCP connection, the deadline passes (false), or
/// `alive()` turns false.
pub fn wait_port(port: u16, deadline: Instant, alive: impl FnMut() -> bool) -> bool {
    proxylab_harness::wait_port(([127, 0, 0, 1], port).into(), deadline, alive)
}
