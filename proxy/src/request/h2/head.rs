//! The head conversions of [`super::session::H2Stream`]: the request head stored in the form
//! a [`RequestHead`](crate::http::head::RequestHead) keeps (with its pieces' places), the
//! request's Content-Length, the response header names HTTP/2 forbids, and response header
//! names and values shared with recent equal ones (no allocation per response), and the
//! `Date` value of the current second.

use crate::http::head::{HeaderList, MAX_HEADERS, Written};
use crate::request::respond::with_date;
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

/// Writes the request head as HTTP/1.1 into `raw`: `METHOD target HTTP/1.1`, the headers in
/// order, `host` from `:authority` (after them when there is no `host` header; before them
/// when there is one, so the head has two Hosts and is refused with 400, as nginx 1.22 takes
/// `:authority` as a Host header and refuses a second), `connection: close`,
/// `transfer-encoding: chunked` when the body is sent chunked. Returns the pieces as ranges when HTTP/1.1
/// parsing would find exactly them ([`Written`]); None when a piece holds what the parser
/// treats specially (an extension method, a target not starting with `/` or with a byte
/// outside `!`..=`~` and 0x80.., a header name nginx counts invalid, a value with surrounding
/// blanks, more headers than the fast path takes): that head is parsed instead (the fuzz
/// target `h2_head` checks that both ways agree).
pub fn write_head(parts: &Parts, chunked: bool, raw: &mut Vec<u8>) -> Option<Written> {
    use hyper::http::Method;
    let mut plain = matches!(
        parts.method,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::DELETE
            | Method::OPTIONS
            | Method::CONNECT
            | Method::PATCH
            | Method::TRACE
    ) && parts.headers.len() + 3 <= MAX_HEADERS;
    let method = put(raw, parts.method.as_str().as_bytes());
    raw.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    plain &= target.starts_with('/') && target.bytes().all(|b| b > b' ' && b != 0x7f);
    let target = put(raw, target.as_bytes());
    raw.extend_from_slice(b" HTTP/1.1\r\n");
    let mut headers = HeaderList::with_capacity(parts.headers.len() + 2);
    let has_host = parts.headers.contains_key(hyper::header::HOST);
    if has_host && let Some(a) = parts.uri.authority() {
        put_header(raw, &mut headers, b"host", a.as_str().as_bytes());
    }
    for (n, v) in &parts.headers {
        let v = v.as_bytes();
        plain &=
            !matches!(v.first(), Some(b' ' | b'\t')) && !matches!(v.last(), Some(b' ' | b'\t'));
        // Names nginx counts invalid (dropped when parsed) are left to the parser.
        plain &= n
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        put_header(raw, &mut headers, n.as_str().as_bytes(), v);
    }
    if !has_host && let Some(a) = parts.uri.authority() {
        put_header(raw, &mut headers, b"host", a.as_str().as_bytes());
    }
    put_header(raw, &mut headers, b"connection", b"close");
    if chunked {
        put_header(raw, &mut headers, b"transfer-encoding", b"chunked");
    }
    raw.extend_from_slice(b"\r\n");
    plain.then_some(Written {
        method,
        target,
        headers,
    })
}

/// The host the request names, as servers are looked up by (lower case, without port and
/// trailing dot): `:authority`, else the first `host` field; None when it is absent or
/// invalid (the head is then refused or has no name to look up).
pub fn named_host(parts: &Parts) -> Option<Vec<u8>> {
    let v = match parts.uri.authority() {
        Some(a) => a.as_str().as_bytes(),
        None => parts.headers.get(hyper::header::HOST)?.as_bytes(),
    };
    let (len, _) = crate::http::head::validate_host(v)?;
    Some(v[..len].to_ascii_lowercase())
}

/// Appends `b` to `raw`; returns where it went.
fn put(raw: &mut Vec<u8>, b: &[u8]) -> std::ops::Range<usize> {
    let start = raw.len();
    raw.extend_from_slice(b);
    start..raw.len()
}

/// Appends the line `name: value` CRLF to `raw` and the places of name and value to `headers`.
fn put_header(raw: &mut Vec<u8>, headers: &mut HeaderList, name: &[u8], value: &[u8]) {
    let name = put(raw, name);
    raw.extend_from_slice(b": ");
    let value = put(raw, value);
    raw.extend_from_slice(b"\r\n");
    headers.push((name, value));
}

