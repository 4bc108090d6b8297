//! Parsing an upstream's HTTP/1.x response head (limited by `proxy_buffer_size`; too big →
//! invalid header) into [`UpHead`]: status, reason, headers as ranges, framing, and
//! `Connection: close`. Turning it into the client's head is the `upstream` module's job.

use crate::http::head::contains_ci;
use crate::http::status::Status;

/// A parsed upstream response head (names and values are ranges into `raw`).
#[derive(Debug)]
pub struct UpHead {
    /// The head bytes.
    pub raw: Vec<u8>,
    /// Status ([`Status::NONE`] when the line had none).
    pub status: Status,
    /// Reason phrase range.
    pub reason: std::ops::Range<usize>,
    /// HTTP/1.1 (minor version 1).
    pub http11: bool,
    /// Header (name, value) ranges in order.
    pub headers: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    /// Content-Length.
    pub content_length: Option<u64>,
    /// Transfer-Encoding: chunked.
    pub chunked: bool,
    /// `Connection: close` sent by the upstream.
    pub conn_close: bool,
}

/// Why the head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Malformed (nginx: `upstream sent invalid header`).
    Invalid,
    /// Larger than `proxy_buffer_size` (nginx: `upstream sent too big header`).
    TooBig,
}

/// Parses the head at the start of `buf`; Ok(None) when more bytes are needed. On success the
/// head takes `buf`'s allocation and the bytes after the head are returned beside it (an
/// empty, unallocated Vec when there are none).
pub fn parse(buf: &mut Vec<u8>, limit: usize) -> Result<Option<(UpHead, Vec<u8>)>, HeadError> {
    let Some((mut h, n)) = parse_ranges(buf, limit)? else {
        return Ok(None);
    };
    let leftover = buf.split_off(n);
    h.raw = std::mem::take(buf);
    Ok(Some((h, leftover)))
}

/// The head's fields as ranges into `buf` (`raw` left empty) and the head's length.
fn parse_ranges(buf: &[u8], limit: usize) -> Result<Option<(UpHead, usize)>, HeadError> {
    let mut storage = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 100];
    let mut resp = httparse::Response::new(&mut []);
    let n = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut storage,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= limit {
                Err(HeadError::TooBig)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooBig),
        Err(_) => return Err(HeadError::Invalid),
    };
    if n > limit {
        return Err(HeadError::TooBig);
    }
    let base = buf.as_ptr() as usize;
    // httparse gives an empty reason (`HTTP/1.1 200` and a line end) as a static "" that is
    // not inside `buf`: such a slice is the empty range (fuzz seed
    // upstream_response/crash-status-without-reason; it used to underflow).
    let range = |b: &[u8]| match (b.as_ptr() as usize).checked_sub(base) {
        Some(start) if !b.is_empty() && start + b.len() <= buf.len() => start..start + b.len(),
        _ => 0..0,
    };
    let reason = resp.reason.map_or(0..0, |r| range(r.as_bytes()));
    let mut h = UpHead {
        raw: Vec::new(),
        status: resp.code.and_then(Status::new).unwrap_or(Status::NONE),
        reason,
        http11: resp.version == Some(1),
        headers: Vec::with_capacity(resp.headers.len()),
        content_length: None,
        chunked: false,
        conn_close: resp.version != Some(1),
    };
    for x in resp.headers.iter() {
        let name = x.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = std::str::from_utf8(x.value).map_err(|_| HeadError::Invalid)?;
            let n: u64 = v.trim().parse().map_err(|_| HeadError::Invalid)?;
            if h.content_length.is_some_and(|c| c != n) {
                return Err(HeadError::Invalid);
            }
            h.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            h.chunked = contains_ci(x.value, b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_ci(x.value, b"close") {
                h.conn_close = true;
            } else if contains_ci(x.value, b"keep-alive") && !h.http11 {
                h.conn_close = false;
            }
        }
        h.headers.push((range(name), range(x.value)));
    }
    if h.chunked {
        h.content_length = None;
    }
    Ok(Some((h, n)))
}

impl UpHead {
    /// The reason phrase.
    pub fn reason(&self) -> &[u8] {
        &self.raw[self.reason.clone()]
    }

    /// Iterates (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// Regression (found by the `upstream_response` fuzz target): a status line without a
    /// reason phrase made the reason's range underflow (a panic in debug builds).
    #[test]
    fn status_line_without_reason() {
        let mut buf = b"HTTP/1.1 200

x"
        .to_vec();
        let (h, rest) = parse(&mut buf, 4096).unwrap().unwrap();
        assert_eq!(
            (h.status, h.reason(), &rest[..]),
            (crate::http::status::Status::OK, &b""[..], &b"x"[..])
        );
    }
}
