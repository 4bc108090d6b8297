//! nginx's check for a client that went away while its request waits on an upstream
//! (`ngx_http_upstream_check_broken_connection` with `proxy_ignore_client_abort off`, the
//! default): while the proxy connects, sends the request and waits for the response head, a
//! close of the client's connection, or a reset of its HTTP/2 stream, ends the exchange; the
//! upstream connection is closed too and the request is logged as 499.
//!
//! Like nginx on Linux (epoll with `EPOLLRDHUP`), a connection is watched through its read
//! events and costs no system call while nothing arrives. Data that arrives without a close
//! (a pipelined request, a TLS record) is left unread and the watch goes on: a close that
//! follows it still ends the exchange, as nginx's `pending_eof` does. An HTTP/2 stream is
//! watched for the client's RST_STREAM (nginx: `client canceled stream N`, the request's
//! connection marked as failed, then finalized with 499) and for the end of its connection
//! (499 without a line of its own).

use super::client::Client;
use super::error::Cause;
use super::h2::session::H2Stream;
use super::stream::Stream;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Watches one client session for the client leaving (see the module docs).
#[derive(Debug)]
pub enum AbortWatch<'c> {
    /// A plain or TLS connection: its socket.
    Connection(&'c TcpStream),
    /// An HTTP/2 stream.
    Stream(&'c mut H2Stream),
}

impl<'c> AbortWatch<'c> {
    /// The watch of `client`'s session.
    pub fn of(client: &'c mut Client) -> AbortWatch<'c> {
        match &mut client.stream {
            Stream::Plain(s) => AbortWatch::Connection(s),
            Stream::Tls(t) => AbortWatch::Connection(t.get_ref().0),
            Stream::H2(h) => AbortWatch::Stream(h),
        }
    }

    /// Resolves when the client left, with how: [`Cause::ClientAborted`] for a closed
    /// connection, [`Cause::StreamReset`] for a reset stream, [`Cause::ConnectionClosed`]
    /// for a closed HTTP/2 connection.
    pub async fn left(&mut self) -> Cause {
        match self {
            AbortWatch::Connection(tcp) => {
                connection_closed(tcp).await;
                Cause::ClientAborted
            }
            AbortWatch::Stream(h2) => match h2.left().await {
                Some((id, reason)) => Cause::StreamReset { id, reason },
                None => Cause::ConnectionClosed,
            },
        }
    }
}

/// Resolves when the peer closed `tcp` (end of file or an error), data or not before it.
async fn connection_closed(tcp: &TcpStream) {
    loop {
        let Ok(ready) = tcp.ready(Interest::READABLE).await else {
            return;
        };
        if ready.is_read_closed() || ready.is_error() {
            return;
        }
        // Data without a close: left for the connection loop; the readiness is cleared so
        // that the next event (more data, or the close) wakes the watch again.
        let _ = tcp.try_io(Interest::READABLE, || {
            Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
        });
    }
}
