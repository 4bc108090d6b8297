//! Request head parsing (httparse) with nginx's header-size rules (`client_header_buffer_size`
//! plus `large_client_header_buffers`: 414 for the request line, 494 for header lines) and
//! nginx's validation (Host, Content-Length, Transfer-Encoding).

use std::ops::Range;

/// Most header lines a request head may have (more: 494, as nginx's large buffers would
/// overflow long before).
pub const MAX_HEADERS: usize = 128;

/// Header (name, value) ranges into a head's `raw`.
pub type HeaderList = Vec<(Range<usize>, Range<usize>)>;

/// A parsed request head; header names and values are ranges into `raw`.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The head bytes, request line to the empty line.
    pub raw: Vec<u8>,
    /// Method.
    pub method: Range<usize>,
    /// Request target as received.
    pub target: Range<usize>,
    /// Minor version (0 = HTTP/1.0, 1 = HTTP/1.1).
    pub minor: u8,
    /// Headers in order (invalid ones, e.g. with `_`, already dropped as nginx does).
    pub headers: HeaderList,
    /// Validated Host (see [`RequestHead::host`]).
    pub host: Host,
    /// Content-Length.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Connection: close` was sent.
    pub conn_close: bool,
    /// `Connection: keep-alive` was sent.
    pub conn_keepalive: bool,
    /// Length of the request line without CRLF.
    pub request_line_len: usize,
}

/// Where a request's validated Host is kept.
#[derive(Debug, Clone, Default)]
pub enum Host {
    /// No Host header.
    #[default]
    None,
    /// A range of `raw` that is already lower-case (the usual case: no copy).
    Raw(Range<usize>),
    /// A lower-cased copy.
    Lower(Vec<u8>),
}

impl RequestHead {
    /// Validated Host: lowercased, without port and trailing dot.
    pub fn host(&self) -> Option<&[u8]> {
        match &self.host {
            Host::None => None,
            Host::Raw(r) => Some(&self.raw[r.clone()]),
            Host::Lower(v) => Some(v),
        }
    }

    /// The method bytes.
    pub fn method(&self) -> &[u8] {
        &self.raw[self.method.clone()]
    }

    /// The request target bytes.
    pub fn target(&self) -> &[u8] {
        &self.raw[self.target.clone()]
    }

    /// Iterates (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The request line (`GET / HTTP/1.1`).
    pub fn request_line(&self) -> &[u8] {
        &self.raw[..self.request_line_len]
    }
}

/// Header buffer limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `client_header_buffer_size`.
    pub small: usize,
    /// `large_client_header_buffers` number.
    pub large_num: usize,
    /// `large_client_header_buffers` size.
    pub large_size: usize,
    /// `underscores_in_headers`.
    pub underscores: bool,
}

impl Limits {
    /// The limits a server block sets (`client_header_buffer_size`,
    /// `large_client_header_buffers`, `underscores_in_headers`).
    pub fn of(server: &crate::conf::model::Server) -> Limits {
        Limits {
            small: server.client_header_buffer_size,
            large_num: server.large_header_buffers.0,
            large_size: server.large_header_buffers.1,
            underscores: server.underscores_in_headers,
        }
    }

    /// The most bytes a head may take before nginx would have failed.
    pub fn max_head(&self) -> usize {
        self.small + self.large_num * self.large_size
    }
}

/// Simulates nginx's buffer packing over the lines available in `buf`; returns the error
/// status (414 for the request line, 494 for a header line) when they cannot fit.
pub fn check_sizes(buf: &[u8], lim: &Limits) -> Result<(), u16> {
    if buf.len() <= lim.small {
        return Ok(());
    }
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            lines.push(i + 1 - start);
            start = i + 1;
        }
    }
    let partial = buf.len() - start;
    if partial > 0 {
        lines.push(partial);
    }
    let mut used = 0;
    let mut idx = 0;
    while idx < lines.len() && used + lines[idx] <= lim.small {
        used += lines[idx];
        idx += 1;
    }
    let mut nbufs = 0;
    let mut in_buf = lim.large_size;
    for (k, &len) in lines.iter().enumerate().skip(idx) {
        let code = if k == 0 { 414 } else { 494 };
        if len > lim.large_size {
            return Err(code);
        }
        if in_buf + len > lim.large_size {
            nbufs += 1;
            in_buf = 0;
            if nbufs > lim.large_num {
                return Err(code);
            }
        }
        in_buf += len;
    }
    Ok(())
}

