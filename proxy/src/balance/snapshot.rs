//! Read-only copies of an upstream's peer state for status pages and metrics.

use std::sync::Arc;

use super::peer::{Peer, PeerId, SetKind};
use super::upstream::GroupState;

/// State of a peer at snapshot time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerStatus {
    /// Eligible.
    Up,
    /// `down` in the config.
    Down,
    /// Taken out by an active health check.
    Unhealthy,
    /// `max_fails` reached within `fail_timeout`: not selected until the down time ends.
    Unavailable,
    /// `max_conns` reached.
    Full,
}

/// One peer's state and counters.
#[derive(Debug, Clone)]
pub struct PeerSnapshot {
    /// Which peer.
    pub id: PeerId,
    /// Address as `$upstream_addr` shows it.
    pub name: Arc<str>,
    /// The `server` text it came from.
    pub server: Arc<str>,
    /// Current state.
    pub status: PeerStatus,
    /// Configured weight.
    pub weight: i64,
    /// nginx's effective weight (lowered by failures, climbs back by 1 per selection).
    pub effective_weight: i64,
    /// Requests in flight to this peer (selected, not yet finished).
    pub active: u32,
    /// Selections since the group was built (tries, not client requests).
    pub requests: u64,
    /// Current failure count (nginx `fails`; cleared by a success after `fail_timeout`).
    pub fails: u32,
    /// Failures since the group was built.
    pub total_fails: u64,
    /// Seconds spent disabled: from reaching `max_fails` until the success that cleared the
    /// count (including the running period).
    pub downtime_secs: u64,
    /// Try durations (selection to finish).
    pub latency: super::LatencyHist,
}

/// All peers of one upstream, primary then backup, config order.
#[derive(Debug, Clone)]
pub struct UpstreamSnapshot {
    /// The group name.
    pub name: String,
    /// Peers.
    pub peers: Vec<PeerSnapshot>,
}

impl UpstreamSnapshot {
    /// One snapshot of the copies of a group each worker keeps (an upstream without `zone`):
    /// counters and in-flight requests summed, downtime the longest, the state the worst
    /// (`Unavailable` when any worker has stopped choosing the peer).
    pub fn merge(mut parts: Vec<UpstreamSnapshot>) -> Option<UpstreamSnapshot> {
        let mut out = parts.pop()?;
        for s in parts {
            for (p, q) in out.peers.iter_mut().zip(&s.peers) {
                p.active += q.active;
                p.requests += q.requests;
                p.fails += q.fails;
                p.total_fails += q.total_fails;
                p.downtime_secs = p.downtime_secs.max(q.downtime_secs);
                p.latency.add(&q.latency);
                p.effective_weight = p.effective_weight.min(q.effective_weight);
                if rank(q.status) > rank(p.status) {
                    p.status = q.status;
                }
            }
        }
        Some(out)
    }

    pub(crate) fn capture(name: &str, g: &GroupState, now: i64) -> UpstreamSnapshot {
        let mut peers = Vec::new();
        for (kind, set) in [
            (SetKind::Primary, Some(&g.primary)),
            (SetKind::Backup, g.backup.as_ref()),
        ] {
            for (index, p) in set.into_iter().flat_map(|s| s.peers.iter().enumerate()) {
                peers.push(peer_snapshot(PeerId { set: kind, index }, p, now));
            }
        }
        UpstreamSnapshot {
            name: name.to_string(),
            peers,
        }
    }
}

/// How bad a state is, for merging workers' views.
fn rank(s: PeerStatus) -> u8 {
    match s {
        PeerStatus::Up => 0,
        PeerStatus::Full => 1,
        PeerStatus::Unavailable => 2,
        PeerStatus::Unhealthy => 3,
        PeerStatus::Down => 4,
    }
}

fn peer_snapshot(id: PeerId, p: &Peer, now: i64) -> PeerSnapshot {
    let status = if p.down {
        PeerStatus::Down
    } else if p.unhealthy {
        PeerStatus::Unhealthy
    } else if p.is_failed(now) {
        PeerStatus::Unavailable
    } else if p.max_conns > 0 && p.conns >= p.max_conns {
        PeerStatus::Full
    } else {
        PeerStatus::Up
    };
    let running = p.disabled_since.map_or(0, |s| (now - s).max(0));
    PeerSnapshot {
        id,
        name: p.name.clone(),
        server: p.server.clone(),
        status,
        weight: p.weight,
        effective_weight: p.effective_weight,
        active: p.conns,
        requests: p.requests,
        fails: p.fails,
        total_fails: p.total_fails,
        downtime_secs: (p.downtime_secs + running) as u64,
        latency: p.latency.clone(),
    }
}
