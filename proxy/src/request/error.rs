//! One error type for the request path, after pingora-error: what went wrong ([`Cause`]), where
//! ([`Stage`]: reading the client's body, or one step of talking to an upstream), and what the
//! failed try allows ([`Error::request_sent`], [`Error::reused`]). [`Error::outcome`] is the one
//! place that turns an error into the status nginx answers (or only logs) and the level of its
//! error-log line, as nginx's body readers and `ngx_http_upstream_next` decide; the line itself
//! is the error's `Display`, worded as nginx's. Errors exist only on failure paths.

use crate::conf::model::LogLevel;
use crate::conf::model::next_upstream as condition;
use crate::http::status::Status;
use std::fmt;

/// Where an error happened (nginx's `while …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the client's request body.
    ReadingClientBody,
    /// Connecting to an upstream peer (or finding one).
    Connecting,
    /// Sending the request to the upstream.
    SendingRequest,
    /// Reading the upstream's response head.
    ReadingResponseHeader,
    /// Reading the upstream's response body (the response has started: only logged).
    ReadingUpstream,
}

impl Stage {
    /// nginx's wording after `while`.
    fn during(self) -> &'static str {
        match self {
            Stage::ReadingClientBody => "reading client request body",
            Stage::Connecting => "connecting to upstream",
            Stage::SendingRequest => "sending request to upstream",
            Stage::ReadingResponseHeader => "reading response header from upstream",
            Stage::ReadingUpstream => "reading upstream",
        }
    }
}

/// What went wrong.
#[derive(Debug)]
pub enum Cause {
    /// The other side closed the connection early.
    Closed,
    /// A timeout ran out (`client_body_timeout`, `proxy_connect_timeout`, …).
    TimedOut,
    /// A system call (`connect`, `writev`, `recv`) failed.
    Os(&'static str, std::io::Error),
    /// No socket for the upstream connection (`socket()` failed: out of file descriptors):
    /// nginx's `ngx_event_connect_peer` returns NGX_ERROR and the request ends with 500 at
    /// once, logged at `alert`, no other peer tried, the peer not counted as failed.
    NoSocket(std::io::Error),
    /// The upstream's response head is malformed.
    InvalidHeader,
    /// The upstream's response head is larger than `proxy_buffer_size`.
    HeaderTooBig,
    /// The upstream's body breaks its framing (`upstream sent …`: more data than its
    /// Content-Length, data after the final chunk, an invalid chunk).
    InvalidBody(&'static str),
    /// The upstream answered with a status `proxy_next_upstream` may pass over (`http_500`,
    /// `http_502`, `http_503`, `http_504`, `http_403`, `http_404`, `http_429`): made only by
    /// [`Cause::passable`].
    Status(Status),
    /// No upstream peer can be tried.
    NoLiveUpstreams,
    /// The peer is a unix socket, which this proxy does not connect to (answered 502, not
    /// logged).
    UnixSocketPeer,
    /// The client's chunked body is malformed.
    InvalidChunkedBody,
    /// The client's chunked body is larger than `client_max_body_size`.
    BodyTooLarge,
    /// A temporary file (of the request body, or of a buffered response) could not be
    /// created or written: nginx's line as is; for the request body an internal error,
    /// answered 500.
    TempFile(String),
    /// The client closed its connection while the request waited on the upstream
    /// (`proxy_ignore_client_abort off`): 499, nothing answered.
    ClientAborted,
    /// The client reset its HTTP/2 stream (`id`) with error code `reason` while the request
    /// waited on the upstream: 499, nothing answered.
    StreamReset {
        /// The stream.
        id: u32,
        /// RST_STREAM's error code.
        reason: u32,
    },
    /// The client closed the HTTP/2 connection of the request's stream while the request
    /// waited on the upstream: 499, nothing answered, and no line for the request (the
    /// connection logs `client prematurely closed connection`, as nginx's
    /// `ngx_http_v2_finalize_connection` marks each stream's connection as failed).
    ConnectionClosed,
}

impl Cause {
    /// The upstream's status as a cause when `proxy_next_upstream` can name it (nginx's
    /// `ngx_http_upstream_test_next` list); None for every other status.
    pub fn passable(status: Status) -> Option<Cause> {
        matches!(status.code(), 500 | 502 | 503 | 504 | 403 | 404 | 429)
            .then_some(Cause::Status(status))
    }
}

/// A failure on the request path.
#[derive(Debug)]
pub struct Error {
    /// What went wrong.
    pub cause: Cause,
    /// Where.
    pub stage: Stage,
    /// The request had (partly) reached the upstream: a non-idempotent one is not retried.
    pub request_sent: bool,
    /// The upstream connection came from the keepalive pool: its `error` gives the try back.
    pub reused: bool,
}

/// What nginx does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The status answered (or, when not `answered`, logged for the request).
    pub status: Status,
    /// Whether the client gets the status's error page; otherwise the connection closes.
    pub answered: bool,
    /// The level of the error-log line ([`Error`]'s `Display`); None: not logged.
    pub level: Option<LogLevel>,
}

impl Error {
    /// A failure reading the client's body.
    pub fn client(cause: Cause) -> Error {
        Error::at(Stage::ReadingClientBody, cause)
    }

