//! Whether a response is gzipped, as nginx 1.22 decides: the gzip header filter's tests
//! (`gzip on`, status 200/403/404, no `Content-Encoding` yet, `gzip_min_length` against a
//! known length, `gzip_types`, not a HEAD), after which the response varies on
//! `Accept-Encoding` (a HEAD request gets the gzipped head without a body); then
//! `ngx_http_gzip_ok` (an `Accept-Encoding` that takes gzip, q=0
//! refused; `gzip_disable msie6` and regexes on `User-Agent`; `gzip_http_version`; for a
//! request with `Via`, `gzip_proxied` against `Authorization`, `Expires`, `Cache-Control`,
//! `Last-Modified` and `ETag`). Also the head changes: `ETag` made weak.

use crate::conf::gzip::{GzipConf, proxied};
use crate::http::head::RequestHead;
use crate::http::status::Status;

/// What `ngx_http_gzip_ok` reads of the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// The first `Accept-Encoding`.
    pub accept_encoding: Option<&'a [u8]>,
    /// The first `User-Agent`.
    pub user_agent: Option<&'a [u8]>,
    /// A `Via` header is present (the request came through a proxy).
    pub via: bool,
    /// An `Authorization` header is present.
    pub authorization: bool,
    /// HTTP version ×10 (10, 11, 20).
    pub version: u8,
    /// HEAD: the head changes as for GET, no body is sent (and none is chunked).
    pub head: bool,
}

impl<'a> RequestFacts<'a> {
    /// The facts of a request head; `h2` for a request on an HTTP/2 stream.
    pub fn of(h: &'a RequestHead, h2: bool) -> RequestFacts<'a> {
        RequestFacts {
            accept_encoding: h.header(b"accept-encoding"),
            user_agent: h.header(b"user-agent"),
            via: h.header(b"via").is_some(),
            authorization: h.header(b"authorization").is_some(),
            version: if h2 { 20 } else { 10 + h.minor.min(1) },
            head: h.method() == b"HEAD",
        }
    }
}

impl RequestFacts<'_> {
    /// Whether a gzipped answer to this request goes out chunked: HTTP/1.1 only (HTTP/2
    /// streams end with their last DATA frame), not for HEAD (no body; nginx sends neither
    /// length nor `Transfer-Encoding`).
    pub fn chunked(&self) -> bool {
        self.version == 11 && !self.head
    }

    /// Whether a gzipped answer ends the connection: an HTTP/1.0 request with a body to
    /// delimit.
    pub fn closes(&self) -> bool {
        self.version == 10 && !self.head
    }
}

/// What the gzip filter reads of the response head.
#[derive(Debug, Clone, Default)]
pub struct ResponseFacts<'a> {
    /// Status.
    pub status: Status,
    /// `Content-Type` as sent.
    pub content_type: Option<&'a [u8]>,
    /// Known body length (`Content-Length`), `None` when unknown.
    pub content_length: Option<u64>,
    /// A non-empty `Content-Encoding` is already there.
    pub content_encoding: bool,
    /// `Expires`.
    pub expires: Option<&'a [u8]>,
    /// `Cache-Control` values.
    pub cache_control: Vec<&'a [u8]>,
    /// `Last-Modified` is present.
    pub last_modified: bool,
    /// `ETag` is present.
    pub etag: bool,
}

/// The gzip filter's verdict on one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// Send `Vary: Accept-Encoding` (the response could be gzipped and `gzip_vary` is on).
    pub vary: bool,
    /// Compress the body.
    pub gzip: bool,
}

/// nginx's gzip header filter for `conf`, `req` and `resp`.
pub fn decide(conf: &GzipConf, req: &RequestFacts<'_>, resp: &ResponseFacts<'_>) -> Decision {
    let candidate = conf.enable
        && matches!(
            resp.status,
            Status::OK | Status::FORBIDDEN | Status::NOT_FOUND
        )
        && !resp.content_encoding
        && resp.content_length.is_none_or(|n| n >= conf.min_length)
        && conf.types.matches(resp.content_type);
    if !candidate {
        return Decision::default();
    }
    Decision {
        vary: conf.vary,
        gzip: gzip_ok(conf, req, resp),
    }
}

