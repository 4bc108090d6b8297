//! The client transport: plain TCP, TLS (rustls via tokio-rustls) or one HTTP/2 stream's
//! body, one type for the connection code.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Writes all of `data` with at most `timeout` between successive writes (nginx's
/// `send_timeout` / `proxy_send_timeout`). As nginx arms the timer only when a write would
/// block, each write is first tried without a timer (no clock read, no timer entry).
pub async fn write_all_timed<S: AsyncWrite + Unpin>(
    s: &mut S,
    data: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        let rest = &data[off..];
        let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *s).poll_write(cx, rest)));
        let r = match first.await {
            Poll::Ready(r) => r,
            Poll::Pending => match tokio::time::timeout(timeout, s.write(rest)).await {
                Ok(r) => r,
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            },
        };
        match r {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A client connection's byte stream.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// One HTTP/2 stream: reads give its request body's DATA payloads, writes its response
    /// body's DATA frames (the head goes through `Client::put_head`).
    H2(Box<super::h2::session::H2Stream>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::H2(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::H2(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::H2(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::H2(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
