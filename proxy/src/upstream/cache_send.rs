//! Sending a stored response (a cache entry, or a response just read whole to be stored)
//! through nginx's header rules and its not_modified and range filters (`cache_filters`: 304,
//! 412, 206, 416), keeping its framing: a body that came with a Content-Length is sent with
//! it, any other chunked (HTTP/1.1) or until close; and the check that a stored head matches
//! its body.

use super::cache_filters::{self, Filtered, Source};
use super::framer::{Framer, Framing};
use super::relay::{Plan, Shape};
use crate::cache::file::Entry;
use crate::conf::model::ProxyPass;
use crate::http::response;
use crate::http::response::UpHead;
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::reply::added_headers;
use crate::request::respond::Ka;
use crate::static_files::{ByteRange, Multipart};
use std::borrow::Cow;

/// A stored head parses and its Content-Length (when given) matches the body: anything else
/// is a truncated or corrupt file, never served.
pub fn head_matches_body(e: &Entry) -> bool {
    let mut head = e.head.clone();
    match response::parse(&mut head, usize::MAX) {
        Ok(Some((up, rest))) => {
            rest.is_empty()
                && (up.chunked || up.content_length.is_none_or(|n| n == e.body.len() as u64))
        }
        _ => false,
    }
}

/// A response sent whole: the head as the upstream sent it and the decoded body.
pub struct Stored<'b> {
    /// The upstream's head bytes.
    pub head: &'b [u8],
    /// The decoded body.
    pub body: &'b [u8],
    /// The upstream failed before the end: the connection closes after what was read.
    pub truncated: bool,
    /// From the cache, being stored, or neither (the not_modified and range filters).
    pub source: Source,
}

impl<'b> Stored<'b> {
    /// A cache entry, sent whole.
    pub fn cached(entry: &'b Entry) -> Stored<'b> {
        Stored {
            head: &entry.head,
            body: &entry.body,
            truncated: false,
            source: Source::Cache,
        }
    }
}

/// The head changes and the body for the filters' verdict (a 412 is answered by the caller).
fn shaped<'b>(
    req: &Req<'_>,
    up: &UpHead,
    plan: &mut Plan,
    (filtered, source): (Filtered, Source),
    body: &'b [u8],
) -> (Shape<'static>, Cow<'b, [u8]>) {
    const DROP_RANGES: &[&[u8]] = &[b"accept-ranges"];
    let mut shape = Shape::default();
    if source != Source::Passing {
        // nginx's copy_allow_ranges: the range filter says it itself
        shape.drop = DROP_RANGES;
    }
    let out = match filtered {
        Filtered::Whole { accept_ranges } => {
            if accept_ranges {
                shape
                    .tail
                    .push((b"Accept-Ranges".to_vec(), b"bytes".to_vec()));
            }
            Cow::Borrowed(body)
        }
        Filtered::NotModified => not_modified(&mut shape, plan),
        Filtered::Partial(ranges) => partial(up, &ranges, body, &mut shape, plan),
        Filtered::Unsatisfiable => unsatisfiable(req, body.len(), &mut shape, plan),
        Filtered::PreconditionFailed => Cow::Borrowed(body),
    };
    (shape, out)
}

/// A 304: no body, and none of the headers that describe one.
fn not_modified<'b>(shape: &mut Shape<'static>, plan: &mut Plan) -> Cow<'b, [u8]> {
    const DROP_304: &[&[u8]] = &[
        b"content-type",
        b"content-length",
        b"accept-ranges",
        b"content-encoding",
    ];
    shape.status = Some(Status::NOT_MODIFIED);
    shape.drop = DROP_304;
    shape.content_type = Some(None);
    shape.content_length = Some(None);
    plan.gzip = Default::default();
    plan.framing = Framing::None;
    plan.client_chunked = false;
    Cow::Borrowed(&[])
}

/// A 206 of `ranges` of `body`: one range with its Content-Range, several as
/// multipart/byteranges.
fn partial<'b>(
    up: &UpHead,
    ranges: &[ByteRange],
    body: &'b [u8],
    shape: &mut Shape<'static>,
    plan: &mut Plan,
) -> Cow<'b, [u8]> {
    shape.status = Some(Status::PARTIAL_CONTENT);
    let size = body.len() as u64;
    let out = if let [r] = ranges {
        let range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
        shape
            .tail
            .push((b"Content-Range".to_vec(), range.into_bytes()));
        Cow::Borrowed(&body[r.start as usize..r.end as usize])
    } else {
        let (ctype, v) = multipart(up, ranges, body);
        shape.content_type = Some(Some(Cow::Owned(ctype)));
        Cow::Owned(v)
    };
    let n = out.len() as u64;
    shape.content_length = Some(Some(n));
    if plan.framing != Framing::None {
        plan.framing = Framing::Length(n);
    }
    out
}

