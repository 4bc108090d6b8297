//! The gzip filter on static files: the verdict for a file response (it has `ETag` and
//! `Last-Modified`, and `Expires`/`Cache-Control` when `expires`/`add_header` set them), the
//! head changes (no `Content-Length` or `Accept-Ranges`, weak `ETag`, `Content-Encoding`
//! last), ranges ignored when the response will be gzipped (nginx's range filter sees no
//! length), and the body read in chunks and compressed on its way to the client.

use crate::filter::deflate::{GzipEncoder, memory};
use crate::filter::gzip::weak_etag;
use crate::filter::gzip::{Decision, RequestFacts, ResponseFacts, decide as filter_decide};
use crate::http::chunked::encode_chunk;
use crate::http::status::Status;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::static_files::{Body, FileResponse};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

/// What the gzip filter reads of the request.
pub(super) fn facts<'a>(req: &'a Req<'_>) -> RequestFacts<'a> {
    RequestFacts::of(req.head, req.conn.h2)
}

/// The verdict for a file response without `expires` or `add_header` headers. A 206 is
/// judged as the 200 of the whole file (nginx's gzip filter runs before the range filter).
pub(super) fn decide(req: &Req<'_>, f: &FileResponse<'_>) -> Decision {
    let (mut code, mut length) = (Status::from(f.status), f.content_length);
    if code == Status::PARTIAL_CONTENT {
        code = Status::OK;
        length = f.content_range.as_ref().and_then(|r| total(r.as_bytes()));
    }
    if !req.loc.gzip.enable || length == Some(0) {
        return Decision::default();
    }
    let resp = ResponseFacts {
        status: code,
        content_type: f.content_type.map(str::as_bytes),
        content_length: length,
        etag: true,
        last_modified: true,
        ..ResponseFacts::default()
    };
    let mut d = filter_decide(&req.loc.gzip, &facts(req), &resp);
    // a range left in place (the client does not take gzip) is never compressed
    d.gzip &= f.status != hyper::StatusCode::PARTIAL_CONTENT;
    d
}

/// The total length in a `Content-Range: bytes A-B/TOTAL`.
fn total(range: &[u8]) -> Option<u64> {
    let slash = range.iter().rposition(|&b| b == b'/')?;
    std::str::from_utf8(&range[slash + 1..]).ok()?.parse().ok()
}

/// The verdict for a response built as a `HeaderMap`; when gzipped, `headers` loses
/// `Accept-Ranges`, gets a weak `ETag` and ends with `Content-Encoding: gzip` (other headers
/// keep their order).
pub(super) fn apply(
    req: &Req<'_>,
    code: Status,
    headers: &mut HeaderMap,
    content_length: Option<u64>,
) -> Decision {
    if !req.loc.gzip.enable || content_length == Some(0) {
        return Decision::default();
    }
    let get = |n: HeaderName| headers.get(n).map(HeaderValue::as_bytes);
    let partial = code == Status::PARTIAL_CONTENT;
    let (code, content_length) = match get(hyper::header::CONTENT_RANGE).and_then(total) {
        Some(all) if partial => (Status::OK, Some(all)),
        _ => (code, content_length),
    };
    let resp = ResponseFacts {
        status: code,
        content_type: get(hyper::header::CONTENT_TYPE),
        content_length,
        content_encoding: get(hyper::header::CONTENT_ENCODING).is_some_and(|v| !v.is_empty()),
        expires: get(hyper::header::EXPIRES),
        cache_control: headers
            .get_all(hyper::header::CACHE_CONTROL)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect(),
        last_modified: headers.contains_key(hyper::header::LAST_MODIFIED),
        etag: headers.contains_key(hyper::header::ETAG),
    };
    let mut d = filter_decide(&req.loc.gzip, &facts(req), &resp);
    d.gzip &= !partial;
    if d.gzip {
        let mut kept = HeaderMap::with_capacity(headers.len() + 1);
        for (n, v) in headers.iter() {
            if n == hyper::header::ACCEPT_RANGES || n == hyper::header::CONTENT_LENGTH {
                continue;
            }
            if n == hyper::header::ETAG {
                match weak_etag(v.as_bytes()).and_then(|w| HeaderValue::from_bytes(&w).ok()) {
                    Some(w) => kept.append(n.clone(), w),
                    None => continue,
                };
            } else {
                kept.append(n.clone(), v.clone());
            }
        }
        kept.append(
            hyper::header::CONTENT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
        *headers = kept;
    }
    d
}

/// Whether a range request must be answered whole because the file will be gzipped (its
/// type is listed and the client takes gzip): nginx's range filter runs after gzip removed
/// the length. (A file shorter than `gzip_min_length` then loses its range too.)
pub(super) fn drops_ranges(req: &Req<'_>) -> bool {
    let conf = &req.loc.gzip;
    if !conf.enable || req.head.header(b"range").is_none() {
        return false;
    }
    let sc = &req.loc.static_conf;
    let ty = sc.mime.for_uri(&req.uri, &sc.default_type);
    let resp = ResponseFacts {
        status: Status::OK,
        content_type: Some(ty.as_bytes()),
        etag: true,
        last_modified: true,
        ..ResponseFacts::default()
    };
    filter_decide(conf, &facts(req), &resp).gzip
}

/// The file's ETag made weak (a static ETag is always quoted).
pub(super) fn weak(etag: &[u8]) -> Vec<u8> {
    weak_etag(etag).unwrap_or_default()
}

/// The encoder for a file of `len` bytes.
pub(super) fn encoder(req: &Req<'_>, len: u64) -> GzipEncoder {
    let conf = &req.loc.gzip;
    GzipEncoder::new(
        conf.level,
        memory(conf.window_bits, conf.mem_level, Some(len)),
    )
}

/// Sends `head`, then the body read into `buf` chunk by chunk and gzipped (chunked framing
/// for HTTP/1.1; HTTP/1.0 ends with the connection); returns the outcome and bytes sent, and
/// puts the stream's counts in `counts` once it ended (`$gzip_ratio`).
#[allow(clippy::too_many_arguments)]
pub(super) async fn send(
    client: &mut Client,
    head: &[u8],
    buf: &mut [u8],
    body: &mut Body,
    mut enc: GzipEncoder,
    chunked: bool,
    t: Duration,
    counts: &mut Option<(u64, u64)>,
) -> (Result<(), SendError>, u64) {
    let mut out = Vec::with_capacity(head.len() + buf.len() / 2);
    out.extend_from_slice(head);
    let mut z = Vec::with_capacity(buf.len() / 2);
    let mut sent = 0u64;
    loop {
        let n = match body.read_into(buf) {
            Ok(n) => n,
            Err(e) => return (Err(SendError::Read(e)), sent),
        };
        let last = n == 0 || body.remaining() == 0;
        z.clear();
        enc.write(&buf[..n], false, &mut z);
        if last {
            enc.finish(&mut z);
            *counts = Some(enc.counts());
        }
        if chunked && !z.is_empty() {
            encode_chunk(&z, &mut out);
        } else {
            out.extend_from_slice(&z);
        }
        if last && chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        if !out.is_empty() && client.write_all(&out, t).await.is_err() {
            return (Err(SendError::Write), sent);
        }
        sent += out.len() as u64;
        out.clear();
        if last {
            return (Ok(()), sent);
        }
    }
}

/// Why sending a response stopped early.
pub(super) enum SendError {
    /// Reading the file failed (or it was truncated): logged, connection cut.
    Read(std::io::Error),
    /// Writing to the client failed or timed out.
    Write,
}
