//! The response status ([`Status`]) used end to end on the request path, with nginx's reason
//! phrases, its built-in error pages byte for byte (`special_response.c`, `server_tokens`
//! deciding the `nginx/1.22.1` tail) and the statuses that turn keep-alive off.
//!
//! A newtype rather than `http::StatusCode`: nginx's `return` takes any code from 0 to 999 and
//! nginx has statuses of its own (444, 494..497, 499) that must be usable as constants and in
//! patterns; [`Status::to_http`] and `From<http::StatusCode>` cross to the `http` crate.

use std::fmt;

/// The version string nginx prints in error pages and `Server` (we send `Server: proxylab`;
/// the page bodies keep nginx's tail so that they are byte-identical to nginx's).
pub const NGINX_VERSION: &str = "1.22.1";

/// A response status as nginx keeps it (`r->headers_out.status`): a code from 0 to 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Status(u16);

impl Status {
    /// No status yet (nginx's 0: `$status` `000`, `$upstream_status` `-`).
    pub const NONE: Status = Status(0);
    /// 200.
    pub const OK: Status = Status(200);
    /// 204.
    pub const NO_CONTENT: Status = Status(204);
    /// 206.
    pub const PARTIAL_CONTENT: Status = Status(206);
    /// 301.
    pub const MOVED_PERMANENTLY: Status = Status(301);
    /// 302.
    pub const MOVED_TEMPORARILY: Status = Status(302);
    /// 304.
    pub const NOT_MODIFIED: Status = Status(304);
    /// 400.
    pub const BAD_REQUEST: Status = Status(400);
    /// 403.
    pub const FORBIDDEN: Status = Status(403);
    /// 404.
    pub const NOT_FOUND: Status = Status(404);
    /// 405.
    pub const NOT_ALLOWED: Status = Status(405);
    /// 408.
    pub const REQUEST_TIME_OUT: Status = Status(408);
    /// 413.
    pub const REQUEST_ENTITY_TOO_LARGE: Status = Status(413);
    /// 414.
    pub const REQUEST_URI_TOO_LARGE: Status = Status(414);
    /// 429.
    pub const TOO_MANY_REQUESTS: Status = Status(429);
    /// nginx's 444: the connection closes without an answer.
    pub const CLOSE: Status = Status(444);
    /// nginx's 494: a header line or the whole head too large (sent as 400).
    pub const REQUEST_HEADER_TOO_LARGE: Status = Status(494);
    /// nginx's 499: the client closed its connection before the answer.
    pub const CLIENT_CLOSED_REQUEST: Status = Status(499);
    /// 500.
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    /// 501.
    pub const NOT_IMPLEMENTED: Status = Status(501);
    /// 502.
    pub const BAD_GATEWAY: Status = Status(502);
    /// 503.
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    /// 504.
    pub const GATEWAY_TIME_OUT: Status = Status(504);
    /// 505.
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);

    /// The status with this code; None above 999 (nginx's "invalid return code").
    pub const fn new(code: u16) -> Option<Status> {
        if code > 999 { None } else { Some(Status(code)) }
    }

    /// The numeric code.
    pub const fn code(self) -> u16 {
        self.0
    }

    /// 1xx.
    pub fn is_informational(self) -> bool {
        (100..200).contains(&self.0)
    }

    /// A response without a body whatever its framing says (1xx, 204, 304).
    pub fn has_no_body(self) -> bool {
        self.is_informational() || self.0 == 204 || self.0 == 304
    }

    /// A redirect `return` takes a URL for (301, 302, 303, 307, 308).
    pub fn is_redirect(self) -> bool {
        matches!(self.0, 301 | 302 | 303 | 307 | 308)
    }

    /// The status as the `http` crate has it (None for codes below 100).
    pub fn to_http(self) -> Option<hyper::http::StatusCode> {
        hyper::http::StatusCode::from_u16(self.0).ok()
    }

    /// nginx's reason phrase; `""` for codes nginx has no text for (it then sends
    /// `HTTP/1.1 418 ` with a trailing space).
    pub fn reason(self) -> &'static str {
        match self.0 {
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            204 => "No Content",
            206 => "Partial Content",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            303 => "See Other",
            304 => "Not Modified",
            307 => "Temporary Redirect",
            308 => "Permanent Redirect",
            400 | 494 | 495 | 496 | 497 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Not Allowed",
            406 => "Not Acceptable",
            408 => "Request Time-out",
            409 => "Conflict",
            410 => "Gone",
            411 => "Length Required",
            412 => "Precondition Failed",
            413 => "Request Entity Too Large",
            414 => "Request-URI Too Large",
            415 => "Unsupported Media Type",
            416 => "Requested Range Not Satisfiable",
            421 => "Misdirected Request",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Temporarily Unavailable",
            504 => "Gateway Time-out",
            505 => "HTTP Version Not Supported",
            507 => "Insufficient Storage",
            _ => "",
        }
    }

    /// nginx's own 494..497: answered as 400 with their own page.
    fn is_nginx_bad_request(self) -> bool {
        (494..=497).contains(&self.0)
    }

    /// The status sent on the wire (494..497 go out as 400).
    pub fn wire(self) -> Status {
        if self.is_nginx_bad_request() {
            Status::BAD_REQUEST
        } else {
            self
        }
    }

    /// Title of nginx's page, or None when nginx has no page (body is then empty).
    fn page_title(self) -> Option<&'static str> {
        Some(match self.0 {
            301 => "301 Moved Permanently",
            302 => "302 Found",
            303 => "303 See Other",
            307 => "307 Temporary Redirect",
            308 => "308 Permanent Redirect",
            400 => "400 Bad Request",
            401 => "401 Authorization Required",
            402 => "402 Payment Required",
            403 => "403 Forbidden",
            404 => "404 Not Found",
            405 => "405 Not Allowed",
            406 => "406 Not Acceptable",
            408 => "408 Request Time-out",
            409 => "409 Conflict",
            410 => "410 Gone",
            411 => "411 Length Required",
            412 => "412 Precondition Failed",
            413 => "413 Request Entity Too Large",
            414 => "414 Request-URI Too Large",
            415 => "415 Unsupported Media Type",
            416 => "416 Requested Range Not Satisfiable",
            421 => "421 Misdirected Request",
            429 => "429 Too Many Requests",
            494 => "400 Request Header Or Cookie Too Large",
            495 => "400 The SSL certificate error",
            496 => "400 No required SSL certificate was sent",
            497 => "400 The plain HTTP request was sent to HTTPS port",
            500 => "500 Internal Server Error",
            501 => "501 Not Implemented",
            502 => "502 Bad Gateway",
            503 => "503 Service Temporarily Unavailable",
            504 => "504 Gateway Time-out",
            505 => "505 HTTP Version Not Supported",
            507 => "507 Insufficient Storage",
            _ => return None,
        })
    }

    /// nginx's error page body (empty when nginx has none).
    pub fn error_page(self, server_tokens: bool) -> Vec<u8> {
        let Some(title) = self.page_title() else {
            return Vec::new();
        };
        let nginx_400 = self.is_nginx_bad_request();
        let h1 = if nginx_400 { "400 Bad Request" } else { title };
        let mut s = format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{h1}</h1></center>\r\n"
        );
        if nginx_400 {
            s.push_str(&format!("<center>{}</center>\r\n", &title[4..]));
        }
        if server_tokens {
            s.push_str(&format!("<hr><center>nginx/{NGINX_VERSION}</center>\r\n"));
        } else {
            s.push_str("<hr><center>nginx</center>\r\n");
        }
        s.push_str("</body>\r\n</html>\r\n");
        s.into_bytes()
    }

    /// Whether nginx turns keep-alive off for this status (400, 413, 414, 494, 500, 501, ...).
    pub fn forces_close(self) -> bool {
        matches!(
            self.0,
            400 | 408 | 413 | 414 | 494 | 495 | 496 | 497 | 500 | 501
        )
    }
}

