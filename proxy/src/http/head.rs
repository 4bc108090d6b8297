//! Request head parsing (httparse) with nginx's header-size rules (`client_header_buffer_size`
//! plus `large_client_header_buffers`: 414 for the request line, 494 for header lines) and
//! nginx's validation (Host, Content-Length, Transfer-Encoding).

use super::reject::{Line, Reject};
use super::{hline, reqline};
use std::ops::Range;

/// Most header fields an HTTP/2 request head is written with for HTTP/1.1 parsing
/// (`server::h2::head`).
pub const MAX_HEADERS: usize = 128;

/// Most header lines an HTTP/1.x head may have: nginx 1.22 (as packaged by Debian) answers
/// 400 "client sent too many header lines" past 1000, even when they fit its buffers.
pub const MAX_HEADER_LINES: usize = 1000;

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
    /// The header lines dropped as invalid (`ignore_invalid_headers`), each from its name to
    /// the end of its value: nginx logs each (`client sent invalid header line: "…"`).
    pub ignored: Vec<Range<usize>>,
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
    /// `ignore_invalid_headers` (HTTP/1.x: headers with invalid names are dropped).
    pub ignore_invalid: bool,
}

impl Limits {
    /// The most bytes a head may take before nginx would have failed.
    pub fn max_head(&self) -> usize {
        self.small + self.large_num * self.large_size
    }
}

/// Simulates nginx's buffer packing over the lines available in `buf`; returns the
/// refusal (414 for the request line, 494 for a header line) when they cannot fit.
pub fn check_sizes(buf: &[u8], lim: &Limits) -> Result<(), Reject> {
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
        let code = if k == 0 {
            Reject::UriTooLong
        } else {
            Reject::HeaderTooLarge
        };
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

/// nginx's Host validation (`ngx_http_validate_host`): the length of the host part of `v`
/// (before a port, without one trailing dot) and whether it has upper-case letters; None
/// when invalid (two dots in a row, `/`, a control byte, a space or DEL anywhere, or an empty
/// host part).
pub(crate) fn validate_host(v: &[u8]) -> Option<(usize, bool)> {
    #[derive(PartialEq)]
    enum St {
        Usual,
        Literal,
        Rest,
    }
    let mut dot_pos = usize::MAX;
    let mut host_len = v.len();
    let mut st = St::Usual;
    let mut upper = false;
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'.' => {
                if i > 0 && dot_pos == i - 1 {
                    return None;
                }
                dot_pos = i;
            }
            b':' if st == St::Usual => {
                host_len = i;
                st = St::Rest;
            }
            b'[' if i == 0 => st = St::Literal,
            b']' if st == St::Literal => {
                host_len = i + 1;
                st = St::Rest;
            }
            b'/' | 0..=0x20 | 0x7f => return None,
            _ => upper |= c.is_ascii_uppercase(),
        }
    }
    if host_len > 0 && dot_pos == host_len - 1 {
        host_len -= 1;
    }
    (host_len > 0).then_some((host_len, upper))
}

/// The [`Host`] for a validated host at `start` in the head: a range when it is already
/// lower-case, else a lower-cased copy.
fn host_of(value: &[u8], start: usize, len: usize, upper: bool) -> Host {
    if upper {
        Host::Lower(value[..len].to_ascii_lowercase())
    } else {
        Host::Raw(start..start + len)
    }
}

/// Whether `hay` contains `needle`, ASCII case-insensitively.
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Parses a head from `buf` (copied into the head). `Ok(None)` = incomplete; `Err(reject)` =
/// why nginx refuses it.
pub fn parse(buf: &[u8], lim: &Limits) -> Result<Option<(RequestHead, usize)>, Reject> {
    let skip = blank_prefix(buf);
    let buf = &buf[skip..];
    let Some((mut head, n)) = parse_ranges(buf, lim, &mut Vec::new())? else {
        return Ok(None);
    };
    head.raw = buf[..n].to_vec();
    Ok(Some((head, skip + n)))
}