/// `ngx_http_gzip_ok`: whether this client may get a gzipped response.
pub fn gzip_ok(conf: &GzipConf, req: &RequestFacts<'_>, resp: &ResponseFacts<'_>) -> bool {
    let Some(ae) = req.accept_encoding else {
        return false;
    };
    if ae.len() < 4 || !(ae.starts_with(b"gzip,") || accepts_gzip(ae)) {
        return false;
    }
    if conf.disable_msie6 && req.user_agent.is_some_and(is_msie6) {
        return false;
    }
    if req.version < conf.http_version {
        return false;
    }
    if req.via && !proxied_ok(conf.proxied, req, resp) {
        return false;
    }
    let disabled = req
        .user_agent
        .is_some_and(|ua| conf.disable.iter().any(|re| re.is_match(ua)));
    !disabled
}

/// The `gzip_proxied` part of `ngx_http_gzip_ok` (the request has `Via`).
fn proxied_ok(p: u32, req: &RequestFacts<'_>, resp: &ResponseFacts<'_>) -> bool {
    if p & proxied::OFF != 0 {
        return false;
    }
    if p & proxied::ANY != 0 || (req.authorization && p & proxied::AUTH != 0) {
        return true;
    }
    if let Some(e) = resp.expires {
        if p & proxied::EXPIRED == 0 {
            return false;
        }
        let Some(expires) = parse_date(e) else {
            return false;
        };
        return expires < std::time::SystemTime::now();
    }
    if !resp.cache_control.is_empty() {
        let has = |t: &[u8]| resp.cache_control.iter().any(|v| has_token(v, t));
        return (p & proxied::NO_CACHE != 0 && has(b"no-cache"))
            || (p & proxied::NO_STORE != 0 && has(b"no-store"))
            || (p & proxied::PRIVATE != 0 && has(b"private"));
    }
    !(p & proxied::NO_LM != 0 && resp.last_modified || p & proxied::NO_ETAG != 0 && resp.etag)
}

fn parse_date(v: &[u8]) -> Option<std::time::SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(v).ok()?.trim()).ok()
}

/// nginx's `ngx_http_parse_multi_header_lines` for a bare `name`: the name at the start of
/// the value or of an item (after `,` or `;` and spaces), followed by spaces and then the
/// end or `,`.
fn has_token(value: &[u8], name: &[u8]) -> bool {
    if name.len() > value.len() {
        return false;
    }
    let mut i = 0;
    while i < value.len() {
        let rest = &value[i..];
        if rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name) {
            let mut j = i + name.len();
            while j < value.len() && value[j] == b' ' {
                j += 1;
            }
            if j == value.len() || value[j] == b',' {
                return true;
            }
            i = j;
        }
        // skip to the next item
        while i < value.len() {
            let c = value[i];
            i += 1;
            if c == b';' || c == b',' {
                break;
            }
        }
        while i < value.len() && value[i] == b' ' {
            i += 1;
        }
    }
    false
}

/// nginx's `ngx_http_gzip_accept_encoding`: a `gzip` token (at the start or after `,` or a
/// space; a match inside a word moves the search past it) whose quality, if any, is not 0.
pub fn accepts_gzip(ae: &[u8]) -> bool {
    let mut start = 0;
    let p = loop {
        let Some(off) = find_ci(&ae[start..], b"gzip") else {
            return false;
        };
        let p = start + off;
        if p == start || matches!(ae[p - 1], b',' | b' ') {
            break p + 4;
        }
        start = p + 4;
    };
    let mut it = ae[p..].iter().copied().enumerate();
    // after the token: `,` ends it, `;` starts parameters
    loop {
        match it.next() {
            None | Some((_, b',')) => return true,
            Some((_, b';')) => break,
            Some((_, b' ')) => {}
            Some(_) => return false,
        }
    }
    loop {
        match it.next() {
            None => return true,
            Some((_, b'q' | b'Q')) => break,
            Some((_, b' ')) => {}
            Some(_) => return false,
        }
    }
    let rest: Vec<u8> = it.map(|(_, c)| c).collect();
    if rest.len() < 2 || rest[0] != b'=' {
        return false;
    }
    quantity(&rest[1..]) > 0
}