    /// A failure at `stage` (request not sent, connection not reused).
    pub fn at(stage: Stage, cause: Cause) -> Error {
        Error {
            cause,
            stage,
            request_sent: false,
            reused: false,
        }
    }

    /// Whether the client caused it (not the upstream's fault).
    pub fn from_client(&self) -> bool {
        self.stage == Stage::ReadingClientBody
    }

    /// Whether the peer is at fault (nginx's `NGX_PEER_FAILED`): every error but the upstream's
    /// own 403 and 404.
    pub fn peer_failed(&self) -> bool {
        !matches!(
            self.cause,
            Cause::Status(Status::FORBIDDEN | Status::NOT_FOUND)
        )
    }

    /// The `proxy_next_upstream` condition it meets (nginx's `NGX_HTTP_UPSTREAM_FT_*`), with
    /// `non_idempotent` when the request was sent and `non_idempotent_method`.
    pub fn condition(&self, non_idempotent_method: bool) -> u32 {
        let base = match self.cause {
            Cause::TimedOut => condition::TIMEOUT,
            Cause::InvalidHeader | Cause::HeaderTooBig => condition::INVALID_HEADER,
            Cause::Status(status) => condition::of_status(status),
            _ => condition::ERROR,
        };
        if self.request_sent && non_idempotent_method {
            base | condition::NON_IDEMPOTENT
        } else {
            base
        }
    }

