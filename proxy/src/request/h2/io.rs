//! One HTTP/2 stream as the byte stream of an HTTP/1.1 connection carrying one request.
//!
//! Reading yields the request as HTTP/1.1 (`METHOD path HTTP/1.1`, the request's headers in
//! order, `Host` from `:authority` when absent, `Connection: close`), then its body: as is
//! with a `Content-Length`, else chunked (`Transfer-Encoding: chunked` added), except that
//! GET, HEAD and CONNECT without a length send none. After the body, reads wait until the
//! response is complete (end of file then) or the client resets the stream (end of file).
//! The request pipeline usually takes the head as bytes with its pieces' places instead of
//! reading it ([`H2Io::take_head`]) and reads only the body.
//!
//! Writing takes the HTTP/1.1 response: informational heads are skipped, the head becomes
//! the HTTP/2 HEADERS (status, headers in order, connection-specific ones and `TE` removed,
//! `Date` added when missing), the body is unframed (Content-Length, chunked, or up to the
//! end) into DATA frames, waiting for flow-control capacity. Dropped before a head was
//! written: a bodiless 500; before a framed body ended: the stream is reset.

mod response;

use super::chunk::Chunk;
use super::head::{content_length, value_of, write_head};
use crate::http::chunked::Decoder;
use crate::http::head::Written;
use bytes::{Buf, Bytes};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use hyper::http::request::Parts;
use hyper::http::{Method, Request, Response, StatusCode};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// First allocation for a request head written as HTTP/1.1 (bytes; larger heads grow it).
const HEAD_CAPACITY: usize = 256;

/// How the response body is framed in the pipeline's HTTP/1.1 output.
#[derive(Debug)]
enum Out {
    /// Head not complete yet: bytes collected so far.
    Head(Vec<u8>),
    /// `Content-Length` bytes still to come.
    Length(u64),
    /// Chunked: the decoder.
    Chunked(Box<Decoder>),
    /// Until the pipeline finishes.
    Close,
    /// The response ended (or failed): further bytes are ignored.
    Done,
}

/// An HTTP/2 request stream seen as an HTTP/1.1 byte stream (see the module docs).
pub struct H2Io {
    /// The request head, until it is taken ([`H2Io::take_head`]) or read (then written
    /// as HTTP/1.1 into `spill`).
    parts: Option<Parts>,
    /// The head as HTTP/1.1 bytes still to be read, and how much of it was read.
    spill: Vec<u8>,
    spill_read: usize,
    /// Request body bytes not yet read (one piece of the body, framed).
    pending: Bytes,
    /// The request body still to read (None: none, or all read).
    body: Option<RecvStream>,
    /// Body pieces are sent as chunks.
    chunked: bool,
    /// The request was HEAD (the response has no body).
    head_method: bool,
    /// Where the response stands.
    out: Out,
    /// Before the response head: the handle to send it.
    respond: Option<SendResponse<Chunk>>,
    /// After the response head: the body stream.
    send: Option<SendStream<Chunk>>,
    /// A reader waiting for the response to end.
    reader: Option<Waker>,
}

impl std::fmt::Debug for H2Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Io")
            .field("head_unread", &self.parts.is_some())
            .field("spill", &(self.spill.len() - self.spill_read))
            .field("pending", &self.pending.len())
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

impl H2Io {
    /// The transport for one accepted stream.
    pub fn new(req: Request<RecvStream>, respond: SendResponse<Chunk>) -> H2Io {
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
        H2Io {
            head_method: parts.method == Method::HEAD,
            parts: Some(parts),
            spill: Vec::new(),
            spill_read: 0,
            pending: Bytes::new(),
            body,
            chunked,
            out: Out::Head(Vec::new()),
            respond: Some(respond),
            send: None,
            reader: None,
        }
    }

    /// The request head as HTTP/1.1 (as reading would yield it) and its pieces when they
    /// need no parsing ([`write_head`]); reads then go on with the body. Empty when it was
    /// read already.
    pub fn take_head(&mut self) -> (Vec<u8>, Option<Written>) {
        let Some(parts) = self.parts.take() else {
            return (Vec::new(), None);
        };
        let mut raw = Vec::with_capacity(HEAD_CAPACITY);
        let written = write_head(&parts, self.chunked, &mut raw);
        (raw, written)
    }

    /// Puts `head` (from [`H2Io::take_head`]) back: the next reads yield it first.
    pub fn unread(&mut self, head: Vec<u8>) {
        self.spill = head;
        self.spill_read = 0;
    }