/// nginx's `ngx_http_gzip_quantity`: `0`/`1` with up to three decimals, ×1000 (0 = refused or
/// invalid).
fn quantity(v: &[u8]) -> u32 {
    let Some((&c, mut rest)) = v.split_first() else {
        return 0;
    };
    if c != b'0' && c != b'1' {
        return 0;
    }
    let mut q = u32::from(c - b'0') * 100;
    let Some((&c, after)) = rest.split_first() else {
        return q;
    };
    if c == b',' || c == b' ' {
        return q;
    }
    if c != b'.' {
        return 0;
    }
    rest = after;
    let mut n = 0;
    for &c in rest {
        if c == b',' || c == b' ' {
            break;
        }
        if !c.is_ascii_digit() {
            return 0;
        }
        q += u32::from(c - b'0');
        n += 1;
    }
    if q > 100 || n > 3 { 0 } else { q }
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// nginx's `msie6` test of `User-Agent`: `MSIE 4.`, `MSIE 5.`, or `MSIE 6.` without `SV1`
/// after it, not Opera.
pub fn is_msie6(ua: &[u8]) -> bool {
    if find(ua, b"Opera").is_some() {
        return false;
    }
    let Some(m) = find(ua, b"MSIE ") else {
        return false;
    };
    if m + 7 >= ua.len() || ua[m + 6] != b'.' {
        return false;
    }
    match ua[m + 5] {
        b'4' | b'5' => true,
        b'6' => find(&ua[m + 8..], b"SV1").is_none(),
        _ => false,
    }
}

/// `ngx_http_weak_etag`: `W/` kept, a quoted tag gets `W/`, anything else is dropped.
pub fn weak_etag(etag: &[u8]) -> Option<Vec<u8>> {
    if etag.len() > 2 && etag.starts_with(b"W/") {
        return Some(etag.to_vec());
    }
    if etag.first() != Some(&b'"') {
        return None;
    }
    let mut v = Vec::with_capacity(etag.len() + 2);
    v.extend_from_slice(b"W/");
    v.extend_from_slice(etag);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_as_nginx_reads_it() {
        let yes: [&[u8]; 9] = [
            b"gzip",
            b"gzip, deflate, br",
            b"deflate, gzip",
            b"br,gzip;q=0.5",
            b"GZIP",
            b"gzip;q=1",
            b"gzip; q=0.001",
            b"xgzipgzip",
            b"deflate,gzip ;q=1.000",
        ];
        for ae in yes {
            assert!(
                ae.starts_with(b"gzip,") || accepts_gzip(ae),
                "{:?}",
                String::from_utf8_lossy(ae)
            );
        }
        let no: [&[u8]; 10] = [
            b"identity",
            b"*",
            b"gzip;q=0",
            b"gzip; q=0.000",
            b"deflate, gzip;q=0",
            b"xgzip",
            b"gzipx",
            b"gzip;q=1.0001",
            b"gzip;q=2",
            b"gzip;level=1",
        ];
        for ae in no {
            assert!(!accepts_gzip(ae), "{:?}", String::from_utf8_lossy(ae));
        }
    }

    #[test]
    fn msie6_and_tokens_and_etags() {
        assert!(is_msie6(
            b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"
        ));
        assert!(!is_msie6(
            b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"
        ));
        assert!(is_msie6(b"Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"));
        assert!(!is_msie6(
            b"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"
        ));
        assert!(!is_msie6(b"Opera/9 (MSIE 6.0; x)"));
        assert!(has_token(b"no-cache", b"no-cache"));
        assert!(has_token(b"max-age=0, No-Cache", b"no-cache"));
        assert!(!has_token(b"no-cache=\"Set-Cookie\"", b"no-cache"));
        assert!(!has_token(b"public", b"private"));
        assert_eq!(weak_etag(b"\"abc\"").as_deref(), Some(&b"W/\"abc\""[..]));
        assert_eq!(weak_etag(b"W/\"abc\"").as_deref(), Some(&b"W/\"abc\""[..]));
        assert_eq!(weak_etag(b"abc"), None);
    }
}
