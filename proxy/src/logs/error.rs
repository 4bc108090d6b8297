//! The error log: nginx-formatted lines (`2026/11/26 04:50:33 [error] PID#TID: *CONN msg,
//! client: IP, server: NAME, request: "…", upstream: "…", host: "…"`) to a file or stderr,
//! filtered by level.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

/// Error log severity, nginx's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `notice`.
    Notice,
    /// `warn`.
    Warn,
    /// `error` (the default).
    Error,
    /// `crit`.
    Crit,
    /// `alert`.
    Alert,
    /// `emerg`.
    Emerg,
}

impl LogLevel {
    /// Parses nginx's level name.
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "notice" => LogLevel::Notice,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            "crit" => LogLevel::Crit,
            "alert" => LogLevel::Alert,
            "emerg" => LogLevel::Emerg,
            _ => return None,
        })
    }

    /// nginx's name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Crit => "crit",
            LogLevel::Alert => "alert",
            LogLevel::Emerg => "emerg",
        }
    }
}

/// An open error log.
#[derive(Debug)]
pub struct ErrorLog {
    level: LogLevel,
    out: Mutex<Option<std::fs::File>>,
}

impl ErrorLog {
    /// Opens `path` for appending (`stderr` or an open failure → stderr) with minimum `level`.
    pub fn open(path: Option<PathBuf>, level: LogLevel) -> ErrorLog {
        let file = path.filter(|p| p.as_os_str() != "stderr").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        ErrorLog {
            level,
            out: Mutex::new(file),
        }
    }

    /// Whether lines at `level` are written.
    pub fn enabled(&self, level: LogLevel) -> bool {
        level >= self.level
    }

    /// Writes one line: `msg` already holds the context part (`*N ... , client: ...`).
    pub fn log(&self, level: LogLevel, msg: &str) {
        if !self.enabled(level) {
            return;
        }
        let pid = std::process::id();
        let line = format!(
            "{} [{}] {pid}#{pid}: {msg}\n",
            super::time::error_stamp(SystemTime::now()),
            level.name()
        );
        let mut g = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

/// `errno: text` as nginx prints it.
pub fn os_error(e: &std::io::Error) -> String {
    let code = e.raw_os_error().unwrap_or(0);
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    format!("{code}: {text}")
}
