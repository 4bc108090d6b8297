//! Writing a static file's answer on our connection: the fixed head of a plain file (straight
//! into a reused scratch buffer, or HEADERS on HTTP/2), the `HeaderMap` path (`expires`,
//! `add_header`, multipart ranges), and the body streamed from the file (gzipped or not).

use super::static_gzip::{self, SendError};
use super::static_page::canonical;
use crate::conf::model::LogLevel;
use crate::filter::gzip::Decision;
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::log::log_error;
use crate::request::reply::keepalive;
use crate::request::respond::{Head, Ka};
use crate::static_files::{Body, CHUNK, FileResponse};
use hyper::header::HeaderValue;

/// The head of a [`FileResponse`] (no `expires`, no `add_header`), its fixed headers
/// written straight into a scratch buffer (HTTP/1.1) or sent as HEADERS (HTTP/2); returns
/// the buffers and the body to send.
pub(super) fn file_head(
    client: &mut Client,
    req: &Req<'_>,
    f: FileResponse<'_>,
    ka: Ka,
    gz: Decision,
) -> (Scratch, Body) {
    let FileResponse {
        status,
        content_type,
        content_length,
        last_modified,
        etag,
        content_range,
        accept_ranges,
        body,
    } = f;
    // without add_header entries (the usual case here) the names are fixed
    let plain = req.loc.add_headers.is_empty();
    let name = |n: &'static str| match n {
        "etag" if plain => std::borrow::Cow::Borrowed(&b"ETag"[..]),
        "accept-ranges" if plain => std::borrow::Cow::Borrowed(&b"Accept-Ranges"[..]),
        _ => canonical(req, n),
    };
    let weak = gz.gzip.then(|| static_gzip::weak(etag.as_bytes()));
    let list = [
        Some((name("etag"), weak.as_deref().unwrap_or(etag.as_bytes()))),
        content_range
            .as_ref()
            .map(|r| (name("content-range"), r.as_bytes())),
        (accept_ranges && !gz.gzip).then(|| (name("accept-ranges"), &b"bytes"[..])),
        gz.gzip.then(|| (name("content-encoding"), &b"gzip"[..])),
    ];
    let mut s = take_scratch();
    s.head.clear();
    client.put_head(
        &mut s.head,
        &Head {
            status: status.into(),
            content_type: content_type.map(str::as_bytes),
            content_length: content_length.filter(|_| !gz.gzip),
            last_modified: Some(last_modified.as_bytes()),
            chunked: gz.gzip && static_gzip::facts(req).chunked(),
            ka: Some(ka),
            vary: gz.vary,
            ..Head::default()
        },
        list.iter().flatten().map(|(n, v)| (&n[..], *v)),
    );
    (s, body)
}

