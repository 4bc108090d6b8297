//! `Throttled`: an `AsyncRead` that reads at most `rate` bytes per second (in ten reads per
//! second), for the slow-reader behaviour. Writes pass through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A rate-limited reader around `S`.
#[derive(Debug)]
pub struct Throttled<S> {
    inner: S,
    rate: u64,
    quantum: usize,
    next: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl<S> Throttled<S> {
    /// Reads from `inner` at `rate` bytes per second.
    pub fn new(inner: S, rate: u64) -> Self {
        let rate = rate.max(1);
        let now = Instant::now();
        Throttled {
            inner,
            rate,
            quantum: (rate / 10).max(1) as usize,
            next: now,
            sleep: Box::pin(tokio::time::sleep_until(now)),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Throttled<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if Instant::now() < this.next {
            this.sleep.as_mut().reset(this.next);
            ready!(this.sleep.as_mut().poll(cx));
        }
        let limit = this.quantum.min(buf.remaining());
        let mut sub = ReadBuf::new(&mut buf.initialize_unfilled()[..limit]);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut sub))?;
        let n = sub.filled().len();
        buf.advance(n);
        this.next = Instant::now() + Duration::from_secs_f64(n as f64 / this.rate as f64);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Throttled<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