impl From<hyper::http::StatusCode> for Status {
    fn from(s: hyper::http::StatusCode) -> Status {
        Status(s.as_u16())
    }
}

impl fmt::Display for Status {
    /// Three digits, as `$status` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(code: u16) -> Vec<u8> {
        Status::new(code).unwrap().error_page(true)
    }

    #[test]
    fn page_sizes_match_nginx() {
        assert_eq!(page(404).len(), 153);
        assert_eq!(page(301).len(), 169);
        assert_eq!(page(302).len(), 145);
        assert_eq!(page(502).len(), 157);
        assert_eq!(page(401).len(), 179);
        assert!(page(418).is_empty());
        assert_eq!(Status::new(418).unwrap().reason(), "");
    }

    #[test]
    fn nginx_statuses() {
        assert_eq!(Status::REQUEST_HEADER_TOO_LARGE.wire(), Status::BAD_REQUEST);
        assert_eq!(Status::NONE.to_string(), "000");
        assert_eq!(Status::new(1000), None);
        assert_eq!(
            Status::CLIENT_CLOSED_REQUEST.to_http().unwrap().as_u16(),
            499
        );
        assert_eq!(
            Status::from(hyper::http::StatusCode::NOT_FOUND),
            Status::NOT_FOUND
        );
    }
}
