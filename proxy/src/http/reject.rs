//! Why a request head is refused ([`Reject`]): the one error type of the head parsers, mapped
//! in one place to nginx's status for it and the info line logged before the error page.

use super::status::Status;

/// A request head the rules refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// A malformed request line or header line, a bad `Host`, `Content-Length` or framing
    /// (400).
    Invalid,
    /// An HTTP major version above 1 (505).
    Version,
    /// The TRACE method (405).
    Trace,
    /// The request line does not fit `large_client_header_buffers` (414).
    UriTooLong,
    /// A header line, or the whole head, does not fit (nginx's 494, sent as 400).
    HeaderTooLarge,
    /// A `Transfer-Encoding` other than `chunked` (501).
    UnknownTransferEncoding,
}

impl Reject {
    /// The status nginx answers.
    pub fn status(self) -> Status {
        match self {
            Reject::Invalid => Status::BAD_REQUEST,
            Reject::Version => Status::VERSION_NOT_SUPPORTED,
            Reject::Trace => Status::NOT_ALLOWED,
            Reject::UriTooLong => Status::REQUEST_URI_TOO_LARGE,
            Reject::HeaderTooLarge => Status::REQUEST_HEADER_TOO_LARGE,
            Reject::UnknownTransferEncoding => Status::NOT_IMPLEMENTED,
        }
    }

    /// The info line logged for it.
    pub fn line(self) -> &'static str {
        match self {
            Reject::UriTooLong => "client sent too long URI",
            Reject::HeaderTooLarge => "client sent too long header line",
            Reject::UnknownTransferEncoding => "client sent unknown \"Transfer-Encoding\"",
            Reject::Invalid | Reject::Version | Reject::Trace => "client sent invalid request",
        }
    }
}
