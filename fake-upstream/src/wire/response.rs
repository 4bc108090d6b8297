//! Response serialisation byte-for-byte as uvicorn (httptools protocol) writes it: status line,
//! `date` then `server: uvicorn`, the app's headers in order, then `connection: close` and
//! `transfer-encoding: chunked` when uvicorn would add them.

use super::reason::reason;
use bytes::Bytes;
use std::borrow::Cow;

/// A header name/value pair; names are written lower-case, as uvicorn does.
pub type Header = (Cow<'static, str>, Cow<'static, str>);

/// What the app hands to the server: status, headers (without `date`/`server`) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Application headers in the order they are written (Starlette order: custom headers,
    /// then `content-length`, then `content-type`).
    pub headers: Vec<Header>,
    /// The body bytes.
    pub body: Bytes,
}

impl Response {
    /// A Starlette `Response(body, media_type=...)`: custom headers, `content-length`,
    /// `content-type` (with `; charset=utf-8` added to `text/*`).
    pub fn starlette(
        status: u16,
        extra: Vec<Header>,
        body: Bytes,
        media_type: Option<&str>,
    ) -> Self {
        Self::starlette_cow(
            status,
            extra,
            body,
            media_type.map(|m| Cow::Owned(m.to_string())),
        )
    }

    /// [`Response::starlette`] with a possibly static media type (no allocation).
    pub fn starlette_cow(
        status: u16,
        extra: Vec<Header>,
        body: Bytes,
        media_type: Option<Cow<'static, str>>,
    ) -> Self {
        let mut headers = extra;
        let has = |h: &Vec<Header>, n: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        let bodiless = status < 200 || status == 204 || status == 304;
        if !bodiless && !has(&headers, "content-length") {
            headers.push((
                Cow::Borrowed("content-length"),
                Cow::Owned(body.len().to_string()),
            ));
        }
        if let Some(mt) = media_type
            && !has(&headers, "content-type")
        {
            let ct = if mt.starts_with("text/") && !mt.to_ascii_lowercase().contains("charset=") {
                Cow::Owned(format!("{mt}; charset=utf-8"))
            } else {
                mt
            };
            headers.push((Cow::Borrowed("content-type"), ct));
        }
        Response {
            status,
            headers,
            body,
        }
    }

    /// A FastAPI `JSONResponse` with an already-serialised compact JSON body.
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        let mt = Some(Cow::Borrowed("application/json"));
        Self::starlette_cow(status, Vec::with_capacity(2), body.into(), mt)
    }

    /// A streamed response (Starlette `StreamingResponse`): no `content-length`, so uvicorn
    /// frames the body with `transfer-encoding: chunked`.
    pub fn streamed(status: u16, body: Bytes, media_type: &str) -> Self {
        let mut r = Self::starlette(status, Vec::new(), body, Some(media_type));
        r.headers.retain(|(k, _)| k != "content-length");
        r
    }

    /// Starlette's `ServerErrorMiddleware` 500: no `connection: close` header (the server closes
    /// the connection afterwards anyway, because the exception propagates).
    pub fn fastapi_500() -> Self {
        Self::starlette(
            500,
            Vec::new(),
            Bytes::from_static(b"Internal Server Error"),
            Some("text/plain"),
        )
    }
}

/// How the body of a written head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `content-length` present: body written as-is.
    Length,
    /// No length: `transfer-encoding: chunked` (added by us or by the app).
    Chunked,
    /// No body at all (HEAD, 204, 304 without a length).
    None,
}

