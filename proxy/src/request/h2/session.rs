//! One HTTP/2 stream as a client session, with no HTTP/1.1 in between.
//!
//! The request head is taken once as a [`RequestHead`](crate::http::head::RequestHead)'s
//! storage with its pieces' places ([`H2Stream::take_head`]): the bytes `$request`, the logs
//! and proxying read, never parsed again unless a piece needs the parser's treatment. The
//! request body is read as the DATA payloads themselves (no chunked framing added); end of
//! file is the end of the stream, and [`BodyDecoder`](crate::http::body::BodyDecoder) turns
//! that into the end of a body without a length.
//!
//! The response head comes from the pipeline's structured head ([`H2Stream::send_head`]:
//! status, the fixed headers, the header list) straight into the HEADERS frame
//! (connection-specific headers and `TE` dropped); body bytes written to the session become
//! DATA frames as they are (the pipeline frames nothing for HTTP/2), the stream ending after
//! a Content-Length's bytes or, without one, when the pipeline is done. Dropped before a head
//! was sent: a bodiless 500; before a body with a length ended: the stream is reset.

use super::chunk::Chunk;
use super::head::{content_length, date_value, hop, name_of, named_host, value_of, write_head};
use crate::http::head::Written;
use crate::http::status::Status;
use crate::request::respond::{Head, SERVER_NAME};
use bytes::{Buf, Bytes};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use hyper::http::request::Parts;
use hyper::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// First allocation for a request head's storage (bytes; larger heads grow it).
const HEAD_CAPACITY: usize = 256;

/// Bytes a HEADERS frame's header counts for in `$bytes_sent` (9: the frame header).
const FRAME_HEADER: u64 = 9;

/// Where the response stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    /// No head sent yet.
    Head,
    /// `Content-Length` bytes still to come.
    Length(u64),
    /// No length: until the pipeline is done.
    Open,
    /// The response ended: further bytes are ignored.
    Done,
    /// The head could not be sent (a 500 went instead): writes fail.
    Failed,
}

/// One HTTP/2 request stream as the client session (see the module docs).
pub struct H2Stream {
    /// The request head, until it is taken.
    parts: Option<Parts>,
    /// Part of a DATA payload not yet read.
    pending: Bytes,
    /// The request body still to read (None: none, or all read).
    body: Option<RecvStream>,
    /// The body has no length (the head says chunked, as nginx marks it).
    chunked: bool,
    /// The request was HEAD (the response has no body).
    head_method: bool,
    /// Where the response stands.
    out: Out,
    /// Before the response head: the handle to send it.
    respond: Option<SendResponse<Chunk>>,
    /// After the response head: the body stream.
    send: Option<SendStream<Chunk>>,
    /// What the response head counts for in `$bytes_sent`.
    head_bytes: u64,
}

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Stream")
            .field("head_untaken", &self.parts.is_some())
            .field("pending", &self.pending.len())
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

impl H2Stream {
    /// The session of one accepted stream.
    pub fn new(req: Request<RecvStream>, respond: SendResponse<Chunk>) -> H2Stream {
        let (parts, body) = req.into_parts();
        let mut chunked = false;
        let body = if body.is_end_stream() {
            None
        } else if content_length(&parts.headers).is_some() {
            Some(body)
        } else if matches!(parts.method, Method::GET | Method::HEAD | Method::CONNECT) {
            None
        } else {
            chunked = true;
            Some(body)
        };
        H2Stream {
            head_method: parts.method == Method::HEAD,
            parts: Some(parts),
            pending: Bytes::new(),
            body,
            chunked,
            out: Out::Head,
            respond: Some(respond),
            send: None,
            head_bytes: 0,
        }
    }

    /// The host the request names ([`named_host`]), before the head is taken.
    pub fn named_host(&self) -> Option<Vec<u8>> {
        self.parts.as_ref().and_then(named_host)
    }

    /// The request head's storage and its pieces when they need no parsing
    /// ([`write_head`]). Empty when it was taken already.
    pub fn take_head(&mut self) -> (Vec<u8>, Option<Written>) {
        let Some(parts) = self.parts.take() else {
            return (Vec::new(), None);
        };
        let mut raw = Vec::with_capacity(HEAD_CAPACITY);
        let written = write_head(&parts, self.chunked, &mut raw);
        (raw, written)
    }

