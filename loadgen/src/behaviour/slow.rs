//! Slow clients on raw HTTP/1.1: slow headers (slowloris), slow body, slow reader, idle
//! hoarders. Each records how the session ended (`outcome`) and how long the server kept the
//! connection (`held`); latency is the whole session, from the intended start.

use super::throttle::Throttled;
use crate::engine::ctx::{ConnTrack, PopCtx};
use crate::request::pattern_chunk;
use crate::transport::{ErrorKind, Stream, h1::H1Conn};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

/// How a slow session ended.
enum End {
    Status(u16),
    Closed,
    Reset,
    HeldByClient,
    Stopped,
}

impl End {
    fn name(&self) -> String {
        match self {
            End::Status(s) => format!("status_{s}"),
            End::Closed => "closed_by_server".into(),
            End::Reset => "reset".into(),
            End::HeldByClient => "held_to_end".into(),
            End::Stopped => "cut_at_run_end".into(),
        }
    }
}

async fn open(
    ctx: &PopCtx,
    recv_buffer: Option<u32>,
) -> Option<(usize, Stream, ConnTrack, Instant)> {
    let ep = ctx.next_ep();
    match ctx.connect_stream(ep, recv_buffer).await {
        Ok(s) => Some((ep, s, ConnTrack::new(&ctx.rec), Instant::now())),
        Err(k) => {
            ctx.rec.error(k);
            None
        }
    }
}

fn finish(ctx: &PopCtx, end: End, intended: Instant, t_conn: Instant) {
    let now = Instant::now();
    if let End::Status(s) = end {
        ctx.rec.status_only(s);
    }
    ctx.rec.outcome(&end.name(), t_conn, now);
    ctx.rec.completed(intended, t_conn, now);
}

/// Parses the status code of the first response line in `got`, if complete.
fn status_of(got: &[u8]) -> Option<u16> {
    let line_end = got.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&got[..line_end]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reads what the server says until it answers, closes or resets.
async fn watch_reads(rd: &mut ReadHalf<Stream>) -> End {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) => return status_of(&got).map(End::Status).unwrap_or(End::Closed),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if let Some(s) = status_of(&got) {
                    return End::Status(s);
                }
                if got.len() > 8192 {
                    return End::Closed;
                }
            }
            Err(_) => return status_of(&got).map(End::Status).unwrap_or(End::Reset),
        }
    }
}

fn request_line(ctx: &PopCtx, ep: usize, seq: u64) -> (String, String) {
    let ps = ctx.ps();
    let spec = ps.mix.pick(ctx.rand());
    let path = spec.path(&ps.endpoints[ep], seq, ctx.rand());
    (
        format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            spec.method,
            path,
            spec.authority(&ps.endpoints[ep])
        ),
        spec.method.to_string(),
    )
}

/// Writes `chunks()` one every `interval` while watching reads; `None` when all was written.
async fn drip(
    ctx: &PopCtx,
    rd: &mut ReadHalf<Stream>,
    wr: &mut WriteHalf<Stream>,
    mut next: impl FnMut(u64) -> Option<Vec<u8>>,
    interval: Duration,
    deadline: Instant,
) -> Option<End> {
    let mut n = 0u64;
    let mut at = Instant::now() + interval;
    let reads = watch_reads(rd);
    tokio::pin!(reads);
    loop {
        tokio::select! {
            end = &mut reads => return Some(end),
            _ = tokio::time::sleep_until(deadline.into()) => return Some(End::HeldByClient),
            _ = ctx.stop.wait() => return Some(End::Stopped),
            _ = tokio::time::sleep_until(at.into()) => {
                n += 1;
                let bytes = next(n)?;
                if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
                    return Some(End::Reset);
                }
                at += interval;
            }
        }
    }
}

