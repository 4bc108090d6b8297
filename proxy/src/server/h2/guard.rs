//! nginx 1.22's flood limits on one HTTP/2 connection, enforced between the client's byte
//! stream and the `h2` crate (which answers PING and SETTINGS itself, one at a time):
//!
//! - **byte ratio** (`ngx_http_v2_read_handler`): when an eighth of the bytes read exceeds the
//!   payload read (DATA, HEADERS and CONTINUATION frame contents) by more than 1 MiB, the
//!   client floods with frames that carry nothing (PING, SETTINGS, PRIORITY, WINDOW_UPDATE);
//! - **idle reads** (`ngx_http_v2_idle_handler`): more than `10 x keepalive_requests` reads
//!   bring data while no stream is open;
//! - **queued frames** (`ngx_http_v2_get_frame`): more than 10000 frames queued at once end
//!   the connection. nginx queues the answers to every PING and SETTINGS it reads before it
//!   writes (after its read loop), so a burst of more than 10000 of them read without the
//!   socket running dry counts; and output the socket does not take is queued here as nginx
//!   queues it, counted the same way;
//! - **`send_timeout`**: output the client has not taken for that long ends the connection.
//!
//! The first two stop reading and raise [`Watch::flood`]; the connection loop then sends
//! GOAWAY (NO_ERROR) and closes, as nginx. The last two fail the connection's I/O.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// A flood was detected: the guard stopped reading.
    pub flood: AtomicBool,
    /// The client stopped inside a frame (nginx's `h2c->state.incomplete`).
    pub partial: AtomicBool,
}

/// Frame boundaries in one direction of the connection.
#[derive(Default)]
struct Frames {
    /// Bytes left in the current frame's payload (or the preface).
    skip: usize,
    /// The current frame's payload counts as payload.
    counted: bool,
    /// Frame header bytes gathered so far.
    head: [u8; 9],
    have: usize,
}

impl Frames {
    /// Follows `bytes`; returns the frames that start in them, how many of those need an
    /// answer (PING and SETTINGS without ACK) and the payload bytes in them.
    fn feed(&mut self, mut bytes: &[u8]) -> (usize, usize, u64) {
        let (mut frames, mut answers, mut payload) = (0, 0, 0u64);
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                if self.counted {
                    payload += n as u64;
                }
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.have).min(bytes.len());
            self.head[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 9 {
                self.have = 0;
                frames += 1;
                let h = &self.head;
                self.skip = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                // DATA, HEADERS, CONTINUATION.
                self.counted = matches!(h[3], 0 | 1 | 9);
                if matches!(h[3], 4 | 6) && h[4] & 1 == 0 {
                    answers += 1;
                }
            }
        }
        (frames, answers, payload)
    }
}

/// The client's byte stream with nginx's flood limits (see the module docs).
pub struct Guard<S> {
    io: S,
    watch: Arc<Watch>,
    read: Frames,
    total: u64,
    payload: u64,
    /// Frames needing an answer read since the socket last ran dry (nginx reads until then,
    /// queueing every answer, and only then writes).
    burst: usize,
    /// `10 x keepalive_requests`.
    idle_limit: u64,
    write: Frames,
    /// Output accepted while the socket was full, from `sent` on.
    queue: Vec<u8>,
    sent: usize,
    queued_frames: usize,
    send_timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<S> Guard<S> {
    /// Guards `io` (nothing read from it yet).
    pub fn new(io: S, watch: Arc<Watch>, keepalive_requests: u64, send_timeout: Duration) -> Self {
        Guard {
            io,
            watch,
            read: Frames {
                skip: PREFACE_LEN,
                ..Frames::default()
            },
            total: 0,
            payload: 0,
            burst: 0,
            idle_limit: keepalive_requests.saturating_mul(10),
            write: Frames::default(),
            queue: Vec::new(),
            sent: 0,
            queued_frames: 0,
            send_timeout,
            stall: None,
        }
    }

    /// Counts `bytes` just read; true when they make a flood.
    fn count_read(&mut self, bytes: &[u8]) -> bool {
        let (_, answers, payload) = self.read.feed(bytes);
        self.burst += answers;
        let partial = self.read.skip > 0 || self.read.have > 0;
        self.watch.partial.store(partial, Ordering::Relaxed);
        self.total += bytes.len() as u64;
        self.payload += payload;
        let idle = self.watch.idle.load(Ordering::Relaxed)
            && self.watch.idle_reads.fetch_add(1, Ordering::Relaxed) + 1 > self.idle_limit;
        idle || self.burst > MAX_QUEUED_FRAMES || self.total / 8 > self.payload + (1 << 20)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.watch.flood.load(Ordering::Relaxed) {
            return Poll::Pending;
        }
        let before = buf.filled().len();
        if Pin::new(&mut me.io).poll_read(cx, buf)?.is_pending() {
            // The socket ran dry (not the task's budget that ran out): nginx ends its read
            // loop here and writes the answers it queued.
            if tokio::task::coop::has_budget_remaining() {
                me.burst = 0;
            }
            return Poll::Pending;
        }
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() && me.count_read(fresh) {
            // Stop here: the connection loop sends GOAWAY and closes.
            me.watch.flood.store(true, Ordering::Relaxed);
            cx.waker().wake_by_ref();
            buf.set_filled(before);
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
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
        let (frames, _, _) = self.write.feed(buf);
        self.queue.extend_from_slice(buf);
        self.queued_frames += frames;
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
                me.write.feed(&buf[..n]);
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

#[cfg(test)]
mod tests {
    use super::Frames;

    #[test]
    fn frames_are_followed_across_splits() {
        let mut f = Frames {
            skip: 24,
            ..Frames::default()
        };
        let mut bytes = vec![b'P'; 24];
        // PING (8 bytes), DATA (5 bytes), SETTINGS (0 bytes).
        bytes.extend([0, 0, 8, 6, 0, 0, 0, 0, 0]);
        bytes.extend([1; 8]);
        bytes.extend([0, 0, 5, 0, 0, 0, 0, 0, 1]);
        bytes.extend(b"hello");
        bytes.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
        let (mut frames, mut answers, mut payload) = (0, 0, 0);
        for chunk in bytes.chunks(5) {
            let (a, b, c) = f.feed(chunk);
            frames += a;
            answers += b;
            payload += c;
        }
        assert_eq!((frames, answers, payload), (3, 2, 5));
        assert_eq!((f.skip, f.have), (0, 0));
    }
}
