//! Our own HTTP/1.1 client connection (the hot path): write a pre-rendered request, parse the
//! response head with httparse, read the body by Content-Length, chunked or to EOF, and verify
//! `x-body-sha256` when present. One reusable read buffer per connection, no per-request
//! allocation (unless the population records response headers: `watch`).

use super::ErrorKind;
use bytes::{Buf, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// What a complete response looked like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// False when the server asked to close (or the body was delimited by EOF).
    pub keep_alive: bool,
    /// Body bytes received.
    pub body_len: u64,
    /// True when `x-body-sha256` was present and matched.
    pub verified: bool,
}

/// An HTTP/1.1 client connection over any byte stream.
#[derive(Debug)]
pub struct H1Conn<S> {
    /// The byte stream.
    pub io: S,
    buf: BytesMut,
    /// Responses read on this connection.
    pub served: u64,
    /// Response headers to capture (lower-case names; empty: none, the hot path).
    pub watch: Vec<String>,
    /// The watched headers of the last response head: (index in `watch`, value).
    pub seen: Vec<(usize, String)>,
}

struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
    sha: Option<[u8; 32]>,
}

enum Sink {
    Plain,
    Hash(Box<Sha256>),
}

impl Sink {
    fn update(&mut self, data: &[u8]) {
        if let Sink::Hash(h) = self {
            h.update(data);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> H1Conn<S> {
    /// Wraps a connected stream.
    pub fn new(io: S) -> Self {
        H1Conn {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            served: 0,
            watch: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Writes `bytes` completely and flushes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ErrorKind> {
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| ErrorKind::from_io(&e))?;
        self.io.flush().await.map_err(|e| ErrorKind::from_io(&e))
    }

    /// True when response bytes are already buffered (unsolicited data is a protocol error).
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    async fn fill(&mut self) -> Result<usize, ErrorKind> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_CHUNK);
        }
        self.io
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| ErrorKind::from_io(&e))
    }

