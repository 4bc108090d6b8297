//! The client session: one connection (or HTTP/2 stream) with its read buffer, one interface
//! whatever the protocol: response heads from their structured form ([`Client::put_head`]:
//! HTTP/1.1 bytes, or an HTTP/2 HEADERS frame), body bytes written with timeouts, body bytes
//! read with deadlines (request bodies are decoded in `upstream::reqbody` and discarded in
//! `http::linger` through [`ClientConn`] and `http::body::BodyDecoder`), and the
//! `100 Continue` answer.

use super::error::{Cause, Error};
use super::respond::{Head, write_head};
use super::stream::Stream;
use crate::http::body::BodyDecoder;
use crate::http::head::RequestHead;
use crate::http::linger::ClientConn;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// A client connection with its read buffer.
#[derive(Debug)]
pub struct Client {
    /// The socket (plain or TLS) or the HTTP/2 stream.
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

    /// Puts the response head: on HTTP/1.1 its bytes are appended to `out` (written with
    /// the body that follows); on HTTP/2 it is sent as the stream's HEADERS at once and
    /// `out` stays as it is. `list` is the ordinary header list (name, value).
    pub fn put_head<'b>(
        &mut self,
        out: &mut Vec<u8>,
        head: &Head<'_>,
        list: impl Iterator<Item = (&'b [u8], &'b [u8])>,
    ) {
        match &mut self.stream {
            Stream::H2(s) => s.send_head(head, list),
            _ => write_head(out, head, list),
        }
    }

    /// What response heads sent outside the written bytes count for `$bytes_sent` (an
    /// HTTP/2 HEADERS frame; 0 on HTTP/1.1, whose head bytes are counted as written).
    pub fn head_frame_bytes(&self) -> u64 {
        match &self.stream {
            Stream::H2(s) => s.head_bytes(),
            _ => 0,
        }
    }

    /// Whether this is an HTTP/2 stream.
    pub fn is_h2(&self) -> bool {
        matches!(self.stream, Stream::H2(_))
    }

    /// Answers `Expect: 100-continue` (HTTP/1.1 only) as nginx does when it starts reading a
    /// body; a failed write is left for the body read to notice.
    pub async fn send_continue_if_expected(&mut self, head: &RequestHead, timeout: Duration) {
        if head.minor == 1
            && !self.is_h2()
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
        match self.fill_or_end(timeout).await? {
            true => Ok(()),
            false => Err(Error::client(Cause::Closed)),
        }
    }

    /// [`Client::fill`] for a body without a length: end of file ends an HTTP/2 body
    /// (`decoder` notes it) and cuts a chunked one short (the client's close).
    pub async fn fill_body(
        &mut self,
        decoder: &mut BodyDecoder,
        timeout: Duration,
    ) -> Result<(), Error> {
        let more = self.fill_or_end(timeout).await?;
        if more || decoder.end_of_input() {
            Ok(())
        } else {
            Err(Error::client(Cause::Closed))
        }
    }

    /// Reads more bytes: Ok(true) when some came, Ok(false) at end of file.
    async fn fill_or_end(&mut self, timeout: Duration) -> Result<bool, Error> {
        match self.read_more(Instant::now() + timeout).await {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
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
            Stream::H2(_) => return,
        };
        let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
    }

    fn data_frames(&self) -> bool {
        self.is_h2()
    }
}
