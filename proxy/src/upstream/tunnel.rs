//! WebSocket / Upgrade tunnel: after a 101 from the upstream to a client request that carried
//! `Upgrade`, both directions are copied raw until either side closes or nothing moves for
//! `proxy_read_timeout` (re-armed on every read or write in either direction, as nginx).

use crate::request::client::Client;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How the tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// One side closed (or failed).
    Closed,
    /// No traffic for the idle timeout.
    IdleTimeout,
}

/// Relays bytes both ways; `pending_up` are bytes the upstream sent after its 101 head.
/// Returns the end reason and the bytes sent to the client.
pub async fn run(
    client: &mut Client,
    up: &mut TcpStream,
    pending_up: &[u8],
    idle: Duration,
) -> (TunnelEnd, u64) {
    let mut to_client = 0u64;
    let _open = crate::metrics::WebSocketGuard::new();
    if !pending_up.is_empty() {
        if client.stream.write_all(pending_up).await.is_err() {
            return (TunnelEnd::Closed, 0);
        }
        to_client += pending_up.len() as u64;
    }
    if !client.buf.is_empty() {
        let pending: Vec<u8> = std::mem::take(&mut client.buf);
        if up.write_all(&pending).await.is_err() {
            return (TunnelEnd::Closed, to_client);
        }
    }
    let (mut cr, mut cw) = tokio::io::split(&mut client.stream);
    let (mut ur, mut uw) = up.split();
    let mut from_client = vec![0u8; 16384];
    let mut from_up = vec![0u8; 16384];
    loop {
        tokio::select! {
            r = cr.read(&mut from_client) => match r {
                Ok(0) | Err(_) => return (TunnelEnd::Closed, to_client),
                Ok(n) => {
                    if uw.write_all(&from_client[..n]).await.is_err() {
                        return (TunnelEnd::Closed, to_client);
                    }
                }
            },
            r = ur.read(&mut from_up) => match r {
                Ok(0) | Err(_) => return (TunnelEnd::Closed, to_client),
                Ok(n) => {
                    if cw.write_all(&from_up[..n]).await.is_err() {
                        return (TunnelEnd::Closed, to_client);
                    }
                    to_client += n as u64;
                }
            },
            _ = tokio::time::sleep(idle) => return (TunnelEnd::IdleTimeout, to_client),
        }
    }
}
