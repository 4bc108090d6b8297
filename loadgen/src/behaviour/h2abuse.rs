//! The `h2_abuse` behaviour: one HTTP/2 attack ([`crate::transport::h2attack`]) per session
//! on a fresh connection; records how the server ended it (`closed_by_server`,
//! `write_stalled`, `held_to_end`, `cut_at_run_end`) and how long it held the connection.

use crate::engine::ctx::{ConnTrack, PopCtx};
use crate::transport::h2attack::{self, H2Attack};
use std::time::{Duration, Instant};

/// Connects to the next endpoint and runs `attack` for at most `hold`.
pub(super) async fn run(ctx: &PopCtx, intended: Instant, attack: H2Attack, hold: Duration) {
    let ep = ctx.next_ep();
    let mut stream = match ctx.connect_stream(ep, None).await {
        Ok(s) => s,
        Err(k) => {
            ctx.rec.error(k);
            return;
        }
    };
    let _track = ConnTrack::new(&ctx.rec);
    let t_conn = Instant::now();
    let target = &ctx.ps().endpoints[ep].target;
    let authority = target.authority.clone();
    let end = tokio::select! {
        e = h2attack::run(&mut stream, attack, &authority, "/", hold) => e.end,
        _ = ctx.stop.wait() => "cut_at_run_end",
    };
    let now = Instant::now();
    ctx.rec.outcome(end, t_conn, now);
    ctx.rec.completed(intended, t_conn, now);
}