/// The empty lines (CR and LF bytes) nginx skips before a request line.
fn blank_prefix(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// As [`parse`], but the head takes `buf`'s allocation and `buf` keeps only the bytes after
/// the head (a pipelined request or the body; unallocated when there are none).
/// `spare` is an empty header list to fill (kept across the requests of a connection, so the
/// list is not allocated per request).
pub fn take(
    buf: &mut Vec<u8>,
    lim: &Limits,
    spare: &mut HeaderList,
) -> Result<Option<RequestHead>, Reject> {
    let skip = blank_prefix(buf);
    if skip > 0 {
        buf.drain(..skip);
    }
    let Some((mut head, n)) = parse_ranges(buf, lim, spare)? else {
        return Ok(None);
    };
    let rest = buf.split_off(n);
    head.raw = std::mem::replace(buf, rest);
    Ok(Some(head))
}

/// The head's fields as ranges into `buf` (`raw` left empty) and the head's length, read
/// as nginx reads them ([`reqline`], [`hline`]); invalid header names are dropped unless
/// `ignore_invalid_headers off`. An error is returned as soon as the bytes so far can no
/// longer start a valid head, as nginx does, even when the head is not complete.
fn parse_ranges(
    buf: &[u8],
    lim: &Limits,
    spare: &mut HeaderList,
) -> Result<Option<(RequestHead, usize)>, Reject> {
    let partial = |lim: &Limits| {
        check_sizes(buf, lim)?;
        if buf.len() > lim.max_head() {
            return Err(Reject::HeaderTooLarge);
        }
        Ok(None)
    };
    let Some(line) = reqline::parse(buf)? else {
        return partial(lim);
    };
    // nginx checks an absolute-form host as soon as the request line is read
    let line_host = match &line.host {
        Some(h) => Some(validate_host(&buf[h.clone()]).ok_or(Reject::HostInRequestLine)?),
        None => None,
    };
    let mut headers = std::mem::take(spare);
    headers.clear();
    let mut ignored = Vec::new();
    let mut at = line.end;
    let mut lines = 0;
    let n = loop {
        match hline::parse(buf, at, lim.underscores) {
            Err(e) => {
                *spare = headers;
                return Err(e);
            }
            Ok(None) => {
                *spare = headers;
                return partial(lim);
            }
            Ok(Some(hline::Next::End(end))) => break end,
            Ok(Some(hline::Next::Field(f, end))) => {
                lines += 1;
                if lines > MAX_HEADER_LINES {
                    *spare = headers;
                    return Err(Reject::TooManyHeaderLines);
                }
                if f.invalid && lim.ignore_invalid {
                    ignored.push(f.name.start..f.value.end);
                } else {
                    headers.push((f.name, f.value));
                }
                at = end;
            }
        }
    };
    check_sizes(&buf[..n], lim)?;
    let minor = line.minor;
    let mut head = RequestHead::unchecked(line.method, line.target, minor, headers, line.len);
    head.ignored = ignored;
    check_headers(&mut head, buf)?;
    if let (Some(h), Some((len, upper))) = (line.host, line_host) {
        head.host = host_of(&buf[h.clone()], h.start, len, upper);
    }
    match &buf[head.method.clone()] {
        b"CONNECT" => return Err(Reject::Connect),
        b"TRACE" => return Err(Reject::Trace),
        _ => {}
    }
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
            ignored: Vec::new(),
        }
    }
}

/// nginx's checks of the header list (`head.headers`, ranges into `raw`), in its order:
/// while the lines are read, one valid Host and one each of Content-Length and
/// Transfer-Encoding, and the Connection tokens; then Host present in HTTP/1.1, a numeric
/// Content-Length, and a Transfer-Encoding only in HTTP/1.1, only `chunked` and not with a
/// length.
fn check_headers(head: &mut RequestHead, raw: &[u8]) -> Result<(), Reject> {
    let (mut host, mut cl, mut te): (Option<Line>, Option<Line>, Option<Line>) = (None, None, None);
    for (n, v) in &head.headers {
        let (name, value) = (&raw[n.clone()], &raw[v.clone()]);
        let line = Line::at(n, v);
        if name.eq_ignore_ascii_case(b"host") {
            if let Some(first) = host {
                return Err(Reject::DuplicateHost { line, first });
            }
            host = Some(line);
            let (len, upper) = validate_host(value).ok_or(Reject::Host)?;
            head.host = host_of(value, v.start, len, upper);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            once(&mut cl, line)?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            once(&mut te, line)?;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_ci(value, b"close") {
                head.conn_close = true;
            } else if contains_ci(value, b"keep-alive") {
                head.conn_keepalive = true;
            }
        }
    }
    if head.minor == 1 && host.is_none() {
        return Err(Reject::NoHost);
    }
    if let Some(l) = cl {
        let value = &raw[l.value.0..l.value.1];
        let digits = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
        let n = std::str::from_utf8(value).ok().filter(|_| digits);
        head.content_length = Some(
            n.and_then(|s| s.parse().ok())
                .ok_or(Reject::ContentLength)?,
        );
    }
    if let Some(l) = te {
        if head.minor == 0 {
            return Err(Reject::TransferEncoding10);
        }
        if !raw[l.value.0..l.value.1].eq_ignore_ascii_case(b"chunked") {
            return Err(Reject::UnknownTransferEncoding { value: l.value });
        }
        if head.content_length.is_some() {
            return Err(Reject::LengthAndChunked);
        }
        head.chunked = true;
    }
    Ok(())
}

/// A header nginx allows once (`ngx_http_process_unique_header_line`): the second is refused.
fn once(seen: &mut Option<Line>, line: Line) -> Result<(), Reject> {
    match seen {
        Some(first) => Err(Reject::Duplicate {
            line,
            first: *first,
        }),
        None => {
            *seen = Some(line);
            Ok(())
        }
    }
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
pub fn assemble(buf: &mut Vec<u8>, w: Written, lim: &Limits) -> Result<RequestHead, Reject> {
    check_sizes(buf, lim)?;
    let request_line_len = w.target.end + b" HTTP/1.1".len();
    let mut head = RequestHead::unchecked(w.method, w.target, 1, w.headers, request_line_len);
    if !lim.underscores {
        head.headers
            .retain(|(n, _)| !buf[n.clone()].contains(&b'_'));
    }
    check_headers(&mut head, buf)?;
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
    ignore_invalid: true,
};

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
