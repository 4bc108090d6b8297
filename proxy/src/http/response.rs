//! Parsing an upstream's HTTP/1.x response head (limited by `proxy_buffer_size`; too big →
//! invalid header) into [`UpHead`]: status, reason, headers as ranges, framing, and
//! `Connection: close`. Turning it into the client's head is the `upstream` module's job.

use crate::http::head::contains_ci;
use crate::http::status::Status;
use std::cell::RefCell;
use std::ops::Range;

/// A header's (name, value) ranges in [`UpHead::raw`].
type Ranges = (Range<usize>, Range<usize>);

thread_local! {
    /// Read buffers of dropped heads, reused by the next response head this worker reads:
    /// without it every proxied request allocates and frees a `proxy_buffer_size` buffer (as
    /// the only block of its allocator page, the page is freed and built again each time).
    static BUFS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Header lists of dropped heads, reused the same way.
    static LISTS: RefCell<Vec<Vec<Ranges>>> = const { RefCell::new(Vec::new()) };
}

/// Buffers and lists kept per worker thread (one per response head in flight at most).
const SPARE_KEPT: usize = 64;
/// Larger read buffers are not kept.
const SPARE_MAX: usize = 64 * 1024;

/// An empty buffer of exactly `capacity` bytes for reading a response head: the last kept
/// one when it has that capacity, else a new one.
pub fn head_buf(capacity: usize) -> Vec<u8> {
    let kept = BUFS.with(|b| b.try_borrow_mut().ok()?.pop());
    match kept {
        Some(b) if b.capacity() == capacity => b,
        _ => Vec::with_capacity(capacity),
    }
}

/// An empty header list with room for `len`: a kept one when there is one.
fn header_list(len: usize) -> Vec<Ranges> {
    let mut h = LISTS
        .with(|l| l.try_borrow_mut().ok()?.pop())
        .unwrap_or_default();
    h.reserve(len);
    h
}

/// Keeps `v` (emptied) in `pool` when it is allocated and the pool is not full.
fn keep<T>(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<T>>>>, mut v: Vec<T>) {
    if v.capacity() == 0 {
        return;
    }
    v.clear();
    let _ = pool.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && p.len() < SPARE_KEPT
        {
            p.push(v);
        }
    });
}

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
    pub headers: Vec<Ranges>,
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
        headers: header_list(resp.headers.len()),
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

impl Drop for UpHead {
    /// Keeps the head's storage for the next head this thread reads ([`head_buf`]).
    fn drop(&mut self) {
        let raw = std::mem::take(&mut self.raw);
        if raw.capacity() <= SPARE_MAX {
            keep(&BUFS, raw);
        }
        keep(&LISTS, std::mem::take(&mut self.headers));
    }
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
