//! Child processes for tests (`proxylab_harness::Child`): each in its own process group,
//! SIGKILLed with its whole group on drop (also when the test panics), stdout lines
//! collected, stderr kept in a log file.

use proxylab_harness::{Child, Tee};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// A running child process owned by a test.
pub struct Proc {
    child: Child,
    stderr_path: PathBuf,
    /// The temporary stderr log (removed with the `Proc`), when the `Proc` made it.
    _stderr_file: Option<tempfile::NamedTempFile>,
}

impl Proc {
    /// Spawns `cmd` in a new process group with stdin closed, stdout captured line by line and
    /// stderr written to a temporary log file. `name` appears in messages.
    pub fn spawn(name: &str, cmd: Command) -> std::io::Result<Proc> {
        let stderr_file = tempfile::Builder::new()
            .prefix(&format!("proxylab-test-{name}-"))
            .suffix(".log")
            .tempfile()?;
        let child = Child::spawn(name, cmd, stderr_file.reopen()?.into(), Tee::default())?;
        Ok(Proc {
            child,
            stderr_path: stderr_file.path().to_path_buf(),
            _stderr_file: Some(stderr_file),
        })
    }

    /// A test's handle on a child started elsewhere (nginx by `proxylab_harness::nginx`),
    /// whose stderr goes to `stderr_path`.
    pub(crate) fn adopt(child: Child, stderr_path: PathBuf) -> Proc {
        Proc {
            child,
            stderr_path,
            _stderr_file: None,
        }
    }

    /// The child's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Waits up to `timeout` for a stdout line (already printed or future) matching `pred`.
    pub fn wait_stdout_line(
        &self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        self.child
            .wait_line(&mut 0, Instant::now() + timeout, |l| pred(l))
    }

    /// Every stdout line printed so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.child.lines()
    }

    /// The stderr log so far.
    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Path of the stderr log file.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`) to the child process itself.
    pub fn signal(&self, sig: i32) {
        self.child.signal(sig);
    }

    /// Sends `sig` to the child's whole process group.
    pub fn signal_group(&self, sig: i32) {
        self.child.signal_group(sig);
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_exit(timeout)
    }

    /// A one-line description with the tail of stderr, for assertion messages.
    pub fn describe(&self) -> String {
        let log = self.stderr_log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} (pid {}) stderr tail:\n{}",
            self.child.name(),
            self.pid(),
            tail.join("\n")
        )
    }
}