    /// nginx's status and log level for this error, the one place a failure becomes a
    /// status: the client body readers' answers (413, 400; a timeout logged as 408 and a close
    /// as 400 without an answer), 500 at `crit` for a temporary file (the request body's, or
    /// the response's while reading upstream), 499 for a client gone while the upstream was
    /// busy, and `ngx_http_upstream_next`'s status when no other peer is tried (504 for a
    /// timeout, the upstream's own 500/503/504/403/404/429, else 502; failures while reading
    /// the body of a response already started are only logged, at `error`).
    pub fn outcome(&self) -> Outcome {
        let (status, answered, level) = match (&self.cause, self.from_client()) {
            (Cause::ClientAborted | Cause::StreamReset { .. }, _) => {
                (Status::CLIENT_CLOSED_REQUEST, false, Some(LogLevel::Info))
            }
            (Cause::ConnectionClosed, _) => (Status::CLIENT_CLOSED_REQUEST, false, None),
            (Cause::TempFile(_), _) => (Status::INTERNAL_SERVER_ERROR, true, Some(LogLevel::Crit)),
            (Cause::NoSocket(_), _) => (Status::INTERNAL_SERVER_ERROR, true, Some(LogLevel::Alert)),
            (Cause::BodyTooLarge, _) => (
                Status::REQUEST_ENTITY_TOO_LARGE,
                true,
                Some(LogLevel::Error),
            ),
            (Cause::InvalidChunkedBody, _) => (Status::BAD_REQUEST, true, Some(LogLevel::Info)),
            (Cause::TimedOut, true) => (Status::REQUEST_TIME_OUT, false, Some(LogLevel::Info)),
            (_, true) => (Status::BAD_REQUEST, false, Some(LogLevel::Info)),
            (Cause::Status(status), false) => (*status, true, None),
            (Cause::UnixSocketPeer, false) => (Status::BAD_GATEWAY, true, None),
            (Cause::TimedOut, false) => (Status::GATEWAY_TIME_OUT, true, Some(LogLevel::Error)),
            (_, false) => (Status::BAD_GATEWAY, true, Some(LogLevel::Error)),
        };
        Outcome {
            status,
            answered,
            level,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let during = self.stage.during();
        let who = if self.from_client() {
            "client"
        } else {
            "upstream"
        };
        match &self.cause {
            Cause::Closed => write!(f, "{who} prematurely closed connection while {during}"),
            Cause::TimedOut => write!(
                f,
                "{who} timed out (110: Connection timed out) while {during}"
            ),
            Cause::Os(call, e) => write!(
                f,
                "{call}() failed ({}) while {during}",
                crate::logs::os_error(e)
            ),
            Cause::NoSocket(e) => write!(
                f,
                "socket() failed ({}) while {during}",
                crate::logs::os_error(e)
            ),
            Cause::InvalidHeader => write!(f, "upstream sent invalid header while {during}"),
            Cause::HeaderTooBig => write!(f, "upstream sent too big header while {during}"),
            Cause::InvalidBody(what) => write!(f, "upstream sent {what} while {during}"),
            Cause::Status(code) => write!(f, "upstream answered {code} while {during}"),
            Cause::NoLiveUpstreams => write!(f, "no live upstreams while {during}"),
            Cause::UnixSocketPeer => write!(f, "unix socket upstream not supported while {during}"),
            Cause::InvalidChunkedBody => write!(f, "client sent invalid chunked body"),
            Cause::BodyTooLarge => write!(f, "client intended to send too large chunked body"),
            Cause::TempFile(line) => f.write_str(line),
            Cause::StreamReset { id, reason } => match reason {
                0x8 => write!(f, "client canceled stream {id} while {during}"),
                0x7 => write!(f, "client refused stream {id} while {during}"),
                0x2 => write!(
                    f,
                    "client terminated stream {id} due to internal error while {during}"
                ),
                _ => write!(
                    f,
                    "client terminated stream {id} with status {reason} while {during}"
                ),
            },
            Cause::ConnectionClosed => {
                write!(f, "client closed the HTTP/2 connection while {during}")
            }
            Cause::ClientAborted => write!(
                f,
                "epoll_wait() reported that client prematurely closed connection, \
                 so upstream connection is closed too while {during}"
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(kind: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(kind)
    }

    #[test]
    fn lines_and_statuses_as_nginx() {
        let cases: Vec<(Error, &str, u16, bool)> = vec![
            (
                Error::at(Stage::Connecting, Cause::Os("connect", os(111))),
                "connect() failed (111: Connection refused) while connecting to upstream",
                502,
                true,
            ),
            (
                Error::at(Stage::Connecting, Cause::NoSocket(os(24))),
                "socket() failed (24: Too many open files) while connecting to upstream",
                500,
                true,
            ),
            (
                Error::at(Stage::Connecting, Cause::TimedOut),
                "upstream timed out (110: Connection timed out) while connecting to upstream",
                504,
                true,
            ),
            (
                Error::at(Stage::ReadingResponseHeader, Cause::Closed),
                "upstream prematurely closed connection while reading response header from upstream",
                502,
                true,
            ),
            (
                Error::at(Stage::ReadingResponseHeader, Cause::HeaderTooBig),
                "upstream sent too big header while reading response header from upstream",
                502,
                true,
            ),
            (
                Error::at(Stage::Connecting, Cause::NoLiveUpstreams),
                "no live upstreams while connecting to upstream",
                502,
                true,
            ),
            (
                Error::at(
                    Stage::ReadingUpstream,
                    Cause::InvalidBody("data after final chunk"),
                ),
                "upstream sent data after final chunk while reading upstream",
                502,
                true,
            ),
            (
                Error::at(Stage::ReadingUpstream, Cause::Closed),
                "upstream prematurely closed connection while reading upstream",
                502,
                true,
            ),
            (
                Error::client(Cause::TimedOut),
                "client timed out (110: Connection timed out) while reading client request body",
                408,
                false,
            ),
            (
                Error::client(Cause::Closed),
                "client prematurely closed connection while reading client request body",
                400,
                false,
            ),
            (
                Error::client(Cause::BodyTooLarge),
                "client intended to send too large chunked body",
                413,
                true,
            ),
            (
                Error::client(Cause::InvalidChunkedBody),
                "client sent invalid chunked body",
                400,
                true,
            ),
            (
                Error::at(Stage::ReadingResponseHeader, Cause::ClientAborted),
                "epoll_wait() reported that client prematurely closed connection, so upstream \
                 connection is closed too while reading response header from upstream",
                499,
                false,
            ),
            (
                Error::at(
                    Stage::SendingRequest,
                    Cause::StreamReset { id: 3, reason: 0x8 },
                ),
                "client canceled stream 3 while sending request to upstream",
                499,
                false,
            ),
            (
                Error::at(
                    Stage::SendingRequest,
                    Cause::StreamReset { id: 5, reason: 0x1 },
                ),
                "client terminated stream 5 with status 1 while sending request to upstream",
                499,
                false,
            ),
        ];
        for (e, line, status, answered) in cases {
            assert_eq!(e.to_string(), line);
            let o = e.outcome();
            assert_eq!((o.status.code(), o.answered), (status, answered), "{line}");
        }
    }

    #[test]
    fn upstream_statuses_and_conditions_as_ngx_http_upstream_next() {
        for code in [500, 502, 503, 504, 403, 404, 429] {
            let status = Status::new(code).unwrap();
            let cause = Cause::passable(status).expect("passable");
            let e = Error::at(Stage::ReadingResponseHeader, cause);
            assert_eq!(e.outcome().status, status);
            assert_eq!(e.outcome().level, None);
            assert_eq!(e.peer_failed(), code != 403 && code != 404);
        }
        for code in [200, 301, 400, 418, 501] {
            assert!(Cause::passable(Status::new(code).unwrap()).is_none());
        }
        let e = Error::at(Stage::Connecting, Cause::UnixSocketPeer);
        assert_eq!(
            (e.outcome().status, e.outcome().level),
            (Status::BAD_GATEWAY, None)
        );
        let mut e = Error::at(Stage::SendingRequest, Cause::TimedOut);
        assert_eq!(e.condition(true), condition::TIMEOUT);
        e.request_sent = true;
        assert_eq!(
            e.condition(true),
            condition::TIMEOUT | condition::NON_IDEMPOTENT
        );
        assert_eq!(e.condition(false), condition::TIMEOUT);
        let e = Error::at(Stage::ReadingResponseHeader, Cause::InvalidHeader);
        assert_eq!(e.condition(false), condition::INVALID_HEADER);
        let line = "pwritev() \"/t/1/00/0000000001\" failed (28: No space left on device) \
                    while reading upstream";
        let e = Error::at(Stage::ReadingUpstream, Cause::TempFile(line.into()));
        assert_eq!(e.to_string(), line);
        assert_eq!(e.outcome().level, Some(LogLevel::Crit));
        let e = Error::client(Cause::TempFile(
            "open() \"/x\" failed (13: Permission denied)".into(),
        ));
        assert_eq!(
            (e.outcome().status, e.outcome().level),
            (Status::INTERNAL_SERVER_ERROR, Some(LogLevel::Crit))
        );
    }
}
