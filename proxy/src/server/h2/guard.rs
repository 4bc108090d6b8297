//! nginx 1.22's flood limits on one HTTP/2 connection, enforced between the client's byte
//! stream and the `h2` crate (which answers PING and SETTINGS itself, one at a time). The
//! guard reads the socket as nginx does, up to `http2_recv_buffer_size` (256 KiB) at a time
//! ([`super::recv`]), and counts per read what nginx counts:
//!
//! - **byte ratio** (`ngx_http_v2_read_handler`): when an eighth of the bytes read and of the
//!   control frames sent exceeds the payload read (DATA, HEADERS and CONTINUATION frame
//!   contents) by more than 1 MiB, the client floods with frames that carry nothing (PING,
//!   SETTINGS, PRIORITY, WINDOW_UPDATE);
//! - **idle reads** (`ngx_http_v2_idle_handler`): more than `10 x keepalive_requests` reads
//!   bring data while no stream is open;
//! - **queued frames** (`ngx_http_v2_get_frame`): more than 10000 frames queued at once end
//!   the connection. nginx reads until a read comes back short, queueing the answer to every
//!   PING and SETTINGS, and writes only then; so the answers owed for the reads of one such
//!   loop, plus the frames still queued from before, count; output the socket does not take
//!   is queued here as nginx queues it, counted the same way;
//! - **`send_timeout`**: output the client has not taken for that long ends the connection.
//!
//! The first two stop reading and raise [`Watch::flood`]; the connection loop then sends
//! GOAWAY (NO_ERROR) and closes, as nginx. nginx checks the byte ratio after it has handled
//! every frame of the read, so the `h2` crate gets that read's bytes first (a request in it
//! is taken, and GOAWAY names it as processed); idle reads are counted before the read's
//! frames are handled. The others fail the connection's I/O (nginx closes without GOAWAY); a
//! queue flood raises [`Watch::queue_flood`] for the log.

use super::frames::Frames;
use super::preface::{Check, Refusal};
use super::recv::Ahead;
use super::timers::ConnLimits;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// nginx's cap on frames queued at once on one connection.
const MAX_QUEUED_FRAMES: usize = 10_000;
/// Bytes of output kept here while the socket is full (nginx's frame queue); past this the
/// `h2` crate waits (backpressure), so large responses are not buffered twice.
const QUEUE_BYTES: usize = 256 * 1024;
/// The client connection preface (`PRI * HTTP/2.0 ...`), which is not a frame.
const PREFACE_LEN: usize = 24;

/// What the connection loop and the guard share.
#[derive(Default, Debug)]
pub struct Watch {
    /// No stream is open (kept by the connection loop).
    pub idle: AtomicBool,
    /// Reads that brought data while idle (nginx's `h2c->idle`).
    idle_reads: AtomicU64,
    /// A flood was detected by the byte ratio or the idle reads: the guard stopped reading
    /// and the connection loop sends GOAWAY (NO_ERROR).
    pub flood: AtomicBool,
    /// Too many frames were queued at once: nginx closes without GOAWAY (the guard's I/O
    /// fails; the connection loop logs it).
    pub queue_flood: AtomicBool,
    /// The client stopped inside a frame (nginx's `h2c->state.incomplete`).
    pub partial: AtomicBool,
    /// The connection was refused before its preface was complete.
    pub refused: OnceLock<Refusal>,
}

/// What the read side counts (nginx's `total_bytes`, `payload_bytes` and frames queued).
struct Counts {
    read: Frames,
    total: u64,
    payload: u64,
    /// Answers owed for the frames read in this read loop (nginx reads until a read comes
    /// back short, queueing every answer, and only then writes).
    burst: usize,
    /// Frames still queued for the socket when the read loop began.
    queued_before: usize,
    /// The last read came back short: the read loop ended there.
    ended: bool,
    /// `10 x keepalive_requests`.
    idle_limit: u64,
}

/// Which flood `bytes` just read make, if any.
enum Flood {
    /// The byte ratio (GOAWAY NO_ERROR once the read's frames are handled).
    Ratio,
    /// The idle reads (GOAWAY NO_ERROR before the read's frames are handled).
    Idle,
    /// More than [`MAX_QUEUED_FRAMES`] frames queued (closed without GOAWAY).
    Queue,
}

