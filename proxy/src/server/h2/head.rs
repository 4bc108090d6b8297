//! The HTTP/1.1 ⇄ HTTP/2 head conversions of [`super::io::H2Io`]: the request head emitted as
//! HTTP/1.1, the request's Content-Length, the response header names HTTP/2 forbids, and
//! response header values shared with recent equal ones (no allocation per response).

use hyper::http::request::Parts;
use hyper::http::{HeaderMap, HeaderName, HeaderValue};

/// Whether HTTP/2 forbids `name` in responses (connection-specific headers and `TE`).
pub fn hop(name: &HeaderName) -> bool {
    use hyper::header::{CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == TE
        || name == "keep-alive"
        || name == "proxy-connection"
}

/// The Content-Length of `headers` when every value parses and they agree.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut len = None;
    for v in headers.get_all(hyper::header::CONTENT_LENGTH) {
        let n: u64 = std::str::from_utf8(v.as_bytes())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        if len.is_some_and(|l| l != n) {
            return None;
        }
        len = Some(n);
    }
    len
}

/// Emits the request head as HTTP/1.1 piece by piece through `put`: `METHOD target
/// HTTP/1.1`, the headers in order, `host` from `:authority` when absent, `connection:
/// close`, `transfer-encoding: chunked` when the body is sent chunked.
pub fn emit_head(parts: &Parts, chunked: bool, mut put: impl FnMut(&[u8])) {
    put(parts.method.as_str().as_bytes());
    put(b" ");
    put(parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .as_bytes());
    put(b" HTTP/1.1\r\n");
    let mut has_host = false;
    for (n, v) in &parts.headers {
        has_host |= n == hyper::header::HOST;
        put(n.as_str().as_bytes());
        put(b": ");
        put(v.as_bytes());
        put(b"\r\n");
    }
    if !has_host && let Some(a) = parts.uri.authority() {
        put(b"host: ");
        put(a.as_str().as_bytes());
        put(b"\r\n");
    }
    put(b"connection: close\r\n");
    if chunked {
        put(b"transfer-encoding: chunked\r\n");
    }
    put(b"\r\n");
}

/// Header values recently sent by this thread (`Server`, `Date`, common types…): reused
/// instead of copied into a new allocation for every response.
const RECENT: usize = 8;

thread_local! {
    static RECENT_VALUES: std::cell::RefCell<(usize, Vec<HeaderValue>)> =
        const { std::cell::RefCell::new((0, Vec::new())) };
}

/// `bytes` as a header value (None when invalid), shared with a recent equal one if any.
pub fn value_of(bytes: &[u8]) -> Option<HeaderValue> {
    if bytes.len() > 64 {
        return HeaderValue::from_bytes(bytes).ok();
    }
    RECENT_VALUES.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(v) = r.1.iter().find(|v| v.as_bytes() == bytes) {
            return Some(v.clone());
        }
        let v = HeaderValue::from_bytes(bytes).ok()?;
        let (next, list) = &mut *r;
        if list.len() < RECENT {
            list.push(v.clone());
        } else {
            list[*next] = v.clone();
            *next = (*next + 1) % RECENT;
        }
        Some(v)
    })
}
