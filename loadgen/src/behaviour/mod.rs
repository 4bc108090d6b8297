//! Client behaviours: what one session does on the wire. The drivers (open / closed loop)
//! call [`run_session`]; each behaviour records through the population's `Rec`.

mod h2abuse;
mod normal;
mod slow;
mod throttle;
pub mod tls_hello;
mod ws;

use crate::engine::ctx::{Conn, PopCtx};
use crate::plan::Behaviour;
use std::time::Instant;

/// One session of the population's behaviour. `slot` is the connection to reuse (keep-alive;
/// refilled or emptied by the session). The caller has already counted the session as sent.
pub async fn run_session(ctx: &PopCtx, intended: Instant, seq: u64, slot: &mut Option<Conn>) {
    match &ctx.ps().pop.behaviour {
        Behaviour::Normal {} => normal::run(ctx, intended, seq, slot).await,
        Behaviour::LargeUpload { .. } => normal::run(ctx, intended, seq, slot).await,
        Behaviour::SlowHeaders { interval, max_hold } => {
            slow::slow_headers(ctx, intended, seq, interval.get(), max_hold.get()).await
        }
        Behaviour::SlowBody {
            declared_bytes,
            chunk_bytes,
            interval,
            max_hold,
        } => {
            slow::slow_body(
                ctx,
                intended,
                seq,
                *declared_bytes,
                *chunk_bytes,
                interval.get(),
                max_hold.get(),
            )
            .await
        }
        Behaviour::SlowReader {
            bytes_per_sec,
            recv_buffer,
            max_hold,
        } => {
            slow::slow_reader(
                ctx,
                intended,
                seq,
                *bytes_per_sec,
                *recv_buffer,
                max_hold.get(),
            )
            .await
        }
        Behaviour::IdleHoarder { hold } => slow::idle_hoarder(ctx, intended, hold.get()).await,
        Behaviour::WsIdle { hold } => ws::ws_idle(ctx, intended, seq, hold.get()).await,
        Behaviour::WsChatty {
            messages_per_sec,
            message_bytes,
            hold,
        } => {
            ws::ws_chatty(
                ctx,
                intended,
                seq,
                *messages_per_sec,
                *message_bytes,
                hold.get(),
            )
            .await
        }
        Behaviour::ReconnectStorm {
            hold,
            backoff,
            websocket,
        } => ws::reconnect(ctx, intended, seq, hold.get(), backoff.get(), *websocket).await,
        Behaviour::TlsHello { version, ciphers } => {
            tls_hello::run(ctx, intended, *version, *ciphers).await
        }
        Behaviour::H2Abuse { attack, hold } => {
            h2abuse::run(ctx, intended, *attack, hold.get()).await
        }
    }
}