/// A 416 for a body of `size` bytes: nginx's error page with `Content-Range: bytes */SIZE`.
fn unsatisfiable<'b>(
    req: &Req<'_>,
    size: usize,
    shape: &mut Shape<'static>,
    plan: &mut Plan,
) -> Cow<'b, [u8]> {
    const DROP_416: &[&[u8]] = &[
        b"content-type",
        b"content-length",
        b"last-modified",
        b"etag",
        b"accept-ranges",
    ];
    let page = Status::RANGE_NOT_SATISFIABLE.error_page(req.loc.server_tokens);
    shape.status = Some(Status::RANGE_NOT_SATISFIABLE);
    shape.added_status = Some(Status::OK);
    shape.drop = DROP_416;
    let range = format!("bytes */{size}");
    shape
        .tail
        .push((b"Content-Range".to_vec(), range.into_bytes()));
    shape
        .tail
        .extend(added_headers(req, Status::RANGE_NOT_SATISFIABLE));
    shape.content_type = Some(Some(Cow::Borrowed(b"text/html")));
    shape.content_length = Some(Some(page.len() as u64));
    plan.gzip = Default::default();
    if plan.framing != Framing::None {
        plan.framing = Framing::Length(page.len() as u64);
    }
    Cow::Owned(page)
}

/// A multipart/byteranges answer of `ranges` of `body`: its Content-Type and body.
fn multipart(up: &UpHead, ranges: &[ByteRange], body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ctype = up
        .headers()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
        .map_or(String::new(), |(_, v)| {
            String::from_utf8_lossy(v).into_owned()
        });
    let m = Multipart::new(ranges, &ctype, body.len() as u64);
    let mut v = Vec::with_capacity(m.len as usize);
    for (head, r) in m.heads.iter().zip(ranges) {
        v.extend_from_slice(head.as_bytes());
        v.extend_from_slice(&body[r.start as usize..r.end as usize]);
    }
    v.extend_from_slice(m.tail.as_bytes());
    (m.content_type.into_bytes(), v)
}

/// Sends a stored response through nginx's header rules and, for a response from the cache
/// or being stored, its not_modified and range filters.
pub async fn send_stored(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    pass: &ProxyPass,
    stored: Stored<'_>,
) -> Next {
    let truncated = stored.truncated;
    let mut raw = stored.head.to_vec();
    let Ok(Some((up, _))) = response::parse(&mut raw, usize::MAX) else {
        return crate::request::reply::send_error(
            client,
            req,
            shared,
            Status::INTERNAL_SERVER_ERROR,
        )
        .await;
    };
    let mut plan = super::relay::plan(req, shared, &up);
    let known = !up.chunked && up.content_length.is_some() && !plan.gzip.gzip;
    let length = known.then_some(stored.body.len() as u64);
    let filtered = cache_filters::decide(req, &up, stored.source, length);
    if filtered == Filtered::PreconditionFailed {
        req.up.last_head = Some(up);
        return crate::request::reply::send_error(client, req, shared, Status::PRECONDITION_FAILED)
            .await;
    }
    let verdict = (filtered, stored.source);
    let (shape, body) = shaped(req, &up, &mut plan, verdict, stored.body);
    let mut out = Vec::with_capacity(512 + body.len());
    super::relay::client_head_shaped(client, req, pass, &up, &plan, &shape, &mut out);
    let head_len = out.len() as u64;
    let framing = match plan.framing {
        Framing::Chunked | Framing::Close => Framing::Close,
        f => f,
    };
    let mut framer = Framer::new(framing, plan.client_chunked);
    if plan.gzip.gzip && framing != Framing::None {
        // the gzip filter runs on a stored response as on a relayed one
        let length = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        framer = framer.gzip(super::gzip::encoder(&req.loc.gzip, length), false);
    }
    let _ = framer.feed(&body, &mut out);
    if framing == Framing::Close && !truncated {
        let _ = framer.eof(&mut out);
    }
    req.status = shape.status.unwrap_or(up.status);
    req.gzip_ratio = framer.gzip_counts;
    let r = client.write_all(&out, req.loc.send_timeout).await;
    req.bytes_sent = out.len() as u64;
    req.body_bytes_sent = req.bytes_sent - head_len;
    req.up.last_head = Some(up);
    match (r, plan.ka) {
        (Ok(()), Ka::KeepAlive(_)) if !truncated => Next::KeepAlive(req.loc.keepalive_timeout.0),
        _ => Next::Close,
    }
}