    /// Whether the client reset the stream (registers the waker otherwise).
    fn reset(&mut self, cx: &mut Context<'_>) -> bool {
        let r = match (&mut self.respond, &mut self.send) {
            (Some(r), _) => r.poll_reset(cx),
            (None, Some(s)) => s.poll_reset(cx),
            (None, None) => return false,
        };
        r.is_ready()
    }

    /// Ends the response: wakes a reader waiting for it.
    fn finish(&mut self) {
        self.out = Out::Done;
        self.send = None;
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    /// Sends unframed body bytes (with end of stream when the framing says so).
    fn body(&mut self, data: &[u8]) -> io::Result<()> {
        let mut end = false;
        let payload = match &mut self.out {
            Out::Length(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                end = *left == 0;
                Chunk::copy_from(&data[..n])
            }
            Out::Chunked(dec) => {
                let mut v = Vec::with_capacity(data.len());
                dec.decode(data, &mut v)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk"))?;
                end = dec.done();
                Chunk::from(v)
            }
            Out::Close => Chunk::copy_from(data),
            Out::Head(_) | Out::Done => return Ok(()),
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
}

pub(super) fn closed() -> io::Error {
    io::ErrorKind::BrokenPipe.into()
}

impl AsyncRead for H2Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.parts.is_some() {
            let (head, _) = me.take_head();
            me.unread(head);
        }
        if me.spill_read < me.spill.len() {
            let n = (me.spill.len() - me.spill_read).min(buf.remaining());
            buf.put_slice(&me.spill[me.spill_read..me.spill_read + n]);
            me.spill_read += n;
            return Poll::Ready(Ok(()));
        }
        loop {
            if !me.pending.is_empty() {
                let n = me.pending.len().min(buf.remaining());
                buf.put_slice(&me.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            let Some(body) = me.body.as_mut() else {
                if matches!(me.out, Out::Done) || me.reset(cx) {
                    return Poll::Ready(Ok(()));
                }
                me.reader = Some(cx.waker().clone());
                return Poll::Pending;
            };
            match body.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(data))) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    if data.is_empty() {
                        continue;
                    }
                    me.pending = if me.chunked {
                        let mut v = Vec::with_capacity(data.len() + 12);
                        crate::http::chunked::encode_chunk(&data, &mut v);
                        Bytes::from(v)
                    } else {
                        data
                    };
                }
                Poll::Ready(Some(Err(e))) => {
                    me.body = None;
                    return Poll::Ready(Err(io::Error::other(e)));
                }
                Poll::Ready(None) => {
                    me.body = None;
                    if me.chunked {
                        me.pending = Bytes::from_static(b"0\r\n\r\n");
                    }
                }
            }
        }
    }
}

impl AsyncWrite for H2Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if let Out::Head(buf) = &mut me.out {
            // Usually the whole head arrives in one write: parse it in place.
            let mut buf = std::mem::take(buf);
            let input: &[u8] = if buf.is_empty() {
                data
            } else {
                buf.extend_from_slice(data);
                &buf
            };
            match me.parse_head(input) {
                Ok(None) => {
                    if buf.is_empty() {
                        buf.extend_from_slice(data);
                    }
                    me.out = Out::Head(buf);
                    return Poll::Ready(Ok(data.len()));
                }
                Ok(Some(used)) => {
                    let rest = &input[used..];
                    if !rest.is_empty() {
                        me.body(rest)?;
                    }
                    return Poll::Ready(Ok(data.len()));
                }
                Err(e) => {
                    me.fail();
                    return Poll::Ready(Err(e));
                }
            }
        }
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

impl H2Io {
    /// The response head could not be read: a bodiless 500 (as when an HTTP/1.1 client
    /// fails), and nothing more.
    fn fail(&mut self) {
        if let Some(mut respond) = self.respond.take() {
            let mut r = Response::new(());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            if let Some(v) = super::super::respond::with_date(value_of) {
                r.headers_mut().insert(hyper::header::DATE, v);
            }
            let _ = respond.send_response(r, true);
        }
        if let Some(mut s) = self.send.take() {
            s.send_reset(h2::Reason::INTERNAL_ERROR);
        }
        self.finish();
    }

    /// The pipeline is done writing: a body up to the end ends here; anything else
    /// incomplete fails.
    fn end(&mut self) {
        match self.out {
            Out::Done => {}
            Out::Close => {
                if let Some(s) = self.send.as_mut() {
                    let _ = s.send_data(Chunk::empty(), true);
                }
                self.finish();
            }
            _ => self.fail(),
        }
    }
}

impl Drop for H2Io {
    fn drop(&mut self) {
        self.end();
    }
}
