//! `proxy_buffering on`: the upstream response is read as fast as the upstream sends it —
//! into memory up to `proxy_buffers` (number × size), then into a temporary file under
//! `proxy_temp_path` (created on first use, unlinked at once, `temp_file_write_size` bytes
//! at a time; nginx's warn `an upstream response is buffered to a temporary file PATH`) —
//! while the client is written at its own pace. As nginx's event pipe, the file only grows:
//! once it holds `proxy_max_temp_file_size` bytes (0: no file at all) reading pauses until
//! the client has taken what waits. A write to the file that fails (a full disk) ends the
//! response at once, the client's connection closed mid-body, as nginx's `NGX_ABORT`. The
//! upstream connection is released (back to the keepalive pool, and the peer freed for the
//! balancer) as soon as the upstream response is complete, so a slow client does not hold
//! an upstream worker.

use super::framer::Framer;
use super::temp_file::{self, Call};
use crate::conf::body::TempPath;
use crate::conf::model::LogLevel;
use crate::live::pool::UpConn;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::error::{Cause, Error, Stage};
use crate::request::log::log_error;
use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Buffer limits and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes held in memory (`proxy_buffers` number × size).
    pub memory: usize,
    /// One of the `proxy_buffers` (a file write larger than this is nginx's `pwritev()`).
    pub buffer: usize,
    /// The most bytes written to the temp file in total (`proxy_max_temp_file_size`; 0 = no
    /// file).
    pub file: u64,
    /// The most bytes written to the temp file at a time (`proxy_temp_file_write_size`).
    pub write_size: usize,
    /// `proxy_read_timeout`.
    pub read_timeout: Duration,
    /// `send_timeout`.
    pub send_timeout: Duration,
}

/// Where responses spill and who hears of a new temp file.
pub struct Spool<'a> {
    /// `proxy_temp_path`.
    pub path: &'a TempPath,
    /// Called with the file's path when the temp file is created.
    pub on_file: &'a mut (dyn FnMut(&Path) + Send),
}