    /// Resolves when the client leaves the stream before the response head was sent (never
    /// when the head went out already): with the stream's id and the error code when it
    /// reset the stream, None when its connection ended (end of file or an error).
    pub async fn left(&mut self) -> Option<(u32, u32)> {
        let Some(respond) = self.respond.as_mut() else {
            return std::future::pending().await;
        };
        let id = u32::from(respond.stream_id());
        match std::future::poll_fn(|cx| respond.poll_reset(cx)).await {
            Ok(reason) => Some((id, u32::from(reason))),
            Err(_) => None,
        }
    }

    /// What the response head counted for `$bytes_sent`: the HEADERS frame as uncompressed
    /// literals (9 + each field's name and value + 2); nginx counts the compressed frame.
    pub fn head_bytes(&self) -> u64 {
        self.head_bytes
    }

    /// Sends the response head: the status (494..497 as 400), `Server`, `Date`, the fixed
    /// headers of `head` and the header `list` in order, connection-specific headers
    /// dropped. A 1xx head other than 101 is skipped (our HTTP/2 responses carry none); a
    /// head HTTP/2 cannot carry (a status outside 100..=999, an invalid name or value,
    /// disagreeing lengths) sends a bodiless 500 instead and makes the writes fail.
    pub fn send_head<'b>(
        &mut self,
        head: &Head<'_>,
        list: impl Iterator<Item = (&'b [u8], &'b [u8])>,
    ) {
        let status = head.status.wire();
        let switching = status.code() == 101;
        if self.out != Out::Head || (status.is_informational() && !switching) {
            return;
        }
        if self.try_send_head(status, head, list).is_none() {
            self.fail();
            self.out = Out::Failed;
        }
    }

    /// [`H2Stream::send_head`]'s work; None when the head cannot be sent.
    fn try_send_head<'b>(
        &mut self,
        status: Status,
        head: &Head<'_>,
        list: impl Iterator<Item = (&'b [u8], &'b [u8])>,
    ) -> Option<()> {
        use hyper::header;
        let no_body = status.has_no_body();
        let status = status.to_http()?;
        let mut fields = Fields::new(list.size_hint().0 + 6);
        fields.put(header::SERVER, HeaderValue::from_static(SERVER_NAME));
        fields.put(header::DATE, date_value()?);
        if let Some(v) = head.content_type {
            fields.put(header::CONTENT_TYPE, value_of(v)?);
        }
        if let Some(n) = head.content_length {
            fields.length = Some(n);
            fields.put(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        if let Some(v) = head.last_modified {
            fields.put(header::LAST_MODIFIED, value_of(v)?);
        }
        if let Some(v) = head.location {
            fields.put(header::LOCATION, value_of(v)?);
        }
        fields.unknown_length |= head.chunked;
        if head.vary {
            // gzip_vary, after the fixed headers as on HTTP/1.1
            fields.put(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
        for (name, value) in list {
            fields.line(name, value)?;
        }
        self.out = if self.head_method || no_body {
            Out::Length(0)
        } else if fields.unknown_length {
            Out::Open
        } else {
            fields.length.map_or(Out::Open, Out::Length)
        };
        self.head_bytes = fields.bytes;
        let mut r = Response::new(());
        *r.status_mut() = status;
        *r.headers_mut() = fields.map;
        let end = self.out == Out::Length(0);
        let send = self.respond.take()?.send_response(r, end).ok()?;
        if end {
            self.finish();
        } else {
            self.send = Some(send);
        }
        Some(())
    }

    /// Ends the response.
    fn finish(&mut self) {
        self.out = Out::Done;
        self.send = None;
    }

    /// Sends body bytes as one DATA frame (with end of stream when a length ends there).
    fn body(&mut self, data: &[u8]) -> io::Result<()> {
        let mut end = false;
        let payload = match &mut self.out {
            Out::Length(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                end = *left == 0;
                Chunk::copy_from(&data[..n])
            }
            Out::Open => Chunk::copy_from(data),
            Out::Done => return Ok(()),
            Out::Head | Out::Failed => return Err(closed()),
        };
        if !payload.has_remaining() && !end {
            return Ok(());
        }
        let send = self.send.as_mut().ok_or_else(closed)?;
        send.send_data(payload, end).map_err(|_| closed())?;
        if end {
            self.finish();
        }
        Ok(())
    }

    /// No head could be sent: a bodiless 500 (as when an HTTP/1.1 client fails), or a
    /// reset when the head went already; nothing more.
    fn fail(&mut self) {
        if let Some(mut respond) = self.respond.take() {
            let mut r = Response::new(());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            if let Some(v) = date_value() {
                r.headers_mut().insert(hyper::header::DATE, v);
            }
            let _ = respond.send_response(r, true);
        }
        if let Some(mut s) = self.send.take() {
            s.send_reset(h2::Reason::INTERNAL_ERROR);
        }
        self.finish();
    }

    /// The pipeline is done writing: a body without a length ends here; a missing head or
    /// an incomplete body fails.
    fn end(&mut self) {
        match self.out {
            Out::Done | Out::Failed => {}
            Out::Open => {
                if let Some(s) = self.send.as_mut() {
                    let _ = s.send_data(Chunk::empty(), true);
                }
                self.finish();
            }
            Out::Head | Out::Length(_) => self.fail(),
        }
    }
}

/// The response header fields being collected, with the facts the body framing needs.
struct Fields {
    map: HeaderMap,
    /// The Content-Length every value agreed on.
    length: Option<u64>,
    /// A Transfer-Encoding was given: the length is unknown.
    unknown_length: bool,
    /// What the fields count for in `$bytes_sent`.
    bytes: u64,
}

impl Fields {
    fn new(capacity: usize) -> Fields {
        Fields {
            map: HeaderMap::with_capacity(capacity),
            length: None,
            unknown_length: false,
            bytes: FRAME_HEADER + 4, // `:status` and its value
        }
    }

    fn put(&mut self, name: hyper::header::HeaderName, value: HeaderValue) {
        self.bytes += (name.as_str().len() + value.len() + 2) as u64;
        self.map.append(name, value);
    }

    /// One header of the list: connection-specific ones dropped; Content-Length values
    /// must parse and agree (an HTTP/1.1 client would refuse the response otherwise).
    fn line(&mut self, name: &[u8], value: &[u8]) -> Option<()> {
        let name = name_of(name)?;
        if name == hyper::header::TRANSFER_ENCODING {
            self.unknown_length = true;
        } else if name == hyper::header::CONTENT_LENGTH {
            let n = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
            if self.length.is_some_and(|l| l != n) {
                return None;
            }
            self.length = Some(n);
        }
        if !hop(&name) {
            self.put(name, value_of(value)?);
        }
        Some(())
    }
}

pub(super) fn closed() -> io::Error {
    io::ErrorKind::BrokenPipe.into()
}

impl AsyncRead for H2Stream {
    /// The request body's DATA payloads as they come; end of file at the end of the stream
    /// (or with no body).
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            if !me.pending.is_empty() {
                let n = me.pending.len().min(buf.remaining());
                buf.put_slice(&me.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            let Some(body) = me.body.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match body.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(data))) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    me.pending = data;
                }
                Poll::Ready(Some(Err(e))) => {
                    me.body = None;
                    return Poll::Ready(Err(io::Error::other(e)));
                }
                Poll::Ready(None) => {
                    me.body = None;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl AsyncWrite for H2Stream {
    /// Response body bytes, after [`H2Stream::send_head`]: one DATA frame per write, once
    /// the peer's window has room.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if let Some(send) = me.send.as_mut() {
            // Wait for some flow-control capacity before taking more (as hyper does).
            send.reserve_capacity(1);
            while send.capacity() == 0 {
                match send.poll_capacity(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(Err(closed())),
                }
            }
        }
        me.body(data)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().end();
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Stream {
    fn drop(&mut self) {
        self.end();
    }
}
