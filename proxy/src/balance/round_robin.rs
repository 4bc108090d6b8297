//! Smooth weighted round robin, nginx's `ngx_http_upstream_get_round_robin_peer` [S round_robin.c:431-596].

use super::peer::{PeerId, PeerSet, SetKind, Tried};
use super::upstream::{Balancer, GroupState, RequestState};

/// The default method: smooth weighted round robin (weights 5,1,1 → `a a b a c a a`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobin;

impl Balancer for RoundRobin {
    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
        rr_get(g, req, now)
    }
}

/// Round robin over the request's current set, switching once to the backup set when no
/// primary is eligible. Also the fallback of every other method.
pub(crate) fn rr_get(g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
    let kind = req.current_set();
    let set = g.set_mut(kind);
    let found = if set.single {
        let p = &set.peers[0];
        let full = p.max_conns > 0 && p.conns >= p.max_conns;
        (!p.down && !p.unhealthy && !full).then_some(0)
    } else {
        smooth_wrr(set, &req.tried, now, |_, _| true)
    };
    if let Some(index) = found {
        if !set.single {
            req.tried.insert(index);
        }
        return Some(PeerId { set: kind, index });
    }
    switch_to_backup(g, req).and_then(|_| rr_get(g, req, now))
}

/// Moves the request to the backup set (tried bitmap reset) if it is on the primary set and a
/// backup set exists.
pub(crate) fn switch_to_backup(g: &GroupState, req: &mut RequestState) -> Option<()> {
    if req.current_set() == SetKind::Primary && g.backup.is_some() {
        req.set = Some(SetKind::Backup);
        req.tried.clear();
        Some(())
    } else {
        None
    }
}

/// nginx's `ngx_http_upstream_get_peer`: one smooth-WRR round over the eligible, untried peers
/// accepted by `filter` (index, peer); updates weights and `checked` of the winner. Ties keep
/// the earlier peer (strict `>`). Does not mark the winner tried.
pub(crate) fn smooth_wrr(
    set: &mut PeerSet,
    tried: &Tried,
    now: i64,
    filter: impl Fn(usize, &super::Peer) -> bool,
) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut total = 0;
    for i in 0..set.peers.len() {
        let p = &mut set.peers[i];
        if tried.contains(i) || !p.usable(now) || !filter(i, p) {
            continue;
        }
        total += p.wrr_step();
        let cw = p.current_weight;
        if best.is_none_or(|b| cw > set.peers[b].current_weight) {
            best = Some(i);
        }
    }
    let b = best?;
    let p = &mut set.peers[b];
    p.current_weight -= total;
    p.touch_checked(now);
    Some(b)
}
