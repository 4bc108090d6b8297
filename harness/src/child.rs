//! A child process in its own process group: stdin closed, stdout read line by line on a
//! thread (every line kept, so a wait finds lines printed before it; each also copied to a
//! log file or a channel when asked), stderr where the caller says. The whole group is
//! SIGKILLed and the child reaped on drop, also when the owner panics.
#![allow(unsafe_code)] // killpg(2), which has no memory-safety preconditions

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where stdout lines are copied besides the child's own list.
#[derive(Debug, Default)]
pub struct Tee {
    /// A log file each line is appended to.
    pub file: Option<File>,
    /// A channel each line is sent to.
    pub channel: Option<Sender<String>>,
}

/// The stdout lines read so far.
#[derive(Debug, Default)]
struct Lines {
    lines: Vec<String>,
    /// Stdout reached its end.
    closed: bool,
}

type Shared = Arc<(Mutex<Lines>, Condvar)>;

/// A running (or exited) child process (see the module docs).
#[derive(Debug)]
pub struct Child {
    name: String,
    child: std::process::Child,
    stdout: Shared,
    exit: Option<ExitStatus>,
}

impl Child {
    /// Spawns `cmd` as `name` in a new process group, stdin closed, stdout read as above,
    /// stderr to `stderr`.
    pub fn spawn(name: &str, mut cmd: Command, stderr: Stdio, tee: Tee) -> std::io::Result<Child> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn()?;
        let stdout: Shared = Arc::default();
        if let Some(out) = child.stdout.take() {
            let shared = Arc::clone(&stdout);
            std::thread::spawn(move || read_lines(out, &shared, tee));
        }
        Ok(Child {
            name: name.to_string(),
            child,
            stdout,
            exit: None,
        })
    }

    /// The process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until a stdout line at index `*from` or later satisfies `pred`: returns it and
    /// moves `*from` past it; None when `deadline` passes or stdout ends first.
    pub fn wait_line(
        &self,
        from: &mut usize,
        deadline: Instant,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        let (m, cv) = &*self.stdout;
        let mut g = m.lock().ok()?;
        loop {
            let start = (*from).min(g.lines.len());
            if let Some(i) = g.lines[start..].iter().position(|l| pred(l)) {
                *from = start + i + 1;
                return Some(g.lines[start + i].clone());
            }
            *from = g.lines.len();
            let left = deadline.saturating_duration_since(Instant::now());
            if g.closed || left.is_zero() {
                return None;
            }
            g = cv.wait_timeout(g, left).ok()?.0;
        }
    }

    /// Every stdout line read so far.
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .0
            .lock()
            .map(|g| g.lines.clone())
            .unwrap_or_default()
    }

    /// The exit status once the child has exited (does not block).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits up to `timeout` for the child to exit; None while it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.exited() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `sig` to the child process itself.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child; no memory is touched.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, sig);
        }
    }

    /// Sends `sig` to the child's process group; false when no member is left.
    pub fn signal_group(&self, sig: i32) -> bool {
        // SAFETY: killpg(2) on the group we made; a stale group only yields ESRCH.
        unsafe { libc::killpg(self.pid() as libc::pid_t, sig) == 0 }
    }

    /// Whether a member of the child's process group is still running.
    pub fn group_alive(&self) -> bool {
        self.signal_group(0)
    }

    /// SIGKILL to the group, the child reaped, then a bounded wait (2 s) until no member of
    /// the group is left.
    pub fn kill(&mut self) {
        self.signal_group(libc::SIGKILL);
        let _ = self.child.kill();
        if self.exit.is_none() {
            self.exit = self.child.wait().ok();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.group_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exit.is_none() || self.group_alive() {
            self.kill();
        }
    }
}

/// The stdout reader: keeps each line, copies it to `tee`, wakes the waiters.
fn read_lines(out: std::process::ChildStdout, shared: &Shared, mut tee: Tee) {
    let (m, cv) = &**shared;
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        if let Some(f) = tee.file.as_mut() {
            let _ = writeln!(f, "{line}");
        }
        if let Some(tx) = &tee.channel
            && tx.send(line.clone()).is_err()
        {
            tee.channel = None;
        }
        if let Ok(mut g) = m.lock() {
            g.lines.push(line);
        }
        cv.notify_all();
    }
    if let Ok(mut g) = m.lock() {
        g.closed = true;
    }
    cv.notify_all();
}