/// A response of the `HeaderMap` path (locations with `expires` or `add_header`, multipart
/// ranges).
pub(super) async fn write_response(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    resp: hyper::Response<crate::static_files::Body>,
    static_vary: bool,
) -> Next {
    let code = Status::from(resp.status());
    let mut ka = keepalive(req, shared, code);
    let (mut parts, body) = resp.into_parts();
    let content_length = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut gz = static_gzip::apply(req, code, &mut parts.headers, content_length);
    gz.vary |= static_vary && req.loc.gzip.vary;
    if gz.gzip && static_gzip::facts(req).closes() {
        ka = Ka::Close;
    }
    let content_length = content_length.filter(|_| !gz.gzip);
    let h = &parts.headers;
    let get = |n: hyper::header::HeaderName| h.get(n).map(HeaderValue::as_bytes);
    let special = [
        hyper::header::CONTENT_TYPE,
        hyper::header::CONTENT_LENGTH,
        hyper::header::LAST_MODIFIED,
    ];
    let mut list: Vec<(std::borrow::Cow<'static, [u8]>, &[u8])> = Vec::with_capacity(h.len());
    for (n, v) in h.iter() {
        if !special.contains(n) {
            list.push((canonical(req, n.as_str()), v.as_bytes()));
        }
    }
    let mut s = take_scratch();
    s.head.clear();
    client.put_head(
        &mut s.head,
        &Head {
            status: code,
            content_type: get(hyper::header::CONTENT_TYPE),
            content_length,
            last_modified: get(hyper::header::LAST_MODIFIED),
            chunked: gz.gzip && static_gzip::facts(req).chunked(),
            ka: Some(ka),
            vary: gz.vary,
            ..Head::default()
        },
        list.iter().map(|(n, v)| (&n[..], *v)),
    );
    drop(list);
    send(client, req, code, ka, s, body, gz.gzip).await
}

/// Sends the head in `s.head` and then `body`, records the status and byte counts, and
/// returns the scratch buffers to the pool.
pub(super) async fn send(
    client: &mut Client,
    req: &mut Req<'_>,
    code: Status,
    ka: Ka,
    mut s: Scratch,
    mut body: Body,
    gzip: bool,
) -> Next {
    req.status = code;
    let head_len = s.head.len() as u64;
    let t = req.loc.send_timeout;
    let (ok, sent) = if gzip && !static_gzip::facts(req).head {
        let chunked = static_gzip::facts(req).chunked();
        let enc = static_gzip::encoder(req, body.remaining());
        let counts = &mut req.gzip_ratio;
        static_gzip::send(
            client, &s.head, &mut s.buf, &mut body, enc, chunked, t, counts,
        )
        .await
    } else {
        send_with_body(client, &s.head, &mut s.buf, &mut body, t).await
    };
    give_scratch(s);
    req.bytes_sent = sent;
    let ok = match ok {
        Ok(()) => true,
        Err(SendError::Read(e)) => {
            log_error(
                req.live,
                req,
                LogLevel::Error,
                &format!("pread() failed ({e})"),
            );
            false
        }
        Err(SendError::Write) => false,
    };
    req.body_bytes_sent = req.bytes_sent.saturating_sub(head_len);
    match (ok, ka) {
        (true, Ka::KeepAlive(_)) => Next::KeepAlive(req.loc.keepalive_timeout.0),
        _ => Next::Close,
    }
}

/// The buffers of one response, reused: the head is written into `head`, then copied in
/// front of the first body bytes in `buf`.
pub(super) struct Scratch {
    /// The response head (capacity grows to the largest head seen).
    head: Vec<u8>,
    /// [`CHUNK`] bytes, zeroed once when created and then only overwritten (file bytes are
    /// read straight into it).
    buf: Vec<u8>,
}

thread_local! {
    /// Buffers kept for reuse by this worker thread (at most [`SCRATCH_KEPT`]), so that a
    /// response costs no allocation.
    static SCRATCH: std::cell::RefCell<Vec<Scratch>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Buffers kept per worker thread (more concurrent responses allocate their own).
const SCRATCH_KEPT: usize = 4;

fn take_scratch() -> Scratch {
    SCRATCH
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| Scratch {
            head: Vec::with_capacity(512),
            buf: vec![0; CHUNK],
        })
}

fn give_scratch(v: Scratch) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SCRATCH_KEPT {
            s.push(v);
        }
    });
}

/// Sends the response `head` and then the body: the head and the first body bytes in one
/// write (a small file is one `write(2)`, as nginx's one `writev`), then chunks of up to
/// [`CHUNK`] bytes read into `buf` (which is never re-zeroed); returns the outcome and the
/// bytes sent.
async fn send_with_body(
    client: &mut Client,
    head: &[u8],
    buf: &mut [u8],
    body: &mut Body,
    t: std::time::Duration,
) -> (Result<(), SendError>, u64) {
    let mut sent = 0u64;
    let mut start = 0;
    if head.len() < buf.len() {
        buf[..head.len()].copy_from_slice(head);
        start = head.len();
    } else {
        // a head as big as a chunk (huge add_header values) goes alone
        if client.write_all(head, t).await.is_err() {
            return (Err(SendError::Write), sent);
        }
        sent += head.len() as u64;
    }
    loop {
        let n = match body.read_into(&mut buf[start..]) {
            Ok(n) => n,
            Err(e) => return (Err(SendError::Read(e)), sent),
        };
        let len = start + n;
        if len > 0 && client.write_all(&buf[..len], t).await.is_err() {
            return (Err(SendError::Write), sent);
        }
        sent += len as u64;
        if body.remaining() == 0 || n == 0 {
            return (Ok(()), sent);
        }
        start = 0;
    }
}