/// `bytes` as a header name; the ones the pipeline writes without a lookup.
pub fn name_of(bytes: &[u8]) -> Option<HeaderName> {
    use hyper::header;
    Some(match bytes {
        b"Server" => header::SERVER,
        b"Date" => header::DATE,
        b"Content-Type" => header::CONTENT_TYPE,
        b"Content-Length" => header::CONTENT_LENGTH,
        b"Last-Modified" => header::LAST_MODIFIED,
        b"Location" => header::LOCATION,
        b"Connection" => header::CONNECTION,
        b"Keep-Alive" => HeaderName::from_static("keep-alive"),
        b"Transfer-Encoding" => header::TRANSFER_ENCODING,
        b"ETag" => header::ETAG,
        b"Accept-Ranges" => header::ACCEPT_RANGES,
        _ => return HeaderName::from_bytes(bytes).ok(),
    })
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

thread_local! {
    /// The `Date` value of the current second, shared by this thread's responses.
    static DATE_VALUE: std::cell::RefCell<Option<(u64, HeaderValue)>> =
        const { std::cell::RefCell::new(None) };
}

/// The `Date` header's value (made once per second per thread, as [`with_date`] formats it).
pub fn date_value() -> Option<HeaderValue> {
    let secs = crate::logs::time::now_wall()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE_VALUE.with(|d| {
        let mut d = d.borrow_mut();
        if let Some((s, v)) = d.as_ref()
            && *s == secs
        {
            return Some(v.clone());
        }
        let v = with_date(HeaderValue::from_bytes).ok()?;
        *d = Some((secs, v.clone()));
        Some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::{Limits, assemble, take};
    use hyper::http::Request;

    const LIM: Limits = crate::http::head::TEST_LIMITS;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    /// What parsing the written bytes gives, field by field.
    fn fields(h: &crate::http::head::RequestHead) -> String {
        let headers: Vec<_> = h
            .headers()
            .map(|(n, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect();
        format!(
            "{:?} {:?} {} {:?} {:?} {:?} {} {} {} {}",
            String::from_utf8_lossy(h.method()),
            String::from_utf8_lossy(h.target()),
            h.minor,
            headers,
            h.host().map(String::from_utf8_lossy),
            h.content_length,
            h.chunked,
            h.conn_close,
            h.conn_keepalive,
            String::from_utf8_lossy(h.request_line()),
        )
    }

    #[test]
    fn written_pieces_are_what_parsing_finds() {
        let cases = [
            parts(
                "GET",
                "https://Ex.com/a?b=c",
                &[("user-agent", "t"), ("x_u", "1")],
            ),
            parts(
                "POST",
                "http://h/p",
                &[("host", "other"), ("content-length", "3")],
            ),
            parts("PUT", "http://h/", &[("content-length", "x")]),
            parts("GET", "http://h/", &[("host", "a"), ("host", "b")]),
            parts("HEAD", "http://h:8080/%41", &[("connection", "keep-alive")]),
        ];
        for (i, p) in cases.iter().enumerate() {
            for chunked in [false, true] {
                let mut raw = Vec::new();
                let w = write_head(p, chunked, &mut raw).expect("plain pieces");
                let mut a = raw.clone();
                let mut b = raw.clone();
                let direct = assemble(&mut a, w, &LIM).map(|h| fields(&h));
                let parsed =
                    take(&mut b, &LIM, &mut Vec::new()).map(|h| fields(&h.expect("complete head")));
                assert_eq!(direct, parsed, "case {i} chunked {chunked}");
                if direct.is_err() {
                    assert_eq!(a, raw, "case {i}: the bytes stay for the parser");
                }
            }
        }
        // `:authority` and `host` both: two Hosts, refused both ways (nginx: 400).
        let p = parts("GET", "http://a.test/", &[("host", "b.test")]);
        let mut raw = Vec::new();
        let w = write_head(&p, false, &mut raw).expect("plain pieces");
        assert!(assemble(&mut raw.clone(), w, &LIM).is_err());
        assert!(take(&mut raw, &LIM, &mut Vec::new()).is_err());
        // Pieces the parser treats specially are left to it (same bytes written).
        let special = [
            parts("PROPFIND", "http://h/", &[]),
            parts("GET", "http://h/", &[("x", " padded ")]),
        ];
        for p in &special {
            let mut raw = Vec::new();
            assert!(write_head(p, false, &mut raw).is_none());
            assert!(raw.ends_with(b"connection: close\r\n\r\n"));
        }
    }
}
