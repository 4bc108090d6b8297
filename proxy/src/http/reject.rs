//! Why a request head is refused ([`Reject`]): the one error type of the head parsers, mapped
//! in one place to nginx's status for it and the info line logged before the error page,
//! worded as nginx 1.22's `ngx_http_request.c` (the lines that quote the head take their
//! bytes from it).

use super::status::Status;
use std::fmt::Write;
use std::ops::Range;

/// A header line of the head: where its name and its value are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// The name's start and end.
    pub name: (usize, usize),
    /// The value's start and end.
    pub value: (usize, usize),
}

impl Line {
    /// The line of a header whose name and value are at `name` and `value`.
    pub fn at(name: &Range<usize>, value: &Range<usize>) -> Line {
        Line {
            name: (name.start, name.end),
            value: (value.start, value.end),
        }
    }

    /// `NAME: VALUE` as nginx quotes a header.
    fn text(self, head: &[u8]) -> String {
        format!(
            "{}: {}",
            lossy(head, self.name.0, self.name.1),
            lossy(head, self.value.0, self.value.1)
        )
    }
}

/// A request head the rules refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// A malformed request line, or a head refused for a reason without a line of its own
    /// (400).
    Invalid,
    /// A byte a method cannot hold (400).
    Method,
    /// An HTTP major version above 1 (505).
    Version,
    /// The host of an absolute-form target is invalid (400).
    HostInRequestLine,
    /// A header line nginx cannot read (400): where the line starts in the head and the
    /// byte the parser stopped at.
    HeaderLine {
        /// The line's first byte.
        start: usize,
        /// The byte nginx names in hex.
        stop: usize,
    },
    /// A second `Host` (400).
    DuplicateHost {
        /// The second one.
        line: Line,
        /// The first one.
        first: Line,
    },
    /// A second `Content-Length` or `Transfer-Encoding` (400).
    Duplicate {
        /// The second one.
        line: Line,
        /// The first one.
        first: Line,
    },
    /// A `Host` header that is not a valid host (400).
    Host,
    /// An HTTP/1.1 request without `Host` (400).
    NoHost,
    /// A `Content-Length` that is not a number (400).
    ContentLength,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400).
    TransferEncoding10,
    /// Both `Content-Length` and `Transfer-Encoding: chunked` (400).
    LengthAndChunked,
    /// A `Transfer-Encoding` other than `chunked` (501): where its value is.
    UnknownTransferEncoding {
        /// The value's start and end.
        value: (usize, usize),
    },
    /// The CONNECT method (405).
    Connect,
    /// The TRACE method (405).
    Trace,
    /// More header lines than nginx (as Debian packages 1.22) reads (400).
    TooManyHeaderLines,
    /// The request line does not fit `large_client_header_buffers` (414).
    UriTooLong,
    /// A header line, or the whole head, does not fit (nginx's 494, sent as 400).
    HeaderTooLarge,
}

/// nginx's log action while it reads the header lines.
const HEADERS: &str = "reading client request headers";

/// `head[start..end]`, lossily as text (nginx writes the bytes as they are).
fn lossy(head: &[u8], start: usize, end: usize) -> std::borrow::Cow<'_, str> {
    let end = end.min(head.len());
    String::from_utf8_lossy(&head[start.min(end)..end])
}

impl Reject {
    /// The status nginx answers.
    pub fn status(self) -> Status {
        match self {
            Reject::Version => Status::VERSION_NOT_SUPPORTED,
            Reject::Trace | Reject::Connect => Status::NOT_ALLOWED,
            Reject::UriTooLong => Status::REQUEST_URI_TOO_LARGE,
            Reject::HeaderTooLarge => Status::REQUEST_HEADER_TOO_LARGE,
            Reject::UnknownTransferEncoding { .. } => Status::NOT_IMPLEMENTED,
            _ => Status::BAD_REQUEST,
        }
    }

    /// The info line logged for it, with nginx's `while …` (the request line, or the
    /// headers); `head` is the head it was found in (the bytes the lines that quote the
    /// request come from).
    pub fn line(self, head: &[u8]) -> String {
        let during = match self {
            Reject::Invalid
            | Reject::Method
            | Reject::Version
            | Reject::HostInRequestLine
            | Reject::UriTooLong => "reading client request line",
            _ => HEADERS,
        };
        format!("{} while {during}", self.message(head))
    }

    /// The line's message, before its `while …`.
    fn message(self, head: &[u8]) -> String {
        let fixed = match self {
            Reject::Invalid => "client sent invalid request",
            Reject::Method => "client sent invalid method",
            Reject::Version => "client sent invalid version",
            Reject::HostInRequestLine => "client sent invalid host in request line",
            Reject::Host => "client sent invalid host header",
            Reject::NoHost => "client sent HTTP/1.1 request without \"Host\" header",
            Reject::ContentLength => "client sent invalid \"Content-Length\" header",
            Reject::TransferEncoding10 => {
                "client sent HTTP/1.0 request with \"Transfer-Encoding\" header"
            }
            Reject::LengthAndChunked => {
                "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time"
            }
            Reject::Connect => "client sent CONNECT method",
            Reject::Trace => "client sent TRACE method",
            Reject::TooManyHeaderLines => "client sent too many header lines",
            Reject::UriTooLong => "client sent too long URI",
            Reject::HeaderTooLarge => "client sent too long header line",
            Reject::HeaderLine { start, stop } => return header_line(head, start, stop),
            Reject::DuplicateHost { line, first } => {
                return format!(
                    "client sent duplicate host header: \"{}\", previous value: \"{}\"",
                    line.text(head),
                    first.text(head)
                );
            }
            Reject::Duplicate { line, first } => {
                return format!(
                    "client sent duplicate header line: \"{}\", previous value: \"{}\"",
                    line.text(head),
                    first.text(head)
                );
            }
            Reject::UnknownTransferEncoding { value } => {
                return format!(
                    "client sent unknown \"Transfer-Encoding\": \"{}\"",
                    lossy(head, value.0, value.1)
                );
            }
        };
        fixed.to_string()
    }
}

/// nginx's line for a header line dropped as invalid (`ignore_invalid_headers on`): the line
/// from its name to the end of its value.
pub fn ignored_line(head: &[u8], line: &Range<usize>) -> String {
    format!(
        "client sent invalid header line: \"{}\" while {HEADERS}",
        lossy(head, line.start, line.end)
    )
}

/// nginx's line for a header line it cannot read: the line up to the byte it stopped at,
/// that byte in hex, and `...`.
fn header_line(head: &[u8], start: usize, stop: usize) -> String {
    let mut s = format!(
        "client sent invalid header line: \"{}",
        lossy(head, start, stop)
    );
    let _ = write!(s, "\\x{:02x}...\"", head.get(stop).copied().unwrap_or(0));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_worded_as_nginx() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-A: b\rZ\r\n";
        assert_eq!(
            Reject::HeaderLine {
                start: 34,
                stop: 40
            }
            .line(head),
            "client sent invalid header line: \"X-A: b\\x0d...\" while reading client request headers"
        );
        let first = Line::at(&(16..20), &(22..23));
        let line = Line::at(&(25..29), &(31..32));
        assert_eq!(
            Reject::DuplicateHost { line, first }.message(head),
            "client sent duplicate host header: \"Host: b\", previous value: \"Host: a\""
        );
        assert_eq!(Reject::Version.status(), Status::VERSION_NOT_SUPPORTED);
        assert_eq!(
            Reject::Version.line(head),
            "client sent invalid version while reading client request line"
        );
    }
}
