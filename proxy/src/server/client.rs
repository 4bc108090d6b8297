//! The client side of a connection: buffered reads with deadlines, timed writes, and request
//! body reading (Content-Length or chunked, with `client_max_body_size` and
//! `client_body_timeout`) or discarding.

use crate::http::chunked::{ChunkError, Decoder};
use crate::http::head::RequestHead;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Why reading a body stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// nginx status to answer (400 invalid chunked, 413 too large).
    Status(u16),
    /// `client_body_timeout` expired (logged as 408, connection closed).
    Timeout,
    /// The client closed the connection (logged as 400/499).
    Closed,
}

/// A client connection with its read buffer.
#[derive(Debug)]
pub struct Client {
    /// The socket (plain or TLS).
    pub stream: super::stream::Stream,
    /// Bytes read but not consumed yet.
    pub buf: Vec<u8>,
}

impl Client {
    /// Reads more bytes into `buf` before `deadline`. Ok(0) = EOF.
    pub async fn read_more(&mut self, deadline: Instant) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Writes all of `data` with `timeout` between successive writes (nginx `send_timeout`).
    pub async fn write_all(&mut self, data: &[u8], timeout: Duration) -> std::io::Result<()> {
        let mut off = 0;
        while off < data.len() {
            match tokio::time::timeout(timeout, self.stream.write(&data[off..])).await {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => off += n,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            }
        }
        Ok(())
    }

    /// Reads the whole request body (nginx's default request buffering), enforcing
    /// `max` (0 = unlimited) on chunked bodies as each chunk header arrives.
    pub async fn read_body(
        &mut self,
        head: &RequestHead,
        max: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, BodyError> {
        self.body(head, max, timeout, true).await
    }

    /// Reads and drops the body so that the connection can be reused.
    pub async fn discard_body(
        &mut self,
        head: &RequestHead,
        timeout: Duration,
    ) -> Result<(), BodyError> {
        self.body(head, 0, timeout, false).await.map(|_| ())
    }

    async fn body(
        &mut self,
        head: &RequestHead,
        max: u64,
        timeout: Duration,
        keep: bool,
    ) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        let has_body = head.chunked || head.content_length.is_some_and(|n| n > 0);
        if keep
            && has_body
            && head.minor == 1
            && head
                .header(b"expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
        {
            // nginx answers `Expect: 100-continue` itself when it starts reading the body.
            let _ = self
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n", timeout)
                .await;
        }
        if let Some(cl) = head.content_length {
            let mut left = cl;
            if keep {
                out.reserve(cl.min(1 << 20) as usize);
            }
            loop {
                let n = (left as usize).min(self.buf.len());
                if keep {
                    out.extend_from_slice(&self.buf[..n]);
                }
                self.buf.drain(..n);
                left -= n as u64;
                if left == 0 {
                    return Ok(out);
                }
                self.fill(timeout).await?;
            }
        }
        if !head.chunked {
            return Ok(out);
        }
        let mut dec = Decoder::new(max);
        let mut sink = Vec::new();
        loop {
            let target = if keep { &mut out } else { &mut sink };
            let used = dec.decode(&self.buf, target).map_err(|e| match e {
                ChunkError::Invalid => BodyError::Status(400),
                ChunkError::TooLarge => BodyError::Status(413),
            })?;
            self.buf.drain(..used);
            sink.clear();
            if dec.done() {
                return Ok(out);
            }
            self.fill(timeout).await?;
        }
    }

    /// Reads more body bytes into `buf` (client_body_timeout), mapping failures.
    pub async fn fill(&mut self, timeout: Duration) -> Result<(), BodyError> {
        match self.read_more(Instant::now() + timeout).await {
            Ok(0) => Err(BodyError::Closed),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(BodyError::Timeout),
            Err(_) => Err(BodyError::Closed),
        }
    }
}