impl Counts {
    /// Counts `bytes` just read (one read of the socket).
    fn read(&mut self, bytes: &[u8], watch: &Watch) -> Option<Flood> {
        let seen = self.read.feed(bytes);
        self.burst += seen.answers;
        watch.partial.store(self.read.partial(), Ordering::Relaxed);
        self.total += bytes.len() as u64;
        self.payload += seen.payload;
        let idle = watch.idle.load(Ordering::Relaxed)
            && watch.idle_reads.fetch_add(1, Ordering::Relaxed) + 1 > self.idle_limit;
        if self.burst + self.queued_before > MAX_QUEUED_FRAMES {
            Some(Flood::Queue)
        } else if idle {
            Some(Flood::Idle)
        } else if self.total / 8 > self.payload + (1 << 20) {
            Some(Flood::Ratio)
        } else {
            None
        }
    }

    /// The read loop ended (a short read, or the socket ran dry): nginx writes the answers
    /// it queued.
    fn loop_ended(&mut self, queued: usize) {
        self.burst = 0;
        self.queued_before = queued;
        self.ended = false;
    }
}

/// The client's byte stream with nginx's flood limits (see the module docs).
pub struct Guard<S> {
    io: S,
    watch: Arc<Watch>,
    counts: Counts,
    /// Bytes read in nginx's read size, not yet taken by `h2`.
    ahead: Ahead,
    /// The byte ratio was exceeded by the bytes in `ahead`: once `h2` has taken them the
    /// guard stops reading and raises [`Watch::flood`].
    flood_after: bool,
    /// Keep reading until the read buffer is full or the stream has nothing more (TLS, whose
    /// reads give a record at a time, as nginx's `ngx_ssl_recv` loops).
    fill: bool,
    /// The client's preface, while it is awaited.
    preface: Option<Check>,
    write: Frames,
    /// Output accepted while the socket was full, from `sent` on.
    queue: Vec<u8>,
    sent: usize,
    queued_frames: usize,
    send_timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<S> Guard<S> {
    /// Guards `io` (nothing read from it yet) with the connection's `limits`; `fill` for TLS
    /// streams.
    pub fn new(io: S, watch: Arc<Watch>, limits: &ConnLimits, fill: bool) -> Self {
        Guard {
            io,
            watch,
            counts: Counts {
                read: Frames::after(PREFACE_LEN),
                total: 0,
                payload: 0,
                burst: 0,
                queued_before: 0,
                ended: false,
                idle_limit: limits.keepalive_requests.saturating_mul(10),
            },
            ahead: Ahead::new(limits.read_size),
            flood_after: false,
            fill,
            preface: None,
            write: Frames::default(),
            queue: Vec::new(),
            sent: 0,
            queued_frames: 0,
            send_timeout: limits.send,
            stall: None,
        }
    }
}

impl<S> Guard<S> {
    /// Checks the client's preface as it is read ([`super::preface`]).
    pub fn await_preface(&mut self, check: Check) {
        self.preface = Some(check);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Guard<S> {
    /// Ends a connection whose preface did not come: GOAWAY (written after the SETTINGS
    /// already sent), then the read fails.
    fn refuse(&mut self, cx: &mut Context<'_>, r: Refusal) -> Poll<io::Result<()>> {
        let _ = self.watch.refused.set(r);
        self.preface = None;
        self.queue.extend_from_slice(&super::preface::goaway(r.0));
        let _ = self.drain(cx);
        Poll::Ready(Err(io::Error::other("no HTTP/2 connection preface")))
    }

    /// One read of nginx's size from the socket into `ahead`: the bytes read (0 at the end
    /// of the stream), or Pending when there was nothing.
    fn read_socket(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let space = self.ahead.space();
        let mut rb = ReadBuf::new(space);
        loop {
            let before = rb.filled().len();
            match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().len() > before => {
                    if !self.fill || rb.remaining() == 0 {
                        break;
                    }
                }
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(e)) if before == 0 => return Poll::Ready(Err(e)),
                Poll::Pending if before == 0 => {
                    // The socket ran dry (not the task's budget that ran out): nginx ends
                    // its read loop here and writes the answers it queued.
                    if tokio::task::coop::has_budget_remaining() {
                        self.counts.loop_ended(self.queued_frames);
                    }
                    return Poll::Pending;
                }
                // Drained after some bytes: the read is short, its bytes are returned.
                _ => {
                    self.counts.ended = true;
                    break;
                }
            }
        }
        let n = rb.filled().len();
        if n < self.ahead.size() {
            self.counts.ended = true;
        }
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.watch.flood.load(Ordering::Relaxed) {
            return Poll::Pending;
        }
        if !me.ahead.is_empty() {
            me.ahead.take(buf);
            return Poll::Ready(Ok(()));
        }
        if me.flood_after {
            // `h2` has handled the read that exceeded the byte ratio: stop here, the
            // connection loop sends GOAWAY and closes.
            me.watch.flood.store(true, Ordering::Relaxed);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if me.counts.ended {
            // `h2` took every byte of the read loop's last read: its answers were written.
            me.counts.loop_ended(me.queued_frames);
        }
        let n = match me.read_socket(cx) {
            Poll::Ready(Ok(n)) => n,
            other => {
                me.ahead.release();
                if other.is_pending()
                    && let Some(r) = me.preface.as_mut().and_then(|c| c.expired(cx))
                {
                    return me.refuse(cx, r);
                }
                return other.map_ok(|_| ());
            }
        };
        if n == 0 {
            me.ahead.release();
            return Poll::Ready(Ok(()));
        }
        let fresh = me.ahead.filled(n);
        if let Some(c) = me.preface.as_mut() {
            match c.feed(fresh) {
                Ok(false) => {}
                Ok(true) => me.preface = None,
                Err(r) => {
                    me.ahead.release();
                    return me.refuse(cx, r);
                }
            }
        }
        let fresh = me.ahead.filled(n);
        match me.counts.read(fresh, &me.watch) {
            None => {
                me.ahead.take(buf);
                Poll::Ready(Ok(()))
            }
            Some(Flood::Ratio) => {
                me.flood_after = true;
                me.ahead.take(buf);
                Poll::Ready(Ok(()))
            }
            Some(Flood::Idle) => {
                // Stop here: the connection loop sends GOAWAY and closes.
                me.ahead.release();
                me.watch.flood.store(true, Ordering::Relaxed);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Flood::Queue) => {
                me.ahead.release();
                me.watch.queue_flood.store(true, Ordering::Relaxed);
                Poll::Ready(Err(io::Error::other("http2 flood detected")))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Guard<S> {
    /// Writes queued output; Ready once the queue is empty.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.queue.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.queue[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.sent += n;
                    self.stall = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return self.stalled(cx),
            }
        }
        self.queue.clear();
        self.sent = 0;
        self.queued_frames = 0;
        Poll::Ready(Ok(()))
    }

    /// The socket is full: Pending until `send_timeout` passes without progress, then an error.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let t = self.send_timeout;
        let sleep = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + t)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Keeps `buf` in the queue (nginx queues answers it cannot send yet).
    fn enqueue(&mut self, buf: &[u8]) -> io::Result<usize> {
        let seen = self.write.feed(buf);
        self.counts.total += seen.control;
        self.queue.extend_from_slice(buf);
        self.queued_frames += seen.frames;
        if self.queued_frames > MAX_QUEUED_FRAMES {
            return Err(io::Error::other("http2 flood detected"));
        }
        Ok(buf.len())
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.sent < me.queue.len() {
            if let Poll::Ready(r) = me.drain(cx) {
                r?;
            } else if me.queue.len() - me.sent >= QUEUE_BYTES {
                return Poll::Pending;
            } else {
                return Poll::Ready(me.enqueue(buf));
            }
        }
        match Pin::new(&mut me.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                me.counts.total += me.write.feed(&buf[..n]).control;
                me.stall = None;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // Arm the send timer, then queue what fits.
                if let Poll::Ready(Err(e)) = me.stalled::<()>(cx) {
                    return Poll::Ready(Err(e));
                }
                let n = buf.len().min(QUEUE_BYTES);
                Poll::Ready(me.enqueue(&buf[..n]))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        Pin::new(&mut me.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        Pin::new(&mut me.io).poll_shutdown(cx)
    }
}
