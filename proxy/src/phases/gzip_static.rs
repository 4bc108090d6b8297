//! `gzip_static`: nginx's `ngx_http_gzip_static_module`, a content handler tried before the
//! static one. For a GET or HEAD of a file URI, `FILE.gz` is served as the file with
//! `Content-Encoding: gzip` (type of the original name, the `.gz` file's length, date and
//! ETag, no ranges) when `always`, or when `on` and the client takes gzip. With `on`, an
//! existing `.gz` makes the response vary on `Accept-Encoding` even when it is not used.

use crate::conf::gzip::StaticMode;
use crate::filter::gzip::{RequestFacts, ResponseFacts, gzip_ok};
use crate::request::ctx::Req;
use crate::static_files::{Body, Served, StaticConf, StaticOutcome, StaticRequest, serve_direct};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

/// The `.gz` response for `sreq`, if nginx's gzip_static handler answers it; `vary` is set
/// when nginx marks the request as varying on `Accept-Encoding`.
pub(super) fn try_serve(
    req: &Req<'_>,
    conf: &StaticConf,
    sreq: &StaticRequest<'_>,
    vary: &mut bool,
) -> Option<Response<Body>> {
    let gz = &req.loc.gzip;
    if gz.static_mode == StaticMode::Off
        || (*sreq.method != hyper::Method::GET && *sreq.method != hyper::Method::HEAD)
        || sreq.uri.last() == Some(&b'/')
    {
        return None;
    }
    let ok = gz.static_mode == StaticMode::Always || {
        let facts = RequestFacts::of(req.head, req.conn.h2);
        gzip_ok(gz, &facts, &ResponseFacts::default())
    };
    if !gz.vary && !ok {
        return None;
    }
    let mut uri = sreq.uri.to_vec();
    uri.extend_from_slice(b".gz");
    let mut headers = sreq.headers.clone();
    headers.remove(hyper::header::RANGE);
    headers.remove(hyper::header::IF_RANGE);
    let resp = match serve_direct(
        conf,
        &StaticRequest {
            uri: &uri,
            headers: &headers,
            ..*sreq
        },
    ) {
        Served::File(f) => f.into_response(),
        Served::Other(StaticOutcome::Response(r)) => r,
        Served::Other(_) => return None,
    };
    if !matches!(resp.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        return None;
    }
    if gz.static_mode == StaticMode::On {
        *vary = true;
        if !ok {
            return None;
        }
    }
    let ctype = conf.mime.for_uri(sreq.uri, &conf.default_type);
    Some(as_gzip(resp, ctype))
}

/// The `.gz` file's response as nginx sends it for the original name: its type, no
/// `Accept-Ranges`, `Content-Encoding: gzip` right after the `ETag` (before the headers
/// `expires` and `add_header` add).
fn as_gzip(resp: Response<Body>, ctype: &str) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    // nginx's not-modified filter drops Content-Encoding from a 304
    let not_modified = parts.status == StatusCode::NOT_MODIFIED;
    let mut h = HeaderMap::with_capacity(parts.headers.len() + 1);
    let encoding = || HeaderValue::from_static("gzip");
    let mut placed = false;
    for (n, v) in parts.headers.iter() {
        if n == hyper::header::ACCEPT_RANGES {
            continue;
        }
        if n == hyper::header::CONTENT_TYPE {
            let t = HeaderValue::from_str(ctype).unwrap_or_else(|_| v.clone());
            h.append(n.clone(), t);
            continue;
        }
        h.append(n.clone(), v.clone());
        if n == hyper::header::ETAG && !placed && !not_modified {
            h.append(hyper::header::CONTENT_ENCODING, encoding());
            placed = true;
        }
    }
    if !placed && !not_modified {
        h.append(hyper::header::CONTENT_ENCODING, encoding());
    }
    parts.headers = h;
    Response::from_parts(parts, body)
}
