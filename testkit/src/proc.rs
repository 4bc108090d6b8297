//! Child processes for tests: each in its own process group, SIGKILLed with its whole group on
//! drop (also when the test panics), stdout lines collected, stderr kept in a log file.
#![allow(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// A running child process owned by a test.
pub struct Proc {
    name: String,
    child: Child,
    stdout: Arc<(Mutex<Lines>, Condvar)>,
    stderr_path: PathBuf,
    _stderr_file: tempfile::NamedTempFile,
    exited: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` in a new process group with stdin closed, stdout captured line by line and
    /// stderr written to a temporary log file. `name` appears in messages.
    pub fn spawn(name: &str, mut cmd: Command) -> std::io::Result<Proc> {
        use std::os::unix::process::CommandExt;
        let stderr_file = tempfile::Builder::new()
            .prefix(&format!("proxylab-test-{name}-"))
            .suffix(".log")
            .tempfile()?;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_file.reopen()?);
        let mut child = cmd.spawn()?;
        let stdout = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
        if let Some(out) = child.stdout.take() {
            let shared = Arc::clone(&stdout);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let (m, cv) = &*shared;
                    m.lock().expect("stdout lock").lines.push(line);
                    cv.notify_all();
                }
                let (m, cv) = &*shared;
                m.lock().expect("stdout lock").closed = true;
                cv.notify_all();
            });
        }
        Ok(Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr_path: stderr_file.path().to_path_buf(),
            _stderr_file: stderr_file,
            exited: None,
        })
    }

    /// The child's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for a stdout line (already printed or future) matching `pred`.
    pub fn wait_stdout_line(
        &self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.stdout;
        let mut g = m.lock().expect("stdout lock");
        loop {
            if let Some(l) = g.lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if g.closed || left.is_zero() {
                return None;
            }
            g = cv.wait_timeout(g, left).expect("stdout lock").0;
        }
    }

    /// Every stdout line printed so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.0.lock().expect("stdout lock").lines.clone()
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
        // SAFETY: kill(2) with a pid we own; no memory is touched.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, sig);
        }
    }

    /// Sends `sig` to the child's whole process group.
    pub fn signal_group(&self, sig: i32) {
        // SAFETY: kill(2) on our child's process group; no memory is touched.
        unsafe {
            libc::kill(-(self.pid() as libc::pid_t), sig);
        }
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return self.exited;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.exited = Some(st);
                return self.exited;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A one-line description with the tail of stderr, for assertion messages.
    pub fn describe(&self) -> String {
        let log = self.stderr_log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} (pid {}) stderr tail:\n{}",
            self.name,
            self.pid(),
            tail.join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal_group(libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