/// nginx's Host validation: the length of the host part of `v` (before a port, without a
/// trailing dot) and whether it has upper-case letters; None when invalid.
fn validate_host(v: &[u8]) -> Option<(usize, bool)> {
    let mut dot_pos: Option<usize> = None;
    let mut in_brackets = false;
    let mut upper = false;
    let mut end = v.len();
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'.' => {
                if dot_pos == Some(i.wrapping_sub(1)) {
                    return None;
                }
                dot_pos = Some(i);
            }
            b':' if !in_brackets => {
                end = i;
                break;
            }
            b'[' if i == 0 => in_brackets = true,
            b']' => in_brackets = false,
            b'/' | 0 => return None,
            _ => {}
        }
        upper |= c.is_ascii_uppercase();
    }
    let mut host = &v[..end];
    if host.last() == Some(&b'.') {
        host = &host[..host.len() - 1];
    }
    if host.first() == Some(&b'.') {
        return None;
    }
    Some((host.len(), upper))
}

/// Whether `hay` contains `needle`, ASCII case-insensitively.
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Parses a head from `buf` (copied into the head). `Ok(None)` = incomplete; `Err(status)` =
/// nginx's error status.
pub fn parse(buf: &[u8], lim: &Limits) -> Result<Option<(RequestHead, usize)>, u16> {
    let Some((mut head, n)) = parse_ranges(buf, lim, &mut Vec::new())? else {
        return Ok(None);
    };
    head.raw = buf[..n].to_vec();
    Ok(Some((head, n)))
}

/// As [`parse`], but the head takes `buf`'s allocation and `buf` keeps only the bytes after
/// the head (a pipelined request or the body; unallocated when there are none).
/// `spare` is an empty header list to fill (kept across the requests of a connection, so the
/// list is not allocated per request).
pub fn take(
    buf: &mut Vec<u8>,
    lim: &Limits,
    spare: &mut HeaderList,
) -> Result<Option<RequestHead>, u16> {
    let Some((mut head, n)) = parse_ranges(buf, lim, spare)? else {
        return Ok(None);
    };
    let rest = buf.split_off(n);
    head.raw = std::mem::replace(buf, rest);
    Ok(Some(head))
}

/// The head's fields as ranges into `buf` (`raw` left empty) and the head's length.
fn parse_ranges(
    buf: &[u8],
    lim: &Limits,
    spare: &mut HeaderList,
) -> Result<Option<(RequestHead, usize)>, u16> {
    let mut storage =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let n = match req.parse_with_uninit_headers(buf, &mut storage) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            check_sizes(buf, lim)?;
            if buf.len() > lim.max_head() {
                return Err(494);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(494),
        Err(httparse::Error::Version) => {
            let is_v2 = buf.windows(7).any(|w| w == b"HTTP/2." || w == b"HTTP/3.");
            return Err(if is_v2 { 505 } else { 400 });
        }
        Err(_) => return Err(400),
    };
    check_sizes(&buf[..n], lim)?;
    let base = buf.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let method = range(req.method.unwrap_or("").as_bytes());
    let target = range(req.path.unwrap_or("").as_bytes());
    let minor = req.version.unwrap_or(1);
    let request_line_len = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(0);
    let headers = {
        let mut v = std::mem::take(spare);
        v.clear();
        v.reserve(req.headers.len());
        v.extend(
            req.headers
                .iter()
                .map(|h| (range(h.name.as_bytes()), range(h.value))),
        );
        v
    };
    let mut head = RequestHead::unchecked(method, target, minor, headers, request_line_len);
    check_headers(&mut head, buf, lim)?;
    Ok(Some((head, n)))
}

impl RequestHead {
    /// A head from its parsed pieces, before [`check_headers`] fills in the fields it derives
    /// (Host, Content-Length, chunked, Connection); `raw` is set by the caller.
    fn unchecked(
        method: Range<usize>,
        target: Range<usize>,
        minor: u8,
        headers: HeaderList,
        request_line_len: usize,
    ) -> RequestHead {
        RequestHead {
            raw: Vec::new(),
            method,
            target,
            minor,
            headers,
            host: Host::None,
            content_length: None,
            chunked: false,
            conn_close: false,
            conn_keepalive: false,
            request_line_len,
        }
    }
}

