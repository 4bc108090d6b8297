//! Response heads in nginx's header order (status line, Server, Date, Content-Type,
//! Content-Length, Last-Modified, relative Location, Transfer-Encoding, Connection,
//! Keep-Alive, then the header list), and the `Date` cache.

use crate::http::status::Status;
use std::cell::RefCell;
use std::time::UNIX_EPOCH;

/// The `Server` header value we send (the one allowed difference from nginx).
pub const SERVER: &[u8] = SERVER_NAME.as_bytes();
/// [`SERVER`] as text.
pub const SERVER_NAME: &str = "proxylab";

/// Connection disposition of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ka {
    /// `Connection: close`.
    Close,
    /// `Connection: keep-alive` and optional `Keep-Alive: timeout=N`.
    KeepAlive(Option<u64>),
    /// `Connection: upgrade` (101).
    Upgrade,
}

thread_local! {
    static DATE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((0, Vec::new())) };
}

/// Runs `f` on the current `Date` value (formatted once per second per thread).
pub fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let now = crate::logs::time::now_wall();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs || d.1.is_empty() {
            d.0 = secs;
            d.1 = httpdate::fmt_http_date(now).into_bytes();
        }
        f(&d.1)
    })
}

/// Appends the current `Date` value (cached per second per thread).
pub fn push_date(out: &mut Vec<u8>) {
    with_date(|d| out.extend_from_slice(d));
}

/// Appends `n` in decimal, at least `min_digits` digits (zero-padded), without allocating.
pub fn push_decimal(out: &mut Vec<u8>, n: u64, min_digits: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while digits.len() - i < min_digits.min(digits.len()) {
        i -= 1;
        digits[i] = b'0';
    }
    out.extend_from_slice(&digits[i..]);
}

/// Everything that goes into a response head.
#[derive(Debug, Default)]
pub struct Head<'a> {
    /// Status (494..497 are sent as 400).
    pub status: Status,
    /// Reason phrase override (proxied responses keep the upstream's).
    pub reason: Option<&'a [u8]>,
    /// Content-Type.
    pub content_type: Option<&'a [u8]>,
    /// Content-Length.
    pub content_length: Option<u64>,
    /// Last-Modified.
    pub last_modified: Option<&'a [u8]>,
    /// A Location made absolute by us (printed in nginx's special slot).
    pub location: Option<&'a [u8]>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// Connection disposition.
    pub ka: Option<Ka>,
    /// `Vary: Accept-Encoding` (gzip_vary), after the connection headers as nginx.
    pub vary: bool,
}

/// Writes the head into `out`; `list` is the ordinary header list (name, value).
pub fn write_head<'b>(
    out: &mut Vec<u8>,
    h: &Head<'_>,
    list: impl Iterator<Item = (&'b [u8], &'b [u8])>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(h.status.wire().code()), 3);
    out.push(b' ');
    match h.reason {
        Some(r) => out.extend_from_slice(r),
        None => out.extend_from_slice(h.status.reason().as_bytes()),
    }
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER);
    out.extend_from_slice(b"\r\nDate: ");
    push_date(out);
    out.extend_from_slice(b"\r\n");
    if let Some(ct) = h.content_type {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(ct);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = h.content_length {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, n, 1);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(v) = h.last_modified {
        out.extend_from_slice(b"Last-Modified: ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(v) = h.location {
        out.extend_from_slice(b"Location: ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if h.chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    match h.ka {
        Some(Ka::Close) => out.extend_from_slice(b"Connection: close\r\n"),
        Some(Ka::KeepAlive(t)) => {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
            if let Some(t) = t {
                out.extend_from_slice(b"Keep-Alive: timeout=");
                push_decimal(out, t, 1);
                out.extend_from_slice(b"\r\n");
            }
        }
        Some(Ka::Upgrade) => out.extend_from_slice(b"Connection: upgrade\r\n"),
        None => {}
    }
    if h.vary {
        out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
    }
    for (n, v) in list {
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::push_decimal;

    #[test]
    fn decimals_as_format_prints_them() {
        for (n, min) in [
            (0u64, 1usize),
            (7, 3),
            (200, 3),
            (1234, 3),
            (u64::MAX, 1),
            (42, 0),
        ] {
            let mut v = Vec::new();
            push_decimal(&mut v, n, min);
            assert_eq!(v, format!("{n:0min$}").into_bytes(), "{n} {min}");
        }
    }
}