/// Slowloris: request line, then a header line every `interval`, never the final CRLF.
pub(super) async fn slow_headers(
    ctx: &PopCtx,
    intended: Instant,
    seq: u64,
    interval: Duration,
    max_hold: Duration,
) {
    let Some((ep, stream, _t, t_conn)) = open(ctx, None).await else {
        return;
    };
    let (head, _) = request_line(ctx, ep, seq);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let end = if wr.write_all(head.as_bytes()).await.is_err() {
        End::Reset
    } else {
        let next = |n: u64| Some(format!("X-Slow-{n}: {n}\r\n").into_bytes());
        drip(ctx, &mut rd, &mut wr, next, interval, t_conn + max_hold)
            .await
            .unwrap_or(End::HeldByClient)
    };
    finish(ctx, end, intended, t_conn);
}

/// Slow POST: announces `declared` bytes and sends `chunk` bytes every `interval`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn slow_body(
    ctx: &PopCtx,
    intended: Instant,
    seq: u64,
    declared: u64,
    chunk: u64,
    interval: Duration,
    max_hold: Duration,
) {
    let Some((ep, stream, _t, t_conn)) = open(ctx, None).await else {
        return;
    };
    let (head, _) = request_line(ctx, ep, seq);
    let head = format!("{head}Content-Length: {declared}\r\n\r\n");
    let (mut rd, mut wr) = tokio::io::split(stream);
    if wr.write_all(head.as_bytes()).await.is_err() {
        return finish(ctx, End::Reset, intended, t_conn);
    }
    let pattern = pattern_chunk();
    let mut sent = 0u64;
    let next = |_: u64| {
        if sent >= declared {
            return None;
        }
        let n = chunk.min(declared - sent).min(pattern.len() as u64) as usize;
        sent += n as u64;
        Some(pattern[..n].to_vec())
    };
    let deadline = t_conn + max_hold;
    let end = match drip(ctx, &mut rd, &mut wr, next, interval, deadline).await {
        Some(end) => end,
        None => {
            // Everything was sent: wait for the answer.
            tokio::select! {
                end = watch_reads(&mut rd) => end,
                _ = tokio::time::sleep_until(deadline.into()) => End::HeldByClient,
                _ = ctx.stop.wait() => End::Stopped,
            }
        }
    };
    finish(ctx, end, intended, t_conn);
}

/// Slow reader: SO_RCVBUF = `recv_buffer`, reads the response at `rate` bytes/s.
pub(super) async fn slow_reader(
    ctx: &PopCtx,
    intended: Instant,
    seq: u64,
    rate: u64,
    recv_buffer: u32,
    max_hold: Duration,
) {
    let Some((ep, stream, _t, t_conn)) = open(ctx, Some(recv_buffer)).await else {
        return;
    };
    let ps = ctx.ps();
    let spec = ps.mix.pick(ctx.rand());
    let bytes = spec.h1_bytes(ep, &ps.endpoints[ep], seq, ctx.rand(), true);
    let mut conn = H1Conn::new(Throttled::new(stream, rate));
    let sent_at = Instant::now();
    let exchange = async {
        conn.send(&bytes).await?;
        conn.read_response(spec.is_head()).await
    };
    let res = tokio::select! {
        r = tokio::time::timeout(max_hold, exchange) => r.ok(),
        _ = ctx.stop.wait() => None,
    };
    let now = Instant::now();
    match res {
        Some(Ok(r)) => {
            ctx.rec
                .response(r.status, r.verified, intended, sent_at, now);
            ctx.rec.outcome("read_all", t_conn, now);
        }
        Some(Err(k)) => {
            ctx.rec.error(k);
            ctx.rec.outcome(
                if k == ErrorKind::Truncated {
                    "truncated"
                } else {
                    k.as_str()
                },
                t_conn,
                now,
            );
        }
        None => ctx.rec.outcome("held_to_end", t_conn, now),
    }
}

/// Idle hoarder: connects and sends nothing.
pub(super) async fn idle_hoarder(ctx: &PopCtx, intended: Instant, hold: Duration) {
    let Some((_, stream, _t, t_conn)) = open(ctx, None).await else {
        return;
    };
    let (mut rd, _wr) = tokio::io::split(stream);
    let end = tokio::select! {
        end = watch_reads(&mut rd) => end,
        _ = tokio::time::sleep(hold) => End::HeldByClient,
        _ = ctx.stop.wait() => End::Stopped,
    };
    finish(ctx, end, intended, t_conn);
}