/// nginx's checks of the header list (`head.headers`, ranges into `raw`), in order: headers
/// with `_` dropped unless `underscores_in_headers`, one valid Host (required in HTTP/1.1),
/// one numeric Content-Length, one Transfer-Encoding (only `chunked`, not with a length, not
/// in HTTP/1.0), and the Connection tokens.
fn check_headers(head: &mut RequestHead, raw: &[u8], lim: &Limits) -> Result<(), u16> {
    if !lim.underscores {
        head.headers
            .retain(|(n, _)| !raw[n.clone()].contains(&b'_'));
    }
    let (mut hosts, mut cls, mut tes) = (0, 0, 0);
    let mut te_value: &[u8] = b"";
    for (n, v) in &head.headers {
        let (name, value) = (&raw[n.clone()], &raw[v.clone()]);
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if hosts > 1 {
                return Err(400);
            }
            let (len, upper) = validate_host(value).ok_or(400u16)?;
            head.host = if upper {
                Host::Lower(value[..len].to_ascii_lowercase())
            } else {
                Host::Raw(v.start..v.start + len)
            };
        } else if name.eq_ignore_ascii_case(b"content-length") {
            cls += 1;
            if cls > 1 {
                return Err(400);
            }
            let s = std::str::from_utf8(value).map_err(|_| 400u16)?;
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(400);
            }
            head.content_length = Some(s.parse().map_err(|_| 400u16)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            tes += 1;
            if tes > 1 {
                return Err(400);
            }
            te_value = value;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_ci(value, b"close") {
                head.conn_close = true;
            } else if contains_ci(value, b"keep-alive") {
                head.conn_keepalive = true;
            }
        }
    }
    if head.minor == 1 && matches!(head.host, Host::None) {
        return Err(400);
    }
    if tes > 0 {
        if head.minor == 0 {
            return Err(400);
        }
        if te_value.eq_ignore_ascii_case(b"chunked") {
            if head.content_length.is_some() {
                return Err(400);
            }
            head.chunked = true;
        } else {
            return Err(501);
        }
    }
    Ok(())
}

/// The pieces of an HTTP/1.1 head written by the caller (an HTTP/2 request's), as ranges
/// into its bytes: the caller vouches that they hold only what HTTP/1.1 parsing accepts (a
/// token method, a target of visible bytes, token names, values without control bytes or
/// surrounding blanks), so [`assemble`] need not parse them again.
#[derive(Debug, Default)]
pub struct Written {
    /// The method.
    pub method: Range<usize>,
    /// The request target.
    pub target: Range<usize>,
    /// The headers (name, value) in order.
    pub headers: HeaderList,
}

/// As [`take`] for a head written as HTTP/1.1 into `buf` whose pieces are known
/// ([`Written`]): the same size limits (414/494) and header checks, without parsing. On
/// success the head takes `buf`'s allocation; on an error `buf` is left as it was.
pub fn assemble(buf: &mut Vec<u8>, w: Written, lim: &Limits) -> Result<RequestHead, u16> {
    check_sizes(buf, lim)?;
    let request_line_len = w.target.end + b" HTTP/1.1".len();
    let mut head = RequestHead::unchecked(w.method, w.target, 1, w.headers, request_line_len);
    check_headers(&mut head, buf, lim)?;
    head.raw = std::mem::take(buf);
    Ok(head)
}

/// Small limits for tests (1 KiB head buffer, 4 large buffers of 8 KiB).
#[cfg(test)]
pub(crate) const TEST_LIMITS: Limits = Limits {
    small: 1024,
    large_num: 4,
    large_size: 8192,
    underscores: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = TEST_LIMITS;

    fn p(s: &str) -> Result<Option<(RequestHead, usize)>, u16> {
        parse(s.as_bytes(), &LIM)
    }

    #[test]
    fn validation_as_nginx() {
        assert_eq!(p("GET / HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert!(p("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
        assert_eq!(
            p("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(
            p("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(
            p("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap_err(),
            501
        );
        assert_eq!(
            p("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n").unwrap_err(),
            400
        );
        let (h, _) = p("GET /x HTTP/1.1\r\nHost: Ex.COM.:80\r\nX_U: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.host(), Some(&b"ex.com"[..]));
        let (h, _) = p("GET /x HTTP/1.1\r\nHost: ex.com.:80\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(matches!(h.host, Host::Raw(_)));
        assert_eq!(h.host(), Some(&b"ex.com"[..]));
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2".to_vec();
        let h = take(&mut buf, &LIM, &mut Vec::new()).unwrap().unwrap();
        assert_eq!(
            (h.target(), h.host(), &buf[..]),
            (&b"/"[..], Some(&b"a"[..]), &b"GET /2"[..])
        );
        assert_eq!(h.headers.len(), 1);
        assert!(p("GET / HTTP/1.1\r\nHost: a").unwrap().is_none());
    }

    #[test]
    fn header_size_limits() {
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
        assert_eq!(p(&long_uri).unwrap_err(), 414);
        let ok_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(8100));
        assert!(p(&ok_uri).unwrap().is_some());
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
            "b".repeat(9000)
        );
        assert_eq!(p(&big).unwrap_err(), 494);
        let h7 = |n: usize| {
            let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
            for i in 0..n {
                s.push_str(&format!("X-{i}: {}\r\n", "c".repeat(7000)));
            }
            s + "\r\n"
        };
        assert!(p(&h7(4)).unwrap().is_some());
        assert_eq!(p(&h7(5)).unwrap_err(), 494);
    }
}
