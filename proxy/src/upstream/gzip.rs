//! The gzip filter on a proxied response: the upstream head as nginx's gzip header filter
//! sees it (passed headers only: `Content-Type`, `Content-Length`, `Content-Encoding`,
//! `Expires`, `Cache-Control`, `Last-Modified`, `ETag`), and the encoder for the body.

use super::framer::Framing;
use super::hidden::passed;
use crate::conf::gzip::GzipConf;
use crate::filter::deflate::{GzipEncoder, memory};
use crate::filter::gzip::{Decision, RequestFacts, ResponseFacts, decide as filter_decide};
use crate::http::response::UpHead;
use crate::request::ctx::Req;

/// The gzip verdict for the upstream response `up` framed as `framing`.
pub(super) fn decide(req: &Req<'_>, up: &UpHead, framing: Framing) -> Decision {
    let conf = &req.loc.gzip;
    if !conf.enable {
        return Decision::default();
    }
    let proxy = &req.loc.proxy;
    let mut resp = ResponseFacts {
        status: up.status,
        content_length: match framing {
            Framing::Length(n) => Some(n),
            Framing::None => up.content_length,
            _ => None,
        },
        ..ResponseFacts::default()
    };
    for (n, v) in up.headers() {
        if !passed(n, &proxy.hide_headers, &proxy.pass_headers) {
            continue;
        }
        let is = |name: &[u8]| n.eq_ignore_ascii_case(name);
        if is(b"content-type") {
            resp.content_type.get_or_insert(v);
        } else if is(b"content-encoding") {
            resp.content_encoding |= !v.is_empty();
        } else if is(b"expires") {
            resp.expires = Some(v);
        } else if is(b"cache-control") {
            resp.cache_control.push(v);
        } else if is(b"last-modified") {
            resp.last_modified = true;
        } else if is(b"etag") {
            resp.etag = true;
        }
    }
    let mut d = filter_decide(conf, &RequestFacts::of(req.head, req.conn.h2), &resp);
    // An empty body (Content-Length: 0, with gzip_min_length 0) is an empty gzip stream, as
    // nginx sends it; a HEAD gets the gzipped head (the relay compresses nothing: its framing
    // is None).
    if framing == Framing::None && req.head.method() != b"HEAD" {
        d.gzip = false;
    }
    d
}

/// The encoder for a response body of `length` bytes (when known).
pub(super) fn encoder(conf: &GzipConf, length: Option<u64>) -> GzipEncoder {
    GzipEncoder::new(conf.level, memory(conf.window_bits, conf.mem_level, length))
}