/// Writes the response head into `out` like uvicorn's `RequestResponseCycle.send`.
///
/// `keep_alive` is the connection's keep-alive state (false for `Connection: close` requests,
/// HTTP/1.0 and during shutdown); returns the framing and whether the connection stays open.
pub fn write_head(
    out: &mut Vec<u8>,
    date: &[u8],
    resp: &Response,
    head_request: bool,
    keep_alive: bool,
) -> (Framing, bool) {
    let mut keep_alive = keep_alive;
    out.extend_from_slice(b"HTTP/1.1 ");
    push_status(out, resp.status);
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\nserver: uvicorn\r\n");
    let mut framing = None;
    let mut has_close = false;
    for (name, value) in &resp.headers {
        if name.eq_ignore_ascii_case("content-length") && framing.is_none() {
            framing = Some(Framing::Length);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            framing = Some(Framing::Chunked);
        } else if name.eq_ignore_ascii_case("connection")
            && value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
        {
            keep_alive = false;
            has_close = true;
        }
        for b in name.bytes() {
            out.push(b.to_ascii_lowercase());
        }
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !keep_alive && !has_close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    let framing = match framing {
        Some(f) => f,
        None if !head_request && resp.status != 204 && resp.status != 304 => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            Framing::Chunked
        }
        None => Framing::None,
    };
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

/// Appends one body piece in the given framing (`last` adds the terminating chunk).
pub fn write_body(out: &mut Vec<u8>, framing: Framing, body: &[u8], last: bool) {
    match framing {
        Framing::Length => out.extend_from_slice(body),
        Framing::Chunked => {
            if !body.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
            if last {
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        Framing::None => {}
    }
}

fn push_status(out: &mut Vec<u8>, status: u16) {
    if (100..1000).contains(&status) {
        out.extend_from_slice(&[
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ]);
    } else {
        out.extend_from_slice(status.to_string().as_bytes());
    }
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// uvicorn's 400 for a request httptools cannot parse (`send_400_response`), then close.
pub fn bad_request_400(out: &mut Vec<u8>, date: &[u8]) {
    const MSG: &[u8] = b"Invalid HTTP request received.";
    out.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\ndate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\nserver: uvicorn\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 30\r\nconnection: close\r\n\r\n");
    out.extend_from_slice(MSG);
}

/// uvicorn's `service_unavailable` app under `--limit-concurrency`: the byte-exact 503.
pub fn service_unavailable_503(out: &mut Vec<u8>, date: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 503 Service Unavailable\r\ndate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(
        b"\r\nserver: uvicorn\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 19\r\nconnection: close\r\n\r\nService Unavailable",
    );
}

/// uvicorn's own 500 (`send_500_response`) when the app fails before starting a response, e.g.
/// a task cancelled by `--timeout-graceful-shutdown`.
pub fn uvicorn_500(out: &mut Vec<u8>, date: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 500 Internal Server Error\r\ndate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(
        b"\r\nserver: uvicorn\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\nconnection: close\r\n\r\nInternal Server Error",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_response_head_matches_uvicorn_order() {
        let mut out = Vec::new();
        let r = Response::json(200, &b"{\"message\":\"Hello World\"}"[..]);
        let (f, ka) = write_head(&mut out, b"D", &r, false, true);
        assert_eq!(f, Framing::Length);
        assert!(ka);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.1 200 OK\r\ndate: D\r\nserver: uvicorn\r\ncontent-length: 25\r\ncontent-type: application/json\r\n\r\n"
        );
    }

    #[test]
    fn no_length_means_chunked_and_close_is_added() {
        let mut out = Vec::new();
        let r = Response::streamed(200, Bytes::from_static(b"abc"), "text/plain");
        let (f, ka) = write_head(&mut out, b"D", &r, false, false);
        assert_eq!(f, Framing::Chunked);
        assert!(!ka);
        assert!(
            String::from_utf8_lossy(&out)
                .ends_with("connection: close\r\ntransfer-encoding: chunked\r\n\r\n")
        );
        let mut body = Vec::new();
        write_body(&mut body, f, b"abc", true);
        assert_eq!(body, b"3\r\nabc\r\n0\r\n\r\n");
    }

    #[test]
    fn unknown_status_has_empty_reason() {
        let mut out = Vec::new();
        let r = Response::starlette(599, Vec::new(), Bytes::new(), None);
        write_head(&mut out, b"D", &r, false, true);
        assert!(out.starts_with(b"HTTP/1.1 599 \r\n"));
    }
}
