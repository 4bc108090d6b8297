//! [`Attempt`]: one request's walk over the peers, with nginx's `tries` accounting and
//! `free_peer` failure bookkeeping.

use std::sync::Arc;
use std::time::Instant;

use super::peer::{PeerAddr, PeerId, SetKind};
use super::upstream::{RequestState, Upstream};

/// The peer chosen for one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Which peer (pass it back implicitly through [`Attempt::finish`]).
    pub id: PeerId,
    /// Where to connect.
    pub addr: PeerAddr,
    /// The peer name as nginx logs it in `$upstream_addr` (`127.0.0.1:9001`).
    pub name: Arc<str>,
    /// The `server` text it came from (as written in the config).
    pub server: Arc<str>,
}

/// No peer could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// Every peer (primary and backup) is down, failed, full or already tried: nginx logs
    /// `no live upstreams while connecting to upstream` and answers 502.
    #[error("no live upstreams")]
    NoLiveUpstreams,
}

/// How a try ended, as nginx's `free_peer` state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOutcome {
    /// The try did not fail (a response was passed on, a 403/404 "next", the client went
    /// away): may clear the peer's fails (nginx state 0 / NEXT).
    Ok,
    /// error / timeout / invalid_header, or a retried http_5xx/429 status (nginx
    /// `NGX_PEER_FAILED`): counts against `max_fails`.
    Failed,
}

/// What [`Attempt::finish`] did, for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinishReport {
    /// The failure reached `max_fails`: nginx logs warn `upstream server temporarily disabled`.
    pub temporarily_disabled: bool,
}

/// One request's balancer state (nginx's per-request peer data). Dropping an attempt whose
/// current peer was not finished releases it as [`PeerOutcome::Ok`] (as nginx's
/// `finalize_request` does).
#[derive(Debug)]
pub struct Attempt {
    group: Arc<Upstream>,
    req: RequestState,
    tries: u32,
    current: Option<PeerId>,
    last_now: Option<Instant>,
}

impl Attempt {
    pub(crate) fn new(group: Arc<Upstream>, req: RequestState, tries: u32) -> Attempt {
        Attempt {
            group,
            req,
            tries,
            current: None,
            last_now: None,
        }
    }

    /// Tries left (nginx `u->peer.tries`): starts at the number of non-`down` peers, −1 per
    /// finished try, 0 after a try on a single-peer group. The caller stops retrying at 0.
    pub fn tries_left(&self) -> u32 {
        self.tries
    }

    /// Applies `proxy_next_upstream_tries N` (0 = no cap): `tries = min(tries, N)`.
    pub fn limit_tries(&mut self, max: u32) {
        if max > 0 {
            self.tries = self.tries.min(max);
        }
    }

    /// Gives back the try of a failure on a *cached keepalive connection* (nginx `tries++`
    /// for `NGX_HTTP_UPSTREAM_FT_ERROR` on `peer.cached`). Call it after [`Attempt::finish`];
    /// the failure itself still counts against the peer.
    pub fn give_back_try(&mut self) {
        self.tries += 1;
    }

    /// The group this attempt balances over.
    pub fn upstream(&self) -> &Arc<Upstream> {
        &self.group
    }

    /// The peer of the try in progress, if any.
    pub fn current(&self) -> Option<PeerId> {
        self.current
    }

    /// Chooses the peer for the next try (nginx `peer.get`): increments its active
    /// connections. A previous unfinished try is first released as [`PeerOutcome::Ok`].
    pub fn next_peer(&mut self, now: Instant) -> Result<Selected, SelectError> {
        if self.current.is_some() {
            self.finish(PeerOutcome::Ok, now);
        }
        self.last_now = Some(now);
        let now_s = self.group.secs(now);
        let mut g = self.group.lock();
        let id = self
            .group
            .balancer()
            .select(&mut g, &mut self.req, now_s)
            .ok_or(SelectError::NoLiveUpstreams)?;
        let p = g.peer_mut(id);
        p.conns += 1;
        p.requests += 1;
        let sel = Selected {
            id,
            addr: p.addr.clone(),
            name: p.name.clone(),
            server: p.server.clone(),
        };
        drop(g);
        self.current = Some(id);
        Ok(sel)
    }

    /// Ends the current try (nginx `peer.free`): failure accounting, `conns − 1`, `tries − 1`
    /// (or `tries = 0` on a single-peer group). No-op without a current try.
    pub fn finish(&mut self, outcome: PeerOutcome, now: Instant) -> FinishReport {
        let Some(id) = self.current.take() else {
            return FinishReport::default();
        };
        let now_s = self.group.secs(now);
        let mut g = self.group.lock();
        let single = id.set == SetKind::Primary && g.primary.single;
        let p = g.peer_mut(id);
        p.conns = p.conns.saturating_sub(1);
        if let Some(t0) = self.last_now.filter(|t0| now > *t0) {
            p.latency.record(now - t0);
        }
        if single {
            self.tries = 0;
            return FinishReport::default();
        }
        let mut report = FinishReport::default();
        match outcome {
            PeerOutcome::Failed => {
                p.fails += 1;
                p.total_fails += 1;
                p.accessed = now_s;
                p.checked = now_s;
                if p.max_fails > 0 {
                    p.effective_weight -= p.weight / i64::from(p.max_fails);
                    if p.fails >= p.max_fails {
                        report.temporarily_disabled = true;
                        p.disabled_since.get_or_insert(now_s);
                    }
                }
                p.effective_weight = p.effective_weight.max(0);
            }
            PeerOutcome::Ok => {
                if p.accessed < p.checked {
                    p.fails = 0;
                    if let Some(since) = p.disabled_since.take() {
                        p.downtime_secs += now_s - since;
                    }
                }
            }
        }
        drop(g);
        self.tries = self.tries.saturating_sub(1);
        report
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        // nginx's finalize_request frees a still-held peer with state 0; the time of the
        // selection stands in for "now" (it only feeds the downtime statistic then).
        if let (Some(_), Some(now)) = (self.current, self.last_now) {
            self.finish(PeerOutcome::Ok, now);
        }
    }
}
