//! `random [two [least_conn]]`, nginx's `ngx_http_upstream_random_module` [S m/random.c:203-429].

use super::peer::{PeerId, PeerSet, SetKind};
use super::round_robin::rr_get;
use super::upstream::{Balancer, GroupState, RequestState};

/// `random`: a peer drawn with probability proportional to its weight; `two`: the less loaded
/// (`conns/weight`) of two different eligible draws, ties to the second draw. 20 ineligible
/// draws → round robin.
#[derive(Debug, Clone)]
pub struct Random {
    /// Start of each primary peer's range in `[0, total_weight)`.
    ranges: Vec<i64>,
    two: bool,
}

impl Random {
    /// Builds the cumulative weight ranges of the primary set.
    pub fn new(primary: &PeerSet, two: bool) -> Random {
        let mut acc = 0;
        let ranges = primary
            .peers
            .iter()
            .map(|p| {
                let start = acc;
                acc += p.weight;
                start
            })
            .collect();
        Random { ranges, two }
    }

    /// Binary search of `x` in the ranges (nginx's `peek_random_peer`).
    fn peek(&self, x: i64) -> usize {
        let (mut i, mut j) = (0usize, self.ranges.len());
        while j - i > 1 {
            let k = (i + j) / 2;
            if x < self.ranges[k] { j = k } else { i = k }
        }
        i
    }
}

impl Balancer for Random {
    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
        // random declares no backup support; a backup declared before `random` is only
        // reached through the round-robin fallback.
        if req.hash_tries > 20 || g.primary.single || req.current_set() == SetKind::Backup {
            return rr_get(g, req, now);
        }
        let mut prev: Option<usize> = None;
        loop {
            let total = g.primary.total_weight;
            let x = (g.random31() % total as u64) as i64;
            let i = self.peek(x);
            let set = &mut g.primary;
            let ok = Some(i) != prev && !req.tried.contains(i) && set.peers[i].usable(now);
            if ok {
                let pick = match (self.two, prev) {
                    (false, _) => Some(i),
                    (true, Some(pi)) => {
                        let (p, q) = (&set.peers[i], &set.peers[pi]);
                        // keep the second draw unless it is strictly more loaded
                        if i64::from(p.conns) * q.weight > i64::from(q.conns) * p.weight {
                            Some(pi)
                        } else {
                            Some(i)
                        }
                    }
                    (true, None) => {
                        prev = Some(i);
                        None
                    }
                };
                if let Some(c) = pick {
                    set.peers[c].touch_checked(now);
                    req.tried.insert(c);
                    return Some(PeerId {
                        set: SetKind::Primary,
                        index: c,
                    });
                }
            }
            req.hash_tries += 1;
            if req.hash_tries > 20 {
                return rr_get(g, req, now);
            }
        }
    }
}
