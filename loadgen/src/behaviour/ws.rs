//! WebSocket behaviours (idle, chatty) and the reconnect storm. The handshake is the session's
//! timed request (status 101 on success); how and when the connection ended is an outcome.

use crate::engine::ctx::{ConnTrack, PopCtx};
use crate::transport::{ErrorKind, Stream};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, protocol::WebSocketConfig};

/// Small buffers: thousands of idle sockets must stay cheap.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Connects and performs the handshake; records the handshake as the session's response.
async fn open(
    ctx: &PopCtx,
    intended: Instant,
    seq: u64,
) -> Option<(WebSocketStream<Stream>, ConnTrack, Instant)> {
    let ps = ctx.ps();
    let ep = ctx.next_ep();
    let stream = match ctx.connect_stream(ep, None).await {
        Ok(s) => s,
        Err(k) => {
            ctx.rec.error(k);
            return None;
        }
    };
    let track = ConnTrack::new(&ctx.rec);
    let e = &ps.endpoints[ep];
    let spec = ps.mix.pick(ctx.rand());
    let url = format!(
        "{}://{}{}",
        if e.target.tls { "wss" } else { "ws" },
        e.target.authority,
        spec.path(e, seq, ctx.rand())
    );
    let sent_at = Instant::now();
    let hs = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()));
    match tokio::time::timeout(ctx.shared.plan.request_timeout.get(), hs).await {
        Ok(Ok((ws, resp))) => {
            ctx.rec.response(
                resp.status().as_u16(),
                false,
                intended,
                sent_at,
                Instant::now(),
            );
            Some((ws, track, Instant::now()))
        }
        Ok(Err(WsError::Http(resp))) => {
            // The server answered the upgrade with a normal HTTP response (e.g. 502).
            ctx.rec.response(
                resp.status().as_u16(),
                false,
                intended,
                sent_at,
                Instant::now(),
            );
            None
        }
        Ok(Err(WsError::Io(e))) => {
            ctx.rec.error(ErrorKind::from_io(&e));
            None
        }
        Ok(Err(_)) => {
            ctx.rec.error(ErrorKind::Protocol);
            None
        }
        Err(_) => {
            ctx.rec.error(ErrorKind::ReadTimeout);
            None
        }
    }
}

/// Name of how a WebSocket read ended.
fn ended(msg: Option<Result<Message, WsError>>) -> Option<String> {
    match msg {
        None => Some("closed_by_server".into()),
        Some(Ok(Message::Close(frame))) => Some(match frame {
            Some(f) => format!("ws_close_{}", u16::from(f.code)),
            None => "ws_close_no_code".into(),
        }),
        Some(Ok(_)) => None,
        Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
            Some("closed_by_server".into())
        }
        Some(Err(WsError::Io(e))) => Some(match ErrorKind::from_io(&e) {
            ErrorKind::Reset => "reset".into(),
            k => k.as_str().into(),
        }),
        Some(Err(WsError::Protocol(_))) => Some("protocol".into()),
        Some(Err(_)) => Some("error".into()),
    }
}

async fn close_politely(ws: &mut WebSocketStream<Stream>) {
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
}

/// Handshake, then hold silently for `hold`, recording when and how it was closed.
pub(super) async fn ws_idle(ctx: &PopCtx, intended: Instant, seq: u64, hold: Duration) {
    let Some((mut ws, _t, since)) = open(ctx, intended, seq).await else {
        return;
    };
    let deadline = since + hold;
    let outcome = loop {
        tokio::select! {
            m = ws.next() => if let Some(why) = ended(m) { break why },
            _ = tokio::time::sleep_until(deadline.into()) => break "held_to_end".to_string(),
            _ = ctx.stop.wait() => break "cut_at_run_end".to_string(),
        }
    };
    if outcome == "held_to_end" || outcome == "cut_at_run_end" {
        close_politely(&mut ws).await;
    }
    ctx.rec.outcome(&outcome, since, Instant::now());
}

/// Handshake, then `rate` messages/s of `size` bytes, timing each echo.
pub(super) async fn ws_chatty(
    ctx: &PopCtx,
    intended: Instant,
    seq: u64,
    rate: f64,
    size: usize,
    hold: Duration,
) {
    let Some((mut ws, _t, since)) = open(ctx, intended, seq).await else {
        return;
    };
    let deadline = since + hold;
    let gap = Duration::from_secs_f64(1.0 / rate);
    let payload: String = "m".repeat(size);
    let echo_timeout = ctx.shared.plan.request_timeout.get();
    let mut next = Instant::now();
    let outcome = 'session: loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = tokio::time::sleep_until(deadline.into()) => break "held_to_end".to_string(),
            _ = ctx.stop.wait() => break "cut_at_run_end".to_string(),
        }
        let sent = Instant::now();
        if ws.send(Message::text(payload.clone())).await.is_err() {
            break "reset".to_string();
        }
        let wait_echo = async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(_) | Message::Binary(_))) => return None,
                    m => {
                        if let Some(why) = ended(m) {
                            return Some(why);
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(echo_timeout, wait_echo).await {
            Ok(None) => ctx.rec.ws_rtt(sent, Instant::now()),
            Ok(Some(why)) => break 'session why,
            Err(_) => break "echo_timeout".to_string(),
        }
        next += gap;
    };
    if outcome == "held_to_end" || outcome == "cut_at_run_end" {
        close_politely(&mut ws).await;
    }
    ctx.rec.outcome(&outcome, since, Instant::now());
}

/// Connect, one request (or WebSocket handshake), hold, drop, back off.
pub(super) async fn reconnect(
    ctx: &PopCtx,
    intended: Instant,
    seq: u64,
    hold: Duration,
    backoff: Duration,
    websocket: bool,
) {
    let since;
    if websocket {
        let Some((ws, _t, s)) = open(ctx, intended, seq).await else {
            return;
        };
        since = s;
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = ctx.stop.wait() => {}
        }
        drop(ws);
    } else {
        let mut slot = None;
        super::normal::run(ctx, intended, seq, &mut slot).await;
        since = Instant::now();
        if slot.is_some() {
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = ctx.stop.wait() => {}
            }
        }
        drop(slot);
    }
    ctx.rec.outcome("dropped_by_client", since, Instant::now());
    if !backoff.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = ctx.stop.wait() => {}
        }
    }
}
