//! CONTENT phase for locations without `proxy_pass`: the `static_files` module decides (file,
//! 304, ranges, index, 301 to add a slash, 403/404/405/416 pages); this file turns its
//! answer into nginx's bytes on our connection (head order, absolute Location, error pages
//! with `add_header`) and streams the body.

use super::static_gzip::{self, SendError};
use crate::conf::model::LogLevel;
use crate::filter::gzip::Decision;
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::log::log_error;
use crate::request::reply::{absolute, gzip_answer, keepalive, send_simple};
use crate::request::respond::{Head, Ka};
use crate::static_files::{
    AddHeader, Body, CHUNK, Expires, FileResponse, Served, StaticOutcome, StaticRequest,
    serve_direct,
};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::SystemTime;

/// Request headers the static module looks at.
const READ_HEADERS: [&[u8]; 6] = [
    b"if-modified-since",
    b"if-none-match",
    b"if-unmodified-since",
    b"if-match",
    b"range",
    b"if-range",
];

/// Only the request headers the static module reads (conditionals and ranges): most
/// requests have none, and then the map allocates nothing.
fn read_headers(req: &Req<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (n, v) in req.head.headers() {
        // all of them start with `i` or `r`
        let first = n.first().map(u8::to_ascii_lowercase);
        if !matches!(first, Some(b'i' | b'r'))
            || !READ_HEADERS.iter().any(|r| n.eq_ignore_ascii_case(r))
        {
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            headers.append(n, v);
        }
    }
    headers
}

/// The location's `add_header` entries, rendered.
fn add_headers(req: &Req<'_>) -> Vec<AddHeader> {
    let mut adds = Vec::new();
    for a in req.loc.add_headers.iter() {
        let v = a.value.render(req);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(a.name.as_bytes()),
            HeaderValue::from_bytes(&v),
        ) {
            adds.push(AddHeader {
                name,
                value,
                always: a.always,
            });
        }
    }
    adds
}

/// Serves the request from the location's root/alias.
pub async fn serve(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    let conf = req.loc.static_conf.clone();
    let method = hyper::Method::from_bytes(req.head.method()).unwrap_or(hyper::Method::GET);
    let mut headers = read_headers(req);
    if static_gzip::drops_ranges(req) {
        headers.remove(hyper::header::RANGE);
        headers.remove(hyper::header::IF_RANGE);
    }
    let adds = add_headers(req);
    let args = String::from_utf8_lossy(req.args());
    let version = if req.head.minor == 0 {
        hyper::Version::HTTP_10
    } else {
        hyper::Version::HTTP_11
    };
    let mut uri = std::borrow::Cow::Borrowed(&req.uri[..]);
    // gzip_static found FILE.gz: the response varies on Accept-Encoding (gzip_vary)
    let mut static_vary = false;
    // An index file is served from the same location (nginx re-runs location matching).
    for _ in 0..10 {
        let sreq = StaticRequest {
            method: &method,
            uri: &uri,
            args: Some(&args),
            version,
            headers: &headers,
            add_headers: &adds,
            // only `expires` reads the time
            now: if conf.expires == Expires::Off {
                SystemTime::UNIX_EPOCH
            } else {
                SystemTime::now()
            },
        };
        if let Some(resp) = super::gzip_static::try_serve(req, &conf, &sreq, &mut static_vary) {
            return write_response(client, req, shared, resp, static_vary).await;
        }
        let outcome = match serve_direct(&conf, &sreq) {
            Served::File(f) => {
                // the head is written here and only the body moves into the sending future
                let code = Status::from(f.status);
                let mut ka = keepalive(req, shared, code);
                let mut gz = static_gzip::decide(req, &f);
                gz.vary |= static_vary && req.loc.gzip.vary;
                if gz.gzip && static_gzip::facts(req).closes() {
                    ka = Ka::Close;
                }
                let (scratch, body) = file_head(client, req, f, ka, gz);
                return send(client, req, code, ka, scratch, body, gz.gzip).await;
            }
            Served::Other(o) => o,
        };
        match outcome {
            StaticOutcome::InternalRedirect(u) => uri = std::borrow::Cow::Owned(u),
            StaticOutcome::Special {
                status,
                headers: mut extra,
                log,
            } => {
                let code = Status::from(status);
                if let Some(m) = log {
                    log_error(req.live, req, LogLevel::Error, &m);
                }
                conf.expires
                    .apply(status, &mut extra, SystemTime::now(), None);
                return send_page(client, req, shared, code, extra).await;
            }
            StaticOutcome::Response(resp) => {
                return write_response(client, req, shared, resp, static_vary).await;
            }
        }
    }
    redirection_cycle(client, req, shared).await
}

