//! `proxy_buffering on`: the upstream response is read as fast as the upstream sends it —
//! into memory up to `proxy_buffers` (number × size), then into a temporary file up to
//! `proxy_max_temp_file_size` (0: no file, reading pauses) — while the client is written at
//! its own pace. The upstream connection is released (back to the keepalive pool, and the
//! peer freed for the balancer) as soon as the upstream response is complete, so a slow
//! client does not hold an upstream worker.

use super::framer::Framer;
use crate::live::pool::UpConn;
use crate::request::client::Client;
use crate::request::error::{Cause, Error, Stage};
use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Buffer limits and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes held in memory (`proxy_buffers` number × size).
    pub memory: usize,
    /// Temp file limit (`proxy_max_temp_file_size`; 0 = none).
    pub file: u64,
    /// `proxy_read_timeout`.
    pub read_timeout: Duration,
    /// `send_timeout`.
    pub send_timeout: Duration,
}

/// A temporary file failure while buffering the response (`WHAT while reading upstream`).
fn temp_file(what: &str) -> Error {
    Error::at(
        Stage::ReadingUpstream,
        Cause::TempFile(format!("{what} while reading upstream")),
    )
}

/// What the copy did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Bytes written to the client.
    pub sent: u64,
    /// Upstream failure (nginx's error-log text).
    pub up_error: Option<Error>,
    /// The client failed or went away.
    pub client_error: bool,
    /// Part of the response went through a temporary file.
    pub spilled: bool,
}

struct Spill {
    file: std::fs::File,
    written: u64,
    read: u64,
}

/// The response bytes waiting for the client: in memory up to `Limits::memory`, then in a
/// temporary file up to `Limits::file`.
#[derive(Default)]
struct Pending {
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    spill: Option<Spill>,
}

impl Pending {
    /// Refills the empty `wbuf` with the next bytes for the client (memory first, then the
    /// file); Err when the temporary file cannot be read back.
    fn refill(&mut self, wbuf: &mut Vec<u8>) -> Result<(), ()> {
        if let Some(b) = self.queue.pop_front() {
            self.queued -= b.len();
            *wbuf = b;
            return Ok(());
        }
        let Some(s) = self.spill.as_mut().filter(|s| s.read < s.written) else {
            return Ok(());
        };
        let n = ((s.written - s.read) as usize).min(65536);
        wbuf.resize(n, 0);
        match s.file.read_at(wbuf, s.read) {
            Ok(k) if k > 0 => {
                wbuf.truncate(k);
                s.read += k as u64;
            }
            _ => return Err(()),
        }
        if s.read == s.written {
            let _ = s.file.set_len(0);
            s.read = 0;
            s.written = 0;
        }
        Ok(())
    }

    /// Whether bytes wait in the temporary file (new bytes must follow them there).
    fn spilling(&self) -> bool {
        self.spill.as_ref().is_some_and(|s| s.written > 0)
    }

    /// Bytes waiting in the temporary file.
    fn in_file(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.written)
    }

    /// Keeps `data` in memory when `in_memory`, else appends it to the temporary file
    /// (created on first use); `spilled` is set once the file is used.
    fn store(&mut self, data: Vec<u8>, in_memory: bool, spilled: &mut bool) -> Result<(), Error> {
        if in_memory {
            self.queued += data.len();
            self.queue.push_back(data);
            return Ok(());
        }
        if self.spill.is_none() {
            let file =
                tempfile::tempfile().map_err(|_| temp_file("cannot create temporary file"))?;
            self.spill = Some(Spill {
                file,
                written: 0,
                read: 0,
            });
        }
        if let Some(s) = self.spill.as_mut() {
            if s.file.write_all_at(&data, s.written).is_err() {
                return Err(temp_file("write() to temporary file failed"));
            }
            s.written += data.len() as u64;
            *spilled = true;
        }
        Ok(())
    }
}

/// Feeds one upstream read's result (bytes read, or why the read failed) to the framer: the
/// client bytes it produced, and whether the upstream part ended (Some(complete without
/// error)).
fn upstream_read(
    r: Result<usize, Cause>,
    framer: &mut Framer,
    rbuf: &mut Vec<u8>,
    out: &mut Outcome,
) -> (Vec<u8>, Option<bool>) {
    let mut data = Vec::new();
    let failed = |cause| Some(Error::at(Stage::ReadingUpstream, cause));
    let done = match r {
        Err(cause) => {
            out.up_error = failed(cause);
            Some(false)
        }
        Ok(0) => {
            out.up_error = framer.eof(&mut data).err();
            Some(false)
        }
        Ok(_) => {
            out.up_error = framer.feed(rbuf, &mut data).err();
            rbuf.clear();
            (framer.complete || out.up_error.is_some())
                .then(|| framer.complete && out.up_error.is_none())
        }
    };
    (data, done)
}

/// Copies the response body; `first` holds client bytes already produced (head + the body
/// bytes read with it). `release(conn, reusable)` is called once, when the upstream side is
/// finished (complete or failed).
pub async fn copy(
    client: &mut Client,
    conn: UpConn,
    framer: &mut Framer,
    first: Vec<u8>,
    lim: Limits,
    mut release: impl FnMut(UpConn, bool),
) -> Outcome {
    let mut out = Outcome::default();
    let mut pending = Pending::default();
    let mut up = Some(conn);
    let mut wbuf: Vec<u8> = first;
    let mut wpos = 0usize;
    let mut rbuf: Vec<u8> = Vec::with_capacity(16384);
    if framer.complete
        && let Some(c) = up.take()
    {
        release(c, true);
    }
    loop {
        if wpos == wbuf.len() {
            wbuf.clear();
            wpos = 0;
            if pending.refill(&mut wbuf).is_err() {
                out.client_error = true;
                break;
            }
        }
        let have = wpos < wbuf.len();
        let room_mem = !pending.spilling() && pending.queued < lim.memory;
        let room_file = lim.file > 0 && pending.in_file() < lim.file;
        let can_read = up.is_some() && out.up_error.is_none() && (room_mem || room_file);
        if !have && (up.is_none() || !can_read) {
            // (upstream paused on full buffers with nothing to write cannot happen; be safe)
            break;
        }
        tokio::select! {
            r = async {
                match up.as_mut().map(|c| &mut c.stream) {
                    Some(s) => match tokio::time::timeout(lim.read_timeout, s.read_buf(&mut rbuf)).await {
                        Ok(read) => read.map_err(|e| Cause::Os("recv", e)),
                        Err(_) => Err(Cause::TimedOut),
                    },
                    None => std::future::pending().await,
                }
            }, if can_read => {
                let (data, mut done_ok) = upstream_read(r, framer, &mut rbuf, &mut out);
                if !data.is_empty()
                    && let Err(e) = pending.store(data, room_mem, &mut out.spilled)
                {
                    out.up_error = Some(e);
                    done_ok = Some(false);
                }
                if let Some(ok) = done_ok
                    && let Some(c) = up.take()
                {
                    release(c, ok);
                }
            }
            w = tokio::time::timeout(lim.send_timeout, client.stream.write(&wbuf[wpos..])), if have => {
                match w {
                    Ok(Ok(n)) if n > 0 => {
                        wpos += n;
                        out.sent += n as u64;
                    }
                    _ => {
                        out.client_error = true;
                        break;
                    }
                }
            }
        }
    }
    if let Some(c) = up.take() {
        release(c, false);
    }
    let _ = client.stream.flush().await;
    out
}
