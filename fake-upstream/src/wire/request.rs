//! Request head parsing (httparse) and request body de-framing (content-length and chunked),
//! with the error cases where httptools would make uvicorn answer 400.

use bytes::{Buf, BytesMut};

/// Largest request head we buffer before answering 400 (httptools accepted 1 MB heads).
pub const MAX_HEAD_BYTES: usize = 8 * 1024 * 1024;

/// The parts of a request head the server and the app need.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query string without `?` (may be empty).
    pub query: String,
    /// Whether the connection may be kept alive after this request (HTTP/1.1 without
    /// `Connection: close`; never for HTTP/1.0, as uvicorn does).
    pub keep_alive: bool,
    /// Body framing of the request.
    pub body: BodyKind,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
    /// `Connection: upgrade` + `Upgrade: websocket`.
    pub websocket: bool,
    /// `Sec-WebSocket-Key`.
    pub ws_key: Option<String>,
    /// `Host`, `X-Forwarded-For`, `X-Forwarded-Proto` as received (routes may require them).
    pub forwarded: [Option<String>; 3],
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    #[default]
    None,
    /// `content-length: n`.
    Length(u64),
    /// `transfer-encoding: chunked`.
    Chunked,
}

/// The request cannot be parsed: uvicorn answers 400 and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HTTP request")]
pub struct BadRequest;

/// The forwarded headers kept in [`RequestHead::forwarded`], in that order.
pub const FORWARDED: [&str; 3] = ["host", "x-forwarded-for", "x-forwarded-proto"];

/// Parses a complete request head at the start of `buf`; `Ok(None)` when more bytes are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, BadRequest> {
    let mut storage = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut storage);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > MAX_HEAD_BYTES {
                Err(BadRequest)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return parse_head_many(buf),
        Err(_) => return Err(BadRequest),
    };
    Ok(Some((build(&req)?, n)))
}

fn parse_head_many(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, BadRequest> {
    let mut storage = vec![httparse::EMPTY_HEADER; 10_000];
    let mut req = httparse::Request::new(&mut storage);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => Ok(Some((build(&req)?, n))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(BadRequest),
    }
}

fn build(req: &httparse::Request<'_, '_>) -> Result<RequestHead, BadRequest> {
    let method = req.method.ok_or(BadRequest)?;
    let target = req.path.ok_or(BadRequest)?;
    let version = req.version.ok_or(BadRequest)?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let mut head = RequestHead {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        keep_alive: version == 1,
        ..RequestHead::default()
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut conn_upgrade = false;
    let mut upgrade_ws = false;
    for h in req.headers.iter() {
        let name = h.name;
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if name.eq_ignore_ascii_case("content-length") {
            let v: u64 = value.trim().parse().map_err(|_| BadRequest)?;
            if length.is_some_and(|l| l != v) {
                return Err(BadRequest);
            }
            length = Some(v);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value
                .split(',')
                .next_back()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
            {
                chunked = true;
            } else {
                return Err(BadRequest);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for t in value.split(',').map(str::trim) {
                if t.eq_ignore_ascii_case("close") {
                    head.keep_alive = false;
                } else if t.eq_ignore_ascii_case("upgrade") {
                    conn_upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            head.expect_continue = value.eq_ignore_ascii_case("100-continue");
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade_ws = value.trim().eq_ignore_ascii_case("websocket");
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            head.ws_key = Some(value.trim().to_string());
        } else if let Some(i) = FORWARDED.iter().position(|f| name.eq_ignore_ascii_case(f)) {
            head.forwarded[i] = Some(value.trim().to_string());
        }
    }
    if chunked && length.is_some() {
        return Err(BadRequest);
    }
    head.body = match (chunked, length) {
        (true, _) => BodyKind::Chunked,
        (false, Some(0)) | (false, None) => BodyKind::None,
        (false, Some(n)) => BodyKind::Length(n),
    };
    head.websocket = conn_upgrade && upgrade_ws;
    Ok(head)
}

/// Incremental request-body de-framer; call [`BodyReader::feed`] with the connection buffer.
#[derive(Debug, Clone)]
pub struct BodyReader {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailer,
    Done,
}

impl BodyReader {
    /// A reader for the given framing.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::None => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::ChunkSize,
        };
        BodyReader { state }
    }

    /// Whether the whole body has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes as much body as `buf` holds, appending the payload to `sink` if given.
    /// Returns `Ok(true)` once the body is complete.
    pub fn feed(
        &mut self,
        buf: &mut BytesMut,
        mut sink: Option<&mut Vec<u8>>,
    ) -> Result<bool, BadRequest> {
        loop {
            match self.state {
                State::Done => return Ok(true),
                State::Length(rem) | State::ChunkData(rem) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let take = rem.min(buf.len() as u64) as usize;
                    if let Some(s) = sink.as_deref_mut() {
                        s.extend_from_slice(&buf[..take]);
                    }
                    buf.advance(take);
                    let left = rem - take as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), l) => State::Length(l),
                        (_, 0) => State::ChunkDataEnd,
                        (_, l) => State::ChunkData(l),
                    };
                }
                State::ChunkSize => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(false);
                    };
                    let hex_part = line.split(|&b| b == b';').next().unwrap_or(&[]);
                    let text = std::str::from_utf8(hex_part)
                        .map_err(|_| BadRequest)?
                        .trim();
                    let size = u64::from_str_radix(text, 16).map_err(|_| BadRequest)?;
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkDataEnd => {
                    if buf.len() < 2 {
                        return Ok(false);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(BadRequest);
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                }
                State::Trailer => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                    }
                }
            }
        }
    }
}

fn take_line(buf: &mut BytesMut) -> Result<Option<Vec<u8>>, BadRequest> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(i) => {
            let line = buf[..i].to_vec();
            buf.advance(i + 2);
            Ok(Some(line))
        }
        None if buf.len() > 64 * 1024 => Err(BadRequest),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_get_with_query_and_close() {
        let (h, n) =
            parse_head(b"GET /sleep?ms=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nrest")
                .expect("valid")
                .expect("complete");
        assert_eq!(n, 56);
        assert_eq!(
            (h.method.as_str(), h.path.as_str(), h.query.as_str()),
            ("GET", "/sleep", "ms=5")
        );
        assert!(!h.keep_alive);
    }

    #[test]
    fn http10_is_never_kept_alive_and_garbage_is_bad() {
        let (h, _) = parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .expect("ok")
            .expect("c");
        assert!(!h.keep_alive);
        assert_eq!(
            parse_head(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n").err(),
            Some(BadRequest)
        );
        assert!(
            parse_head(b"GET / HTTP/1.1\r\nHost")
                .expect("partial ok")
                .is_none()
        );
        assert!(parse_head(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_body_is_decoded_across_splits() {
        let mut r = BodyReader::new(BodyKind::Chunked);
        let mut sink = Vec::new();
        let mut buf = BytesMut::from(&b"3\r\nab"[..]);
        assert!(!r.feed(&mut buf, Some(&mut sink)).expect("ok"));
        buf.extend_from_slice(b"c\r\n2;x=y\r\nde\r\n0\r\n\r\nNEXT");
        assert!(r.feed(&mut buf, Some(&mut sink)).expect("ok"));
        assert_eq!(sink, b"abcde");
        assert_eq!(&buf[..], b"NEXT");
    }
}
