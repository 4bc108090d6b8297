//! The request line as nginx 1.22 reads it (`ngx_http_parse_request_line`): a method of
//! `A-Z`, `_` and `-`; one or more spaces; an origin-form target or an absolute-form
//! `scheme://host[:port]` followed by a path or `?`; one or more spaces; `HTTP/major.minor`
//! (a major above 1: 505); optional trailing spaces; CRLF or a bare LF. Bytes at or below
//! 0x20 and DEL end or break the target; bytes above 0x7f are accepted as nginx does.
//! The parser fails at the first byte nginx would fail at, so a request that can never be
//! valid is refused before it is complete.

use super::reject::Reject;
use std::ops::Range;

/// A parsed request line (ranges into the buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The method.
    pub method: Range<usize>,
    /// The target as forwarded: the path and query (the whole target in origin form; after
    /// the authority in absolute form).
    pub target: Range<usize>,
    /// The host and port of an absolute-form target.
    pub host: Option<Range<usize>>,
    /// The minor version (1 for any HTTP/1.x above 1.0).
    pub minor: u8,
    /// Length of the line without its line ending.
    pub len: usize,
    /// Index just after the line ending.
    pub end: usize,
}

fn method_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c == b'_' || c == b'-'
}

/// A byte nginx accepts inside a target (everything above space except DEL).
fn target_char(c: u8) -> bool {
    c > 0x20 && c != 0x7f
}

/// Parses a request line starting at `buf[0]` (leading empty lines already skipped).
/// `Ok(None)`: not complete yet and not (yet) invalid.
pub fn parse(buf: &[u8]) -> Result<Option<Line>, Reject> {
    let mut i = 0;
    let at = |i: usize| buf.get(i).copied();
    // Method.
    while let Some(c) = at(i) {
        if c == b' ' && i > 0 {
            break;
        }
        if !method_char(c) {
            return Err(Reject::Method);
        }
        i += 1;
    }
    let method = 0..i;
    while at(i) == Some(b' ') {
        i += 1;
    }
    let Some(first) = at(i) else {
        return Ok(None);
    };
    let (host, tstart) = if first == b'/' {
        (None, i)
    } else if first.is_ascii_alphabetic() {
        match authority(buf, i)? {
            Some((h, t)) => (Some(h), t),
            None => return Ok(None),
        }
    } else {
        return Err(Reject::Invalid);
    };
    if host.is_some() && at(tstart) == Some(b' ') {
        // `http://host HTTP/1.1`: nginx forwards `/`, which is not in the buffer.
        return Err(Reject::Invalid);
    }
    i = tstart;
    while let Some(c) = at(i) {
        if !target_char(c) {
            break;
        }
        i += 1;
    }
    let target = tstart..i;
    match at(i) {
        None => return Ok(None),
        Some(b' ') => {}
        // HTTP/0.9 (`GET /x` and a line ending): not spoken here.
        Some(b'\r' | b'\n') => return Err(Reject::Invalid),
        Some(_) => return Err(Reject::Invalid),
    }
    while at(i) == Some(b' ') {
        i += 1;
    }
    let Some((minor, after)) = version(buf, i)? else {
        return Ok(None);
    };
    i = after;
    while at(i) == Some(b' ') {
        i += 1;
    }
    let len = i;
    let end = match (at(i), at(i + 1)) {
        (None, _) | (Some(b'\r'), None) => return Ok(None),
        (Some(b'\n'), _) => i + 1,
        (Some(b'\r'), Some(b'\n')) => i + 2,
        _ => return Err(Reject::Invalid),
    };
    Ok(Some(Line {
        method,
        target,
        host,
        minor,
        len,
        end,
    }))
}

