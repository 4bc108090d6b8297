//! The request layer, beneath every handler: the client session ([`client::Client`] over one
//! [`stream::Stream`]: plain TCP, TLS, or one HTTP/2 stream framed by [`h2`]), the request
//! context ([`ctx::Req`]: what the phases decided and what variables read), the phase outcome
//! ([`Next`]), the request path's one error type ([`error::Error`]: cause, stage, retry facts,
//! and the status and log line nginx gives it), replies and nginx's error pages ([`reply`],
//! heads written by [`respond`]), the request's error-log and access-log lines ([`log`]), and
//! the watch for a client that leaves while its request waits on an upstream ([`abort`]).
//! Handlers (proxying, static files,
//! limit_req, status pages) build on it; it imports none of them.

pub mod abort;
pub mod client;
pub mod ctx;
pub mod error;
pub mod h2;
pub mod log;
pub mod reply;
pub mod respond;
pub mod stream;

use std::time::Duration;

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait for another request for at most this long.
    KeepAlive(Duration),
    /// Close the connection.
    Close,
}
