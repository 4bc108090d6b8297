//! The client session: one connection (or HTTP/2 stream) with its read buffer, buffered reads
//! with deadlines, timed writes and the `100 Continue` answer (bodies are read in
//! `upstream::reqbody` and discarded in `http::linger`, through [`ClientConn`]).

use super::error::{Cause, Error};
use super::stream::Stream;
use crate::http::head::RequestHead;
use crate::http::linger::ClientConn;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// A client connection with its read buffer.
#[derive(Debug)]
pub struct Client {
    /// The socket (plain or TLS).
    pub stream: Stream,
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
        super::stream::write_all_timed(&mut self.stream, data, timeout).await
    }

    /// Answers `Expect: 100-continue` (HTTP/1.1 only) as nginx does when it starts reading a
    /// body; a failed write is left for the body read to notice.
    pub async fn send_continue_if_expected(&mut self, head: &RequestHead, timeout: Duration) {
        if head.minor == 1
            && head
                .header(b"expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
        {
            let _ = self
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n", timeout)
                .await;
        }
    }

    /// Reads more body bytes into `buf` (`client_body_timeout`): end of file or a failed
    /// read is the client's close, as nginx counts it.
    pub async fn fill(&mut self, timeout: Duration) -> Result<(), Error> {
        match self.read_more(Instant::now() + timeout).await {
            Ok(0) => Err(Error::client(Cause::Closed)),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err(Error::client(Cause::TimedOut))
            }
            Err(_) => Err(Error::client(Cause::Closed)),
        }
    }
}

impl ClientConn for Client {
    type Io = Stream;

    fn parts(&mut self) -> (&mut Stream, &mut Vec<u8>) {
        (&mut self.stream, &mut self.buf)
    }

    async fn read_more(&mut self, deadline: Instant) -> std::io::Result<usize> {
        Client::read_more(self, deadline).await
    }

    async fn send_continue_if_expected(&mut self, head: &RequestHead, timeout: Duration) {
        Client::send_continue_if_expected(self, head, timeout).await
    }

    fn reset_on_close(&self) {
        let tcp = match &self.stream {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.get_ref().0,
            Stream::Mem(_) => return,
        };
        let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
    }
}