/// nginx's canonical spelling of a header name (HeaderMap keeps names lowercased): the
/// name as written in `add_header`, else the usual Title-Case.
fn canonical(req: &Req<'_>, name: &str) -> std::borrow::Cow<'static, [u8]> {
    use std::borrow::Cow;
    if let Some(a) = req
        .loc
        .add_headers
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
    {
        return Cow::Owned(a.name.as_bytes().to_vec());
    }
    match name {
        "etag" => Cow::Borrowed(b"ETag"),
        "accept-ranges" => Cow::Borrowed(b"Accept-Ranges"),
        "content-range" => Cow::Borrowed(b"Content-Range"),
        "www-authenticate" => Cow::Borrowed(b"WWW-Authenticate"),
        _ => {
            let mut up = true;
            Cow::Owned(
                name.bytes()
                    .map(|b| {
                        let c = if up { b.to_ascii_uppercase() } else { b };
                        up = b == b'-';
                        c
                    })
                    .collect(),
            )
        }
    }
}

/// An error page (or the slash redirect) with the module's extra headers.
async fn send_page(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    code: Status,
    extra: HeaderMap,
) -> Next {
    let body = code.error_page(req.loc.server_tokens);
    let mut ka = keepalive(req, shared, code);
    let mut special_location = None;
    let mut list: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (n, v) in extra.iter() {
        if n == hyper::header::LOCATION {
            let l = v.as_bytes();
            if l.first() == Some(&b'/') && req.loc.absolute_redirect {
                special_location = Some(absolute(req, l));
                continue;
            }
        }
        list.push((
            canonical(req, n.as_str()).into_owned(),
            v.as_bytes().to_vec(),
        ));
    }
    // add_header entries the module did not already apply (it applies them only to 200/304/416).
    if code.code() != 416 {
        list.extend(crate::request::reply::added_headers(req, code));
    }
    let content_type = (!body.is_empty()).then_some(&b"text/html"[..]);
    let (gz, packed) = gzip_answer(req, code, content_type, &body, &mut list, &mut ka);
    let body = packed.unwrap_or(body);
    let mut out = Vec::with_capacity(256 + body.len());
    client.put_head(
        &mut out,
        &Head {
            status: code,
            content_type,
            content_length: (!gz.gzip).then_some(body.len() as u64),
            location: special_location.as_deref(),
            chunked: gz.gzip && static_gzip::facts(req).chunked(),
            ka: Some(ka),
            vary: gz.vary,
            ..Head::default()
        },
        list.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
    );
    crate::request::reply::write_answer(client, req, out, &body, code, ka).await
}

/// The head of a [`FileResponse`] (no `expires`, no `add_header`), its fixed headers
/// written straight into a scratch buffer (HTTP/1.1) or sent as HEADERS (HTTP/2); returns
/// the buffers and the body to send.
fn file_head(
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
async fn write_response(
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
async fn send(
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
        static_gzip::send(client, &s.head, &mut s.buf, &mut body, enc, chunked, t).await
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
struct Scratch {
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

/// Too many index redirections: nginx's error line and 500 page.
async fn redirection_cycle(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    log_error(
        req.live,
        req,
        LogLevel::Error,
        "rewrite or internal redirection cycle",
    );
    let status = Status::INTERNAL_SERVER_ERROR;
    let body = status.error_page(req.loc.server_tokens);
    send_simple(
        client,
        req,
        shared,
        status,
        Some(b"text/html"),
        &body,
        None,
        false,
    )
    .await
}