    /// Reads one response; `head_only` for HEAD requests (no body).
    pub async fn read_response(&mut self, head_only: bool) -> Result<Response, ErrorKind> {
        let head = loop {
            if let Some(h) = self.parse_head()? {
                if (100..200).contains(&h.status) && h.status != 101 {
                    continue;
                }
                break h;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ErrorKind::Protocol);
            }
            if self.fill().await? == 0 {
                return Err(if self.buf.is_empty() {
                    ErrorKind::Reset
                } else {
                    ErrorKind::Truncated
                });
            }
        };
        let mut sink = match head.sha {
            Some(_) => Sink::Hash(Box::default()),
            None => Sink::Plain,
        };
        let no_body = head_only || head.status == 204 || head.status == 304 || head.status == 101;
        let mut keep_alive = !head.close;
        let body_len = if no_body {
            0
        } else if head.chunked {
            self.read_chunked(&mut sink).await?
        } else if let Some(n) = head.content_length {
            self.read_exact_body(n, &mut sink).await?
        } else {
            keep_alive = false;
            self.read_to_eof(&mut sink).await?
        };
        let verified = match (head.sha, sink) {
            (Some(want), Sink::Hash(h)) => {
                if h.finalize().as_slice() != want {
                    return Err(ErrorKind::Corrupt);
                }
                true
            }
            _ => false,
        };
        self.served += 1;
        Ok(Response {
            status: head.status,
            keep_alive,
            body_len,
            verified,
        })
    }

    fn parse_head(&mut self) -> Result<Option<Head>, ErrorKind> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ErrorKind::Protocol),
        };
        let mut head = Head {
            status: resp.code.unwrap_or(0),
            content_length: None,
            chunked: false,
            close: resp.version == Some(0),
            sha: None,
        };
        if !self.watch.is_empty() {
            self.seen.clear();
            for h in resp.headers.iter() {
                if let Some(i) = self
                    .watch
                    .iter()
                    .position(|w| h.name.eq_ignore_ascii_case(w))
                {
                    let v = String::from_utf8_lossy(h.value).trim().to_string();
                    self.seen.push((i, v));
                }
            }
        }
        for h in resp.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = std::str::from_utf8(h.value).map_err(|_| ErrorKind::Protocol)?;
                head.content_length = Some(v.trim().parse().map_err(|_| ErrorKind::Protocol)?);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                head.chunked = contains_token(h.value, b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                if contains_token(h.value, b"close") {
                    head.close = true;
                } else if contains_token(h.value, b"keep-alive") {
                    head.close = false;
                }
            } else if name.eq_ignore_ascii_case(b"x-body-sha256") {
                let mut sha = [0u8; 32];
                hex::decode_to_slice(h.value.trim_ascii(), &mut sha)
                    .map_err(|_| ErrorKind::Protocol)?;
                head.sha = Some(sha);
            }
        }
        self.buf.advance(n);
        Ok(Some(head))
    }

    async fn read_exact_body(&mut self, n: u64, sink: &mut Sink) -> Result<u64, ErrorKind> {
        let mut left = n;
        loop {
            let take = (self.buf.len() as u64).min(left) as usize;
            sink.update(&self.buf[..take]);
            self.buf.advance(take);
            left -= take as u64;
            if left == 0 {
                return Ok(n);
            }
            match self.fill().await {
                Ok(0) | Err(ErrorKind::Reset) => return Err(ErrorKind::Truncated),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn read_to_eof(&mut self, sink: &mut Sink) -> Result<u64, ErrorKind> {
        let mut total = 0u64;
        loop {
            total += self.buf.len() as u64;
            sink.update(&self.buf);
            self.buf.clear();
            if self.fill().await? == 0 {
                return Ok(total);
            }
        }
    }

    /// Reads until `buf` holds a CRLF-terminated line; returns its length without CRLF.
    async fn line(&mut self) -> Result<usize, ErrorKind> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(i);
            }
            if self.buf.len() > 4096 {
                return Err(ErrorKind::Protocol);
            }
            match self.fill().await {
                Ok(0) | Err(ErrorKind::Reset) => return Err(ErrorKind::Truncated),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn read_chunked(&mut self, sink: &mut Sink) -> Result<u64, ErrorKind> {
        let mut total = 0u64;
        loop {
            let n = self.line().await?;
            let line = std::str::from_utf8(&self.buf[..n]).map_err(|_| ErrorKind::Protocol)?;
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_hex, 16).map_err(|_| ErrorKind::Protocol)?;
            self.buf.advance(n + 2);
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let n = self.line().await?;
                    self.buf.advance(n + 2);
                    if n == 0 {
                        return Ok(total);
                    }
                }
            }
            self.read_exact_body(size, sink).await?;
            total += size;
            let n = self.line().await?;
            if n != 0 {
                return Err(ErrorKind::Protocol);
            }
            self.buf.advance(2);
        }
    }
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(wire: &[u8]) -> Result<Response, ErrorKind> {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        a.write_all(wire).await.unwrap();
        drop(a);
        H1Conn::new(b).read_response(false).await
    }

    fn sha(body: &[u8]) -> String {
        hex::encode(Sha256::digest(body))
    }

    #[tokio::test]
    async fn content_length_chunked_and_eof_bodies() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.body_len, r.keep_alive, r.verified),
            (200, 5, true, false)
        );
        let r = parse(b"HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n")
            .await
            .unwrap();
        assert_eq!((r.status, r.body_len), (503, 5));
        let r = parse(b"HTTP/1.0 200 OK\r\n\r\nuntil eof").await.unwrap();
        assert_eq!((r.body_len, r.keep_alive), (9, false));
        let r = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        assert_eq!((r.status, r.keep_alive), (204, false));
    }

    #[tokio::test]
    async fn watched_headers_are_captured_every_line() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        a.write_all(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=2592000\r\nX-A: 1\r\ncache-control: public, immutable\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        drop(a);
        let mut c = H1Conn::new(b);
        c.watch = vec!["cache-control".into(), "expires".into()];
        c.read_response(false).await.unwrap();
        assert_eq!(
            c.seen,
            vec![
                (0, "max-age=2592000".to_string()),
                (0, "public, immutable".to_string())
            ]
        );
        // Nothing watched: nothing kept.
        let (mut a, b) = tokio::io::duplex(1 << 20);
        a.write_all(b"HTTP/1.1 200 OK\r\nCache-Control: x\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        drop(a);
        let mut c = H1Conn::new(b);
        c.read_response(false).await.unwrap();
        assert!(c.seen.is_empty());
    }

    #[tokio::test]
    async fn checksums_detect_truncation_and_corruption() {
        let good = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-body-sha256: {}\r\n\r\nhello",
            sha(b"hello")
        );
        assert!(parse(good.as_bytes()).await.unwrap().verified);
        let corrupt = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-body-sha256: {}\r\n\r\nhellO",
            sha(b"hello")
        );
        assert_eq!(parse(corrupt.as_bytes()).await, Err(ErrorKind::Corrupt));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello").await,
            Err(ErrorKind::Truncated)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").await,
            Err(ErrorKind::Truncated)
        );
        assert_eq!(parse(b"").await, Err(ErrorKind::Reset));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Le").await,
            Err(ErrorKind::Truncated)
        );
        assert_eq!(parse(b"garbage\r\n\r\n").await, Err(ErrorKind::Protocol));
    }
}
