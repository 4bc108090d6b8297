//! HTTP/1.1 targets of the proxy: the request head parser and the chunked decoder.

use proxylab_proxy::http::chunked::{ChunkError, Decoder, encode_chunk};
use proxylab_proxy::http::head::{self, Limits, RequestHead};

/// nginx's defaults (1 KiB, 4 x 8 KiB), no underscores, invalid headers dropped.
pub const LIMITS: Limits = Limits {
    small: 1024,
    large_num: 4,
    large_size: 8192,
    underscores: false,
    ignore_invalid: true,
};

/// Method, target, minor version, headers, Host, Content-Length, chunked.
type View = (
    Vec<u8>,
    Vec<u8>,
    u8,
    Headers,
    Option<Vec<u8>>,
    Option<u64>,
    bool,
);
type Headers = Vec<(Vec<u8>, Vec<u8>)>;

/// What the proxy acts on in a head (and forwards).
fn view(h: &RequestHead) -> View {
    (
        h.method().to_vec(),
        h.target().to_vec(),
        h.minor,
        h.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
        h.host().map(<[u8]>::to_vec),
        h.content_length,
        h.chunked,
    )
}

/// Parses; when a head is accepted, writes it out again as it would be forwarded (request
/// line, each kept header as `name: value`) and checks that parsing that gives the same head:
/// the parser never accepts something it then forwards with another meaning. Also checks
/// that no accepted value holds CR, LF or NUL and that a body is never framed twice.
pub fn request_head(data: &[u8]) {
    let Ok(Some((h, n))) = head::parse(data, &LIMITS) else {
        return;
    };
    assert!(n <= data.len());
    assert!(!(h.chunked && h.content_length.is_some()), "both framings");
    let mut out = Vec::new();
    out.extend_from_slice(h.method());
    out.push(b' ');
    if h.target().starts_with(b"/") {
        out.extend_from_slice(h.target());
    } else {
        return;
    }
    out.extend_from_slice(if h.minor == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    for (name, value) in h.headers() {
        assert!(
            !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0),
            "value {value:?}"
        );
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let big = Limits {
        small: 1 << 20,
        ..LIMITS
    };
    let again = head::parse(&out, &big);
    let Ok(Some((h2, m))) = again else {
        panic!(
            "forwarded head not accepted: {again:?}\n{}",
            String::from_utf8_lossy(&out)
        );
    };
    assert_eq!(m, out.len());
    let (mut a, b) = (view(&h), view(&h2));
    if h.host().is_some() && h2.host() != h.host() {
        // An absolute-form target's host is not written out again.
        a.4 = b.4.clone();
    }
    assert_eq!(a, b, "reparse differs\n{}", String::from_utf8_lossy(&out));
}

/// Decodes all at once and byte by byte (the two must agree, as bodies arrive in any
/// split); when the body decodes, encoding it as one chunk and decoding gives it back.
pub fn chunked(data: &[u8]) {
    let limit = u64::from(data.first().copied().unwrap_or(0)) * 4;
    let whole = decode(data, limit, data.len().max(1));
    let split = decode(data, limit, 1);
    assert_eq!(whole, split, "split decoding differs");
    if let Ok((body, Some(used))) = &whole {
        assert!(*used <= data.len());
        let mut enc = Vec::new();
        if !body.is_empty() {
            encode_chunk(body, &mut enc);
        }
        enc.extend_from_slice(b"0\r\n\r\n");
        let back = decode(&enc, 0, enc.len());
        assert_eq!(back.map(|(b, _)| b).as_ref(), Ok(body), "round trip");
    }
}

type Decoded = Result<(Vec<u8>, Option<usize>), ChunkError>;

/// Decodes `data` fed in pieces of `step` bytes; the body so far and, once done, the bytes
/// used.
fn decode(data: &[u8], limit: u64, step: usize) -> Decoded {
    let mut d = Decoder::new(limit);
    let mut out = Vec::new();
    let mut used = 0;
    for piece in data.chunks(step) {
        let n = d.decode(piece, &mut out)?;
        used += n;
        if d.done() {
            return Ok((out, Some(used)));
        }
        assert_eq!(n, piece.len(), "stopped early without being done");
    }
    Ok((out, None))
}
