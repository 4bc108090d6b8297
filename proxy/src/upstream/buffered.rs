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
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut queued = 0usize;
    let mut spill: Option<Spill> = None;
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
            if let Some(b) = queue.pop_front() {
                queued -= b.len();
                wbuf = b;
            } else if let Some(s) = spill.as_mut()
                && s.read < s.written
            {
                let n = ((s.written - s.read) as usize).min(65536);
                wbuf.resize(n, 0);
                match s.file.read_at(&mut wbuf, s.read) {
                    Ok(k) if k > 0 => {
                        wbuf.truncate(k);
                        s.read += k as u64;
                    }
                    _ => {
                        out.client_error = true;
                        break;
                    }
                }
                if s.read == s.written {
                    let _ = s.file.set_len(0);
                    s.read = 0;
                    s.written = 0;
                }
            }
        }
        let have = wpos < wbuf.len();
        let spilling = spill.as_ref().is_some_and(|s| s.written > 0);
        let room_mem = !spilling && queued < lim.memory;
        let room_file = lim.file > 0 && spill.as_ref().map_or(0, |s| s.written) < lim.file;
        let can_read = up.is_some() && out.up_error.is_none() && (room_mem || room_file);
        if !have && up.is_none() {
            break;
        }
        if !have && !can_read {
            // Upstream paused on full buffers with nothing to write cannot happen; be safe.
            break;
        }
        tokio::select! {
            r = async {
                let c = up.as_mut().map(|c| &mut c.stream);
                match c {
                    Some(s) => tokio::time::timeout(lim.read_timeout, s.read_buf(&mut rbuf)).await,
                    None => std::future::pending().await,
                }
            }, if can_read => {
                let mut data = Vec::new();
                let mut done_ok = None;
                match r {
                    Err(_) => {
                        out.up_error = Some(Error::at(Stage::ReadingUpstream, Cause::TimedOut));
                        done_ok = Some(false);
                    }
                    Ok(Err(e)) => {
                        out.up_error = Some(Error::at(Stage::ReadingUpstream, Cause::Os("recv", e)));
                        done_ok = Some(false);
                    }
                    Ok(Ok(0)) => {
                        out.up_error = framer.eof(&mut data).err();
                        done_ok = Some(false);
                    }
                    Ok(Ok(_)) => {
                        out.up_error = framer.feed(&rbuf, &mut data).err();
                        rbuf.clear();
                        if framer.complete || out.up_error.is_some() {
                            done_ok = Some(framer.complete && out.up_error.is_none());
                        }
                    }
                }
                if !data.is_empty() {
                    if room_mem {
                        queued += data.len();
                        queue.push_back(data);
                    } else {
                        if spill.is_none() {
                            match tempfile::tempfile() {
                                Ok(file) => spill = Some(Spill { file, written: 0, read: 0 }),
                                Err(_) => {
                                    out.up_error = Some(temp_file("cannot create temporary file"));
                                    done_ok = Some(false);
                                }
                            }
                        }
                        if let Some(s) = spill.as_mut() {
                            if s.file.write_all_at(&data, s.written).is_ok() {
                                s.written += data.len() as u64;
                                out.spilled = true;
                            } else {
                                out.up_error = Some(temp_file("write() to temporary file failed"));
                                done_ok = Some(false);
                            }
                        }
                    }
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