/// `scheme://host[:port]` from `i`; returns the host range and where the path (or `?`)
/// starts. `Ok(None)` when incomplete.
fn authority(buf: &[u8], mut i: usize) -> Result<Option<(Range<usize>, usize)>, Reject> {
    let at = |i: usize| buf.get(i).copied();
    while let Some(c) = at(i) {
        if c == b':' {
            break;
        }
        if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
            return Err(Reject::Invalid);
        }
        i += 1;
    }
    for want in [b':', b'/', b'/'] {
        match at(i) {
            None => return Ok(None),
            Some(c) if c == want => i += 1,
            Some(_) => return Err(Reject::Invalid),
        }
    }
    let hstart = i;
    if at(i) == Some(b'[') {
        i += 1;
        loop {
            match at(i) {
                None => return Ok(None),
                Some(b']') => {
                    i += 1;
                    break;
                }
                Some(c) if c.is_ascii_alphanumeric() || b".:-_~!$&'()*+,;=".contains(&c) => {}
                Some(_) => return Err(Reject::Invalid),
            }
            i += 1;
        }
    } else {
        while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-') {
            i += 1;
        }
    }
    if at(i) == Some(b':') {
        i += 1;
        while at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
    }
    match at(i) {
        None => Ok(None),
        Some(b'/' | b' ') => Ok(Some((hstart..i, i))),
        // `http://host?args`: nginx forwards `/?args`, which is not in the buffer.
        Some(_) => Err(Reject::Invalid),
    }
}

/// `HTTP/major.minor` from `i`: the minor version (0 or 1) and the index after it.
fn version(buf: &[u8], mut i: usize) -> Result<Option<(u8, usize)>, Reject> {
    for &want in b"HTTP/" {
        match buf.get(i) {
            None => return Ok(None),
            Some(&c) if c == want => i += 1,
            Some(_) => return Err(Reject::Invalid),
        }
    }
    match buf.get(i) {
        None => return Ok(None),
        Some(b'1'..=b'9') => {}
        Some(_) => return Err(Reject::Invalid),
    }
    let Some((_major, after_major)) = number(buf, i, 1, Reject::Version)? else {
        return Ok(None);
    };
    match buf.get(after_major) {
        None => return Ok(None),
        Some(b'.') => {}
        Some(_) => return Err(Reject::Invalid),
    }
    let Some((minor, end)) = number(buf, after_major + 1, 999, Reject::Invalid)? else {
        return Ok(None);
    };
    Ok(Some((u8::from(minor > 0), end)))
}

/// A decimal number of at least one digit starting at `i` and at most `max` (more: `code`,
/// as nginx's major `> 1` and minor `> 99` before the last digit checks), and the index after
/// it. `Ok(None)` when the digits may continue past the end of `buf`.
fn number(
    buf: &[u8],
    mut i: usize,
    max: u32,
    code: Reject,
) -> Result<Option<(u32, usize)>, Reject> {
    let start = i;
    let mut v: u32 = 0;
    while let Some(&c) = buf.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v * 10 + u32::from(c - b'0');
        if v > max {
            return Err(code);
        }
        i += 1;
    }
    if i == buf.len() {
        return Ok(None);
    }
    if i == start {
        return Err(Reject::Invalid);
    }
    Ok(Some((v, i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Line {
        parse(s.as_bytes()).expect("valid").expect("complete")
    }

    #[test]
    fn nginx_request_lines() {
        let l = ok("GET  /x?y HTTP/1.1 \r\n");
        assert_eq!((l.target, l.minor, l.len, l.end), (5..9, 1, 19, 21));
        let l = ok("GET http://a.test:8080/x HTTP/1.0\n");
        assert_eq!((l.host, l.target, l.minor), (Some(11..22), 22..24, 0));
        assert_eq!(ok("GET /x HTTP/1.9\r\n").minor, 1);
        for (bad, code) in [
            ("get / HTTP/1.1\r\n", 400),
            ("M1 / HTTP/1.1\r\n", 400),
            ("GET * HTTP/1.1\r\n", 400),
            ("GET /x\r\n", 400),
            ("GET /x HTTP/2.0\r\n", 505),
            ("GET /x HTTP/10.1\r\n", 505),
            ("GET /x HTTP/1.1000\r\n", 400),
            ("GET /x HTTP/01.1\r\n", 400),
            ("GET /a\x01b HTTP/1.1\r\n", 400),
            ("GET http://a.test HTTP/1.1\r\n", 400),
            ("GET /x HTTP/1.1\rX", 400),
            ("h", 400),
        ] {
            assert_eq!(
                parse(bad.as_bytes()).map_err(|e| e.status().code()),
                Err(code),
                "{bad:?}"
            );
        }
        assert_eq!(parse(b"GET /x HTTP/1.1\r"), Ok(None));
        assert_eq!(parse(b"GET /x HTT"), Ok(None));
        let high = parse(b"GET /\xff HTTP/1.1\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!(high.target, 4..6);
    }
}
