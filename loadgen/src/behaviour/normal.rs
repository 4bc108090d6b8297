//! The normal behaviour: one request and its response on a (possibly reused) connection.
//! Latency runs from the intended time (so connection waits and connects are charged);
//! service time from the moment the request is written.

use crate::engine::ctx::{Conn, PopCtx};
use crate::plan::Load;
use crate::request::{Prepared, pattern_chunk};
use crate::transport::{ErrorKind, Stream, h1::H1Conn, h1::Response};
use std::time::Instant;

pub(super) async fn run(ctx: &PopCtx, intended: Instant, seq: u64, slot: &mut Option<Conn>) {
    let timeout = ctx.shared.plan.request_timeout.get();
    let mut sent_at = intended;
    let res = tokio::time::timeout(timeout, exchange(ctx, seq, slot, &mut sent_at)).await;
    let done = Instant::now();
    let rec = &ctx.rec;
    let (limit, _) = ctx.ps().per_conn_limit();
    if let Some(a) = slot.as_ref().and_then(Conn::source) {
        match &res {
            Ok(Ok(r)) => rec.source(a, &r.status.to_string()),
            Ok(Err(kind)) => rec.source(a, kind.as_str()),
            Err(_) => rec.source(a, ErrorKind::ReadTimeout.as_str()),
        }
    }
    match res {
        Ok(Ok(r)) => {
            rec.response(r.status, r.verified, intended, sent_at, done);
            rec.body_bytes(r.body_len);
            if let Some(Conn::H1 { c, .. }) = slot.as_mut() {
                for (i, v) in c.seen.drain(..) {
                    rec.header(&c.watch[i], &v);
                }
            }
            let exhausted = match slot {
                Some(Conn::H1 { c, .. }) => limit.is_some_and(|l| c.served >= l),
                _ => false,
            };
            if !r.keep_alive || exhausted {
                *slot = None;
            }
        }
        Ok(Err(kind)) => {
            rec.error(kind);
            drop_conn(ctx, slot);
        }
        Err(_) => {
            rec.error(ErrorKind::ReadTimeout);
            drop_conn(ctx, slot);
        }
    }
}

fn drop_conn(ctx: &PopCtx, slot: &mut Option<Conn>) {
    if let Some(c) = slot.take() {
        ctx.pool.drop_h2(&c);
    }
}

async fn exchange(
    ctx: &PopCtx,
    seq: u64,
    slot: &mut Option<Conn>,
    sent_at: &mut Instant,
) -> Result<Response, ErrorKind> {
    if slot.is_none() {
        *slot = Some(ctx.connect(ctx.next_ep()).await?);
    }
    let ps = ctx.ps();
    let spec = ps.mix.pick(if ps.mix.entries.len() > 1 {
        ctx.rand()
    } else {
        0
    });
    let rand = if spec.is_static() { 0 } else { ctx.rand() };
    let (_, close) = ps.per_conn_limit();
    match slot {
        Some(Conn::H1 { c, ep, .. }) => {
            let ep = *ep;
            let bytes = spec.h1_bytes(ep, &ps.endpoints[ep], seq, rand, close);
            if c.has_buffered() {
                return Err(ErrorKind::Protocol);
            }
            if c.watch.is_empty() && !ps.pop.record_headers.is_empty() {
                c.watch = ps
                    .pop
                    .record_headers
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect();
            }
            *sent_at = Instant::now();
            c.send(&bytes).await?;
            stream_body(c, spec).await?;
            c.read_response(spec.is_head()).await
        }
        Some(Conn::H2 { h, ep, .. }) => {
            let ep = *ep;
            let req = || {
                spec.h2_request(&ps.endpoints[ep], seq, rand)
                    .map_err(|_| ErrorKind::Protocol)
            };
            let body = spec
                .body
                .as_ref()
                .map(|b| b.inline.clone().unwrap_or_default());
            *sent_at = Instant::now();
            match h.exchange(req()?, body.clone()).await {
                Err((_, true)) => {
                    // Refused before processing (GOAWAY, REFUSED_STREAM): once more, new connection.
                    drop_conn(ctx, slot);
                    if matches!(ps.pop.load, Load::Open { .. }) {
                        // Open loop shares connections: the streams one GOAWAY refused retry
                        // through the pool and share its new connection (not one each).
                        let mut lease = ctx.pool.acquire(&ctx.rec).await;
                        if lease.slot.is_none() {
                            lease.slot = Some(ctx.connect(ep).await?);
                        }
                        return match &lease.slot {
                            Some(Conn::H2 { h, .. }) => {
                                h.exchange(req()?, body).await.map_err(|(k, _)| k)
                            }
                            _ => Err(ErrorKind::Protocol),
                        };
                    }
                    let fresh = ctx.connect(ep).await?;
                    let result = match &fresh {
                        Conn::H2 { h, .. } => h.exchange(req()?, body).await.map_err(|(k, _)| k),
                        Conn::H1 { .. } => Err(ErrorKind::Protocol),
                    };
                    *slot = Some(fresh);
                    result
                }
                r => r.map_err(|(k, _)| k),
            }
        }
        None => Err(ErrorKind::Other),
    }
}

/// Writes a large (non-inline) body after its head, in 64 KiB pattern writes.
async fn stream_body(c: &mut H1Conn<Stream>, spec: &Prepared) -> Result<(), ErrorKind> {
    let Some(body) = &spec.body else {
        return Ok(());
    };
    if body.inline.is_some() {
        return Ok(());
    }
    let chunk = pattern_chunk();
    let mut left = body.len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        c.send(&chunk[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}
