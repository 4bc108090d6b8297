//! nginx's check for a client that went away while its request waits on an upstream
//! (`ngx_http_upstream_check_broken_connection` with `proxy_ignore_client_abort off`, the
//! default): while the proxy connects, sends the request and waits for the response head, a
//! close of the client's connection (end of file or an error on its socket) ends the
//! exchange; the upstream connection is closed too and the request is logged as 499.
//!
//! Like nginx on Linux, this waits for the socket's read event and costs no system call
//! while nothing arrives (the read readiness was cleared when the request was read). Data
//! that arrives instead (a pipelined request, a TLS alert) ends the watch: nginx, woken by
//! epoll's edge, would still see a close that follows; we do not. HTTP/2 streams are not
//! watched (nginx skips them here too; a reset stream ends its request elsewhere).

use super::client::Client;
use super::stream::Stream;
use tokio::net::TcpStream;

/// Watches one client connection for its close (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct AbortWatch<'c> {
    /// The client's socket (None: nothing to watch).
    tcp: Option<&'c TcpStream>,
}

impl<'c> AbortWatch<'c> {
    /// The watch of `client`'s connection.
    pub fn of(client: &'c Client) -> AbortWatch<'c> {
        let tcp = match &client.stream {
            Stream::Plain(s) => Some(s),
            Stream::Tls(t) => Some(t.get_ref().0),
            Stream::H2(_) => None,
        };
        AbortWatch { tcp }
    }

    /// Resolves when the client closed its connection; never when data arrives first, nor
    /// for an HTTP/2 stream.
    pub async fn closed(&self) {
        if let Some(tcp) = self.tcp {
            let mut byte = [0u8; 1];
            if !matches!(tcp.peek(&mut byte).await, Ok(n) if n > 0) {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}
