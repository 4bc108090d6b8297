//! Access log writers: one per file, unbuffered (a write per line, as nginx) or with
//! `buffer=SIZE` (written when the next line does not fit, or `flush=TIME` after the first line
//! entered an empty buffer, or on drop/reload), and nginx's default escaping. A failed write
//! is reported as nginx's `ngx_http_log_write` does: at most one error line a minute (the
//! caller logs it at `alert`), and after ENOSPC (a full disk) no write is tried for a second.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `log_format ... escape=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEscape {
    /// `\xHH` for control, `"`, `\`, and bytes ≥ 0x7F.
    Default,
    /// JSON string escaping.
    Json,
    /// No escaping.
    None,
}

/// Appends `v` escaped as nginx's `escape=default` (`\xHH` for control bytes, `"`, `\`, and
/// bytes ≥ 0x7F) or `escape=json`.
pub fn escape_into(v: &[u8], esc: LogEscape, out: &mut Vec<u8>) {
    match esc {
        LogEscape::None => out.extend_from_slice(v),
        LogEscape::Default => {
            for &b in v {
                if b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f {
                    out.extend_from_slice(format!("\\x{b:02X}").as_bytes());
                } else {
                    out.push(b);
                }
            }
        }
        LogEscape::Json => {
            for &b in v {
                match b {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                    _ => out.push(b),
                }
            }
        }
    }
}

struct Inner {
    file: Option<std::fs::File>,
    buf: Vec<u8>,
    first_at: Option<Instant>,
    /// When the last write error was reported (nginx: `error_log_time`, once a minute).
    error_at: Option<Instant>,
    /// When a write last failed with ENOSPC (nginx: `disk_full_time`, writes skipped for 1 s).
    full_at: Option<Instant>,
}

/// One access log file.
pub struct AccessWriter {
    path: PathBuf,
    cap: usize,
    flush: Option<Duration>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for AccessWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl AccessWriter {
    /// Opens `path` for appending; `buffer` bytes of buffering (0 = none), `flush` interval.
    pub fn open(
        path: &Path,
        buffer: usize,
        flush: Option<Duration>,
    ) -> std::io::Result<AccessWriter> {
        let file = if path.as_os_str() == "stderr" {
            None
        } else {
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        Ok(AccessWriter {
            path: path.to_path_buf(),
            cap: buffer,
            flush,
            inner: Mutex::new(Inner {
                file,
                buf: Vec::with_capacity(buffer),
                first_at: None,
                error_at: None,
                full_at: None,
            }),
        })
    }

    /// Writes `data`; on failure, the error line to report when one is due (nginx's
    /// `write() to "PATH" failed (…)`). Within a second of a full disk nothing is written.
    fn write_out(&self, inner: &mut Inner, data: &[u8]) -> Option<String> {
        let now = Instant::now();
        if inner
            .full_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return None;
        }
        let r = match inner.file.as_mut() {
            Some(f) => f.write_all(data),
            None => std::io::stderr().write_all(data),
        };
        let e = r.err()?;
        if e.raw_os_error() == Some(libc::ENOSPC) {
            inner.full_at = Some(now);
        }
        if inner
            .error_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(60))
        {
            return None;
        }
        inner.error_at = Some(now);
        Some(format!(
            "write() to \"{}\" failed ({})",
            self.path.display(),
            super::os_error(&e)
        ))
    }

    /// Logs one line (must end with `\n`); a write that failed gives the error line to log
    /// (at most one a minute).
    pub fn write_line(&self, line: &[u8]) -> Option<String> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if self.cap == 0 {
            return self.write_out(&mut g, line);
        }
        let mut failed = None;
        if g.buf.len() + line.len() > self.cap {
            let data = std::mem::take(&mut g.buf);
            failed = self.write_out(&mut g, &data);
            g.first_at = None;
        }
        if line.len() > self.cap {
            return self.write_out(&mut g, line).or(failed);
        }
        if g.buf.is_empty() {
            g.first_at = Some(Instant::now());
        }
        g.buf.extend_from_slice(line);
        failed
    }

    /// Writes the buffer if its `flush` time has come (or `force`).
    pub fn flush_due(&self, now: Instant, force: bool) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let due = match (g.first_at, self.flush) {
            (Some(t), Some(f)) => now.duration_since(t) >= f,
            _ => false,
        };
        if (due || force) && !g.buf.is_empty() {
            let data = std::mem::take(&mut g.buf);
            // No request to log a failure with here (nginx's timer flush logs it alone).
            let _ = self.write_out(&mut g, &data);
            g.first_at = None;
        }
    }
}

impl Drop for AccessWriter {
    fn drop(&mut self) {
        self.flush_due(Instant::now(), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_nginx() {
        let mut out = Vec::new();
        escape_into("a\"ü\\".as_bytes(), LogEscape::Default, &mut out);
        assert_eq!(out, b"a\\x22\\xC3\\xBC\\x5C");
    }

    /// /dev/full answers every write with ENOSPC: one error line, then a second without
    /// writes, then (past it) no new line within the minute.
    #[test]
    fn a_full_disk_is_reported_once_a_minute_and_skipped_for_a_second() {
        let w = AccessWriter::open(Path::new("/dev/full"), 0, None).unwrap();
        let first = w.write_line(b"a\n");
        assert_eq!(
            first.as_deref(),
            Some("write() to \"/dev/full\" failed (28: No space left on device)")
        );
        assert_eq!(w.write_line(b"b\n"), None);
        let mut g = w.inner.lock().unwrap();
        g.full_at = g.full_at.map(|t| t - Duration::from_secs(2));
        drop(g);
        assert_eq!(w.write_line(b"c\n"), None, "one line a minute");
        assert!(w.inner.lock().unwrap().full_at.unwrap().elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn buffer_and_flush() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let w = AccessWriter::open(&p, 32, Some(Duration::from_secs(5))).unwrap();
        w.write_line(b"0123456789\n");
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        w.flush_due(Instant::now(), false);
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        w.flush_due(Instant::now() + Duration::from_secs(6), false);
        assert_eq!(std::fs::read(&p).unwrap(), b"0123456789\n");
        w.write_line(b"0123456789\n");
        w.write_line(b"0123456789\n");
        w.write_line(b"0123456789\n");
        assert_eq!(std::fs::read(&p).unwrap().len(), 33);
        drop(w);
        assert_eq!(std::fs::read(&p).unwrap().len(), 44);
    }
}
