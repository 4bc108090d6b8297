//! Access log writers: one per file, unbuffered (a write per line, as nginx) or with
//! `buffer=SIZE` (written when the next line does not fit, or `flush=TIME` after the first line
//! entered an empty buffer, or on drop/reload), and nginx's default escaping.

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
            }),
        })
    }

    fn write_out(inner: &mut Inner, data: &[u8]) {
        match inner.file.as_mut() {
            Some(f) => {
                let _ = f.write_all(data);
            }
            None => {
                let _ = std::io::stderr().write_all(data);
            }
        }
    }

    /// Logs one line (must end with `\n`).
    pub fn write_line(&self, line: &[u8]) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if self.cap == 0 {
            Self::write_out(&mut g, line);
            return;
        }
        if g.buf.len() + line.len() > self.cap {
            let data = std::mem::take(&mut g.buf);
            Self::write_out(&mut g, &data);
            g.first_at = None;
        }
        if line.len() > self.cap {
            Self::write_out(&mut g, line);
            return;
        }
        if g.buf.is_empty() {
            g.first_at = Some(Instant::now());
        }
        g.buf.extend_from_slice(line);
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
            Self::write_out(&mut g, &data);
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
