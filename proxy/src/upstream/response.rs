//! Reading the upstream response head (limited by `proxy_buffer_size`; too big → invalid
//! header) and turning it into the client head: nginx's hidden headers, framing rebuilt,
//! Location made absolute / rewritten by `proxy_redirect default`.

/// A parsed upstream response head.
#[derive(Debug)]
pub struct UpHead {
    /// Status code.
    pub code: u16,
    /// Reason phrase as sent.
    pub reason: Vec<u8>,
    /// HTTP/1.1 (minor version 1).
    pub http11: bool,
    /// Headers in order.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
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

/// Parses `buf`; Ok(None) when more bytes are needed.
pub fn parse(buf: &[u8], limit: usize) -> Result<Option<(UpHead, usize)>, HeadError> {
    let mut storage = [httparse::EMPTY_HEADER; 100];
    let mut resp = httparse::Response::new(&mut storage);
    let n = match resp.parse(buf) {
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
    let mut h = UpHead {
        code: resp.code.unwrap_or(0),
        reason: resp.reason.unwrap_or("").as_bytes().to_vec(),
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
            h.chunked = x
                .value
                .to_ascii_lowercase()
                .windows(7)
                .any(|w| w == b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            let v = x.value.to_ascii_lowercase();
            if v.windows(5).any(|w| w == b"close") {
                h.conn_close = true;
            } else if v.windows(10).any(|w| w == b"keep-alive") && !h.http11 {
                h.conn_close = false;
            }
        }
        h.headers.push((name.to_vec(), x.value.to_vec()));
    }
    if h.chunked {
        h.content_length = None;
    }
    Ok(Some((h, n)))
}

/// Whether an upstream header is copied to the client (nginx's hide list + framing).
pub fn passed(name: &[u8], hide: &[String], pass: &[String]) -> bool {
    const NEVER: [&[u8]; 4] = [
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
    ];
    const HIDDEN: [&[u8]; 8] = [
        b"date",
        b"server",
        b"x-pad",
        b"x-accel-expires",
        b"x-accel-redirect",
        b"x-accel-limit-rate",
        b"x-accel-buffering",
        b"x-accel-charset",
    ];
    if NEVER.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return false;
    }
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    if HIDDEN.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return pass.contains(&lower);
    }
    !hide.contains(&lower)
}