/// A temporary file failure while buffering the response (nginx's crit text + `while
/// reading upstream`).
fn temp_file_error(line: String) -> Error {
    Error::at(
        Stage::ReadingUpstream,
        Cause::TempFile(format!("{line} while reading upstream")),
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
}

/// The temp file: `written` bytes so far (it only grows), `read` of them sent on.
struct Spill {
    file: std::fs::File,
    path: PathBuf,
    written: u64,
    read: u64,
}

/// The response bytes waiting for the client, in order: `head` (memory), the unread part of
/// the temp file, `stage` (bytes for the file, written once a whole `write_size` piece is
/// there, as nginx writes whole groups of buffers), then `tail` (memory taken once the file
/// reached its limit).
#[derive(Default)]
struct Pending {
    head: VecDeque<Vec<u8>>,
    stage: Vec<u8>,
    tail: VecDeque<Vec<u8>>,
    /// Bytes in `head` and `tail`.
    queued: usize,
    spill: Option<Spill>,
}

impl Pending {
    /// Refills the empty `wbuf` with the next bytes for the client (memory, then the file,
    /// then what waits to be written to it, then the memory after it); Err when the
    /// temporary file cannot be read back.
    fn refill(&mut self, wbuf: &mut Vec<u8>) -> Result<(), ()> {
        if let Some(b) = self.head.pop_front() {
            self.queued -= b.len();
            *wbuf = b;
            return Ok(());
        }
        if let Some(s) = self.spill.as_mut().filter(|s| s.read < s.written) {
            let n = ((s.written - s.read) as usize).min(65536);
            wbuf.resize(n, 0);
            return match s.file.read_at(wbuf, s.read) {
                Ok(k) if k > 0 => {
                    wbuf.truncate(k);
                    s.read += k as u64;
                    Ok(())
                }
                _ => Err(()),
            };
        }
        if !self.stage.is_empty() {
            *wbuf = std::mem::take(&mut self.stage);
        } else if let Some(b) = self.tail.pop_front() {
            self.queued -= b.len();
            *wbuf = b;
        }
        Ok(())
    }

    /// Whether new bytes must follow bytes of the temporary file.
    fn after_file(&self) -> bool {
        !self.stage.is_empty()
            || !self.tail.is_empty()
            || self.spill.as_ref().is_some_and(|s| s.read < s.written)
    }

    /// Whether the next bytes read can go to memory ahead of the file.
    fn room_in_memory(&self, lim: &Limits) -> bool {
        !self.after_file() && self.queued < lim.memory
    }

    /// Bytes the temp file can still take (its limit less what it holds and what waits for
    /// it).
    fn file_room(&self, lim: &Limits) -> u64 {
        let written = self.spill.as_ref().map_or(0, |s| s.written);
        lim.file.saturating_sub(written + self.stage.len() as u64)
    }

    /// Whether the temp file can take more bytes.
    fn room_in_file(&self, lim: &Limits) -> bool {
        self.tail.is_empty() && self.file_room(lim) > 0
    }

    /// Keeps `data` in memory while there is room ahead of the file, else stages what the
    /// file can take (writing whole `write_size` pieces, or the last piece its limit
    /// allows) and keeps the rest in memory after it.
    fn store(&mut self, data: Vec<u8>, lim: &Limits, spool: &mut Spool<'_>) -> Result<(), Error> {
        if self.room_in_memory(lim) {
            self.queued += data.len();
            self.head.push_back(data);
            return Ok(());
        }
        let mut rest = &data[..];
        if self.room_in_file(lim) {
            let fits = self.file_room(lim).min(rest.len() as u64) as usize;
            self.stage.extend_from_slice(&rest[..fits]);
            rest = &rest[fits..];
            self.write_stage(lim, spool)?;
        }
        if !rest.is_empty() {
            self.queued += rest.len();
            self.tail.push_back(rest.to_vec());
        }
        Ok(())
    }

    /// Writes the staged bytes in whole `write_size` pieces (and the rest when the file's
    /// limit leaves no room for more): one `pwritev()` of several buffers, or `pwrite()` when
    /// a piece is one buffer.
    fn write_stage(&mut self, lim: &Limits, spool: &mut Spool<'_>) -> Result<(), Error> {
        let step = lim.write_size.max(1);
        let full = self.file_room(lim) == 0;
        let mut done = 0;
        while self.stage.len() - done >= step || (full && done < self.stage.len()) {
            let piece_len = step.min(self.stage.len() - done);
            let call = if piece_len > lim.buffer {
                Call::Pwritev
            } else {
                Call::Pwrite
            };
            let piece = &self.stage[done..done + piece_len];
            let s = match self.spill.as_mut() {
                Some(s) => s,
                None => spill_file(&mut self.spill, spool)?,
            };
            temp_file::write_at(&s.file, &s.path, call, piece, s.written)
                .map_err(temp_file_error)?;
            s.written += piece_len as u64;
            done += piece_len;
        }
        self.stage.drain(..done);
        Ok(())
    }
}

/// The temp file, created (and announced) on first use.
fn spill_file<'s>(
    spill: &'s mut Option<Spill>,
    spool: &mut Spool<'_>,
) -> Result<&'s mut Spill, Error> {
    let (file, path) = temp_file::create(spool.path, false).map_err(temp_file_error)?;
    (spool.on_file)(&path);
    Ok(spill.insert(Spill {
        file,
        path,
        written: 0,
        read: 0,
    }))
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

/// [`copy`] with the limits and temp path of `req`'s location, the temp file logged at
/// warn as nginx does.
pub async fn copy_for(
    client: &mut Client,
    req: &Req<'_>,
    conn: UpConn,
    framer: &mut Framer,
    first: Vec<u8>,
    release: impl FnMut(UpConn, bool),
) -> Outcome {
    let conf = &req.loc.proxy;
    let lim = Limits {
        memory: conf.buffers.0 * conf.buffers.1,
        buffer: conf.buffers.1,
        file: conf.max_temp_file_size,
        write_size: conf.temp_file_write_size,
        read_timeout: conf.read_timeout,
        send_timeout: req.loc.send_timeout,
    };
    let mut on_file = |p: &Path| {
        let msg = format!(
            "an upstream response is buffered to a temporary file {} while reading upstream",
            p.display()
        );
        log_error(req.live, req, LogLevel::Warn, &msg);
    };
    let mut spool = Spool {
        path: &conf.temp_path,
        on_file: &mut on_file,
    };
    copy(client, conn, framer, first, lim, &mut spool, release).await
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
    spool: &mut Spool<'_>,
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
        let can_read = up.is_some()
            && out.up_error.is_none()
            && (pending.room_in_memory(&lim) || pending.room_in_file(&lim));
        if !have && !can_read {
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
                let (data, done_ok) = upstream_read(r, framer, &mut rbuf, &mut out);
                if !data.is_empty()
                    && let Err(e) = pending.store(data, &lim, spool)
                {
                    // nginx's NGX_ABORT: the request ends here, what waits is dropped.
                    out.up_error = Some(e);
                    break;
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
