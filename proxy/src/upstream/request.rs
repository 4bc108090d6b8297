//! The request sent upstream (spec §4): request line with the URI per nginx's replacement
//! rules, `proxy_set_header` entries in order, the built-in defaults not overridden (`Host:
//! $proxy_host`, `Connection: close`), a recomputed Content-Length, then the client's headers
//! except those names and the hop-by-hop ones nginx drops.

use crate::conf::model::ProxyPass;
use crate::http::uri::escape_path;
use crate::request::ctx::Req;

/// Client header names never copied (set by nginx itself or dropped).
fn dropped(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 8] = [
        b"host",
        b"connection",
        b"content-length",
        b"transfer-encoding",
        b"te",
        b"keep-alive",
        b"expect",
        b"upgrade",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The URI part sent upstream.
pub(super) fn upstream_uri(req: &Req<'_>, pass: &ProxyPass, out: &mut Vec<u8>) {
    let Some(uri_part) = &pass.uri else {
        // No URI in proxy_pass: the original request target, byte for byte.
        out.extend_from_slice(req.head.target());
        return;
    };
    let loc_name = req.loc.name.as_bytes();
    let rest = if req.uri.starts_with(loc_name) {
        &req.uri[loc_name.len()..]
    } else {
        &req.uri[..]
    };
    out.extend_from_slice(uri_part.as_bytes());
    escape_path(rest, out);
    let args = req.args();
    if !args.is_empty() {
        out.push(b'?');
        out.extend_from_slice(args);
    }
}

/// How the request body goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    /// Known length (buffered body, or Content-Length streamed).
    Known(u64),
    /// Streamed chunked body (`proxy_request_buffering off` + HTTP/1.1 upstream).
    Chunked,
}

/// With `proxy_cache`: for a response that may be stored (nginx's `u->cacheable`, which picks
/// its `headers_cache` set) nginx drops the client's conditional and range headers and, when
/// revalidating an expired entry, asks with the entry's Last-Modified and ETag; for any other
/// (a method not cached, `proxy_cache_min_uses` not reached, a lock timeout, a range beyond
/// `proxy_cache_max_range_offset`) the client's headers go as they are.
#[derive(Debug, Default)]
pub struct CacheHeaders {
    /// The response may be stored.
    pub cacheable: bool,
    /// `If-Modified-Since` value.
    pub if_modified_since: Option<Vec<u8>>,
    /// `If-None-Match` value.
    pub if_none_match: Option<Vec<u8>>,
    /// A HEAD sent as GET (`proxy_cache_convert_head`).
    pub as_get: bool,
}

/// Client headers nginx's proxy_cache defaults clear.
fn cleared_by_cache(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 6] = [
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-none-match",
        b"if-match",
        b"range",
        b"if-range",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Appends `name: value` and its CRLF.
fn header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Builds the request head sent upstream for this request.
pub fn build(req: &Req<'_>, pass: &ProxyPass, body: BodyLen) -> Vec<u8> {
    build_with(req, pass, body, None)
}

/// [`build`] for a location with `proxy_cache` (`cache` set).
pub fn build_with(
    req: &Req<'_>,
    pass: &ProxyPass,
    body: BodyLen,
    cache: Option<&CacheHeaders>,
) -> Vec<u8> {
    let proxy = &req.loc.proxy;
    let mut out = Vec::with_capacity(512 + req.head.raw.len());
    if cache.is_some_and(|c| c.as_get) {
        out.extend_from_slice(b"GET");
    } else {
        out.extend_from_slice(req.head.method());
    }
    out.push(b' ');
    upstream_uri(req, pass, &mut out);
    out.extend_from_slice(if proxy.http11 {
        b" HTTP/1.1\r\n"
    } else {
        b" HTTP/1.0\r\n"
    });
    let mut val = Vec::new();
    for (name, t) in &proxy.set_headers {
        val.clear();
        t.render_into(req, &mut val);
        if !val.is_empty() {
            header_line(&mut out, name.as_bytes(), &val);
        }
    }
    let overridden = |n: &[u8]| {
        proxy
            .set_headers
            .iter()
            .any(|(s, _)| s.as_bytes().eq_ignore_ascii_case(n))
    };
    if !overridden(b"host") {
        header_line(&mut out, b"Host", req.proxy_host.as_bytes());
    }
    if !overridden(b"connection") {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    match body {
        BodyLen::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        BodyLen::Known(n) => {
            if n > 0 || req.head.content_length.is_some() || req.head.chunked {
                out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
            }
        }
    }
    if let Some(c) = cache {
        for (n, v) in [
            (&b"If-Modified-Since"[..], &c.if_modified_since),
            (b"If-None-Match", &c.if_none_match),
        ] {
            if let Some(v) = v.as_deref().filter(|_| !overridden(n)) {
                header_line(&mut out, n, v);
            }
        }
    }
    if proxy.pass_request_headers {
        for (n, v) in req.head.headers() {
            let cleared = cache.is_some_and(|c| c.cacheable) && cleared_by_cache(n);
            if !(dropped(n) || overridden(n) || cleared) {
                header_line(&mut out, n, v);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
