//! `GET /ws` and table routes marked `websocket`: WebSocket echo with uvicorn's keepalive
//! (PING every `--ws-ping-interval`, CLOSE 1011 when no PONG within `--ws-ping-timeout`),
//! `--ws-max-size` (CLOSE 1009 above it) and CLOSE 1012 on server shutdown. Upgrades bypass
//! `--limit-concurrency` but count as tasks.

use super::conn::{Conn, TaskGuard};
use crate::wire::request::RequestHead;
use crate::wire::response::Response;
use futures_util::{SinkExt, StreamExt};
use rand::RngExt;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message, handshake::derive_accept_key};

/// Upgrades the connection and echoes messages until either side closes.
pub(super) async fn serve(c: &mut Conn, head: RequestHead) {
    let w = c.w.clone();
    let Some(key) = head.ws_key else {
        let mut out = Vec::new();
        let r = Response::starlette(
            400,
            Vec::new(),
            bytes::Bytes::from_static(b"Missing Sec-WebSocket-Key"),
            Some("text/plain"),
        );
        crate::wire::response::write_head(&mut out, &w.date(), &r, false, false);
        out.extend_from_slice(&r.body);
        let _ = c.sock.write_all(&out).await;
        return;
    };
    let _task = TaskGuard::new(&w);
    w.shared
        .count_route(super::builtin::slot(&w, super::builtin::WS));
    let mut out = Vec::with_capacity(256);
    // websockets-sansio writes its own capitalised headers first, then uvicorn's date/server.
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    out.extend_from_slice(derive_accept_key(key.as_bytes()).as_bytes());
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(&w.date());
    out.extend_from_slice(b"\r\nserver: uvicorn\r\n\r\n");
    if c.sock.write_all(&out).await.is_err() {
        return;
    }
    let ws_cfg = w.cfg.ws;
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(ws_cfg.max_size))
        .max_frame_size(Some(ws_cfg.max_size));
    let leftover = c.buf.split().to_vec();
    let mut ws =
        WebSocketStream::from_partially_read(&mut c.sock, leftover, Role::Server, Some(cfg)).await;
    let mut shutdown = w.shutdown_tx.subscribe();
    let far = Instant::now() + std::time::Duration::from_secs(86_400 * 365);
    let mut next_ping = ws_cfg.ping_interval.map_or(far, |i| Instant::now() + i);
    let mut pong_deadline: Option<Instant> = None;
    let mut payload = [0u8; 4];
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if ws.send(m).await.is_err() { return; }
                }
                Some(Ok(Message::Pong(p))) => {
                    if pong_deadline.is_some() && p.as_ref() == payload {
                        pong_deadline = None;
                        if let Some(i) = ws_cfg.ping_interval { next_ping = Instant::now() + i; }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(Error::Capacity(_))) => {
                    let _ = ws.send(close(1009, "message too big")).await;
                    return;
                }
                None | Some(Err(_)) => return,
            },
            _ = sleep_until(next_ping), if pong_deadline.is_none() && ws_cfg.ping_interval.is_some() => {
                payload = w.rng.borrow_mut().random();
                if ws.send(Message::Ping(payload.to_vec().into())).await.is_err() { return; }
                pong_deadline = Some(ws_cfg.ping_timeout.map_or(far, |t| Instant::now() + t));
                next_ping = far;
            }
            _ = sleep_until(pong_deadline.unwrap_or(far)), if pong_deadline.is_some() => {
                let _ = ws.send(close(1011, "keepalive ping timeout")).await;
                return;
            }
            _ = shutdown.wait_for(|s| *s) => {
                let _ = ws.send(close(1012, "")).await;
                return;
            }
        }
    }
}
