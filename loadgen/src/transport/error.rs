//! Error kinds as recorded (the keys of `errors` in the summary) and their classification.

use std::io;

/// Why a request or session failed. `as_str` gives the recorded key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// TCP connect refused (nothing listening, or backlog full with RST).
    ConnectRefused,
    /// TCP or TLS connect took longer than `connect_timeout`.
    ConnectTimeout,
    /// Connection reset or closed by the peer before a response started.
    Reset,
    /// No complete response within `request_timeout`.
    ReadTimeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// Malformed response, HTTP/2 protocol error, failed WebSocket handshake.
    Protocol,
    /// The body ended before its announced length (or chunked terminator).
    Truncated,
    /// The body does not match its `x-body-sha256`.
    Corrupt,
    /// Any other local I/O failure (e.g. out of file descriptors).
    Other,
}

impl ErrorKind {
    /// Every kind, in recording order.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Reset,
        ErrorKind::ReadTimeout,
        ErrorKind::Tls,
        ErrorKind::Protocol,
        ErrorKind::Truncated,
        ErrorKind::Corrupt,
        ErrorKind::Other,
    ];
    /// Number of kinds.
    pub const COUNT: usize = 9;

    /// Position in [`ErrorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The recorded name (`connect_refused`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::ReadTimeout => "read_timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Other => "other",
        }
    }

    /// Classifies an I/O error seen after the connection was established.
    pub fn from_io(e: &io::Error) -> ErrorKind {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::NotConnected => ErrorKind::Reset,
            K::TimedOut => ErrorKind::ReadTimeout,
            K::InvalidData => {
                if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                    ErrorKind::Tls
                } else {
                    ErrorKind::Protocol
                }
            }
            _ => ErrorKind::Other,
        }
    }

    /// Classifies an I/O error of `connect()`.
    pub fn from_connect(e: &io::Error) -> ErrorKind {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
            io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
            _ => match ErrorKind::from_io(e) {
                ErrorKind::Protocol => ErrorKind::Tls,
                k => k,
            },
        }
    }

    /// Classifies an HTTP/2 error.
    pub fn from_h2(e: &h2::Error) -> ErrorKind {
        if let Some(io) = e.get_io() {
            return ErrorKind::from_io(io);
        }
        if e.is_go_away() || e.is_reset() {
            if e.reason() == Some(h2::Reason::PROTOCOL_ERROR) && e.is_remote() {
                return ErrorKind::Protocol;
            }
            return ErrorKind::Reset;
        }
        ErrorKind::Protocol
    }
}
