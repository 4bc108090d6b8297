//! HTTP/2 head assembly: an HTTP/2 request's pieces written as an HTTP/1.1 head
//! (`request::h2::head::write_head`) and taken without parsing (`http::head::assemble`) must
//! give exactly what parsing that head gives (`http::head::parse`).

use crate::http1::LIMITS;
use hyper::http::{Method, Request};
use proxylab_proxy::http::head::{self, RequestHead};
use proxylab_proxy::request::h2::head::write_head;

/// Input: line 1 the method, line 2 the URI, then `name:value` lines; a first byte with
/// its low bit set asks for a chunked body.
pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let (Some(m), Some(u)) = (lines.next(), lines.next()) else {
        return;
    };
    let Ok(method) = Method::from_bytes(m) else {
        return;
    };
    let Ok(uri) = std::str::from_utf8(u) else {
        return;
    };
    let mut b = Request::builder().method(method).uri(uri);
    for l in lines {
        let Some(colon) = l.iter().position(|&c| c == b':') else {
            continue;
        };
        b = b.header(&l[..colon], &l[colon + 1..]);
    }
    let Ok(req) = b.body(()) else {
        return;
    };
    let (parts, ()) = req.into_parts();
    let mut raw = Vec::new();
    let Some(written) = write_head(&parts, flags & 1 == 1, &mut raw) else {
        return;
    };
    let parsed = head::parse(&raw, &LIMITS).map(|r| r.map(|(h, _)| view(&h)));
    let assembled = head::assemble(&mut raw.clone(), written, &LIMITS).map(|h| Some(view(&h)));
    match (&assembled, &parsed) {
        (Err(_), Err(_)) => {}
        _ => assert_eq!(assembled, parsed, "{}", String::from_utf8_lossy(&raw)),
    }
}

type View = (
    Vec<u8>,
    Vec<u8>,
    Vec<(Vec<u8>, Vec<u8>)>,
    Option<Vec<u8>>,
    Option<u64>,
    bool,
);

fn view(h: &RequestHead) -> View {
    (
        h.method().to_vec(),
        h.target().to_vec(),
        h.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
        h.host().map(<[u8]>::to_vec),
        h.content_length,
        h.chunked,
    )
}
