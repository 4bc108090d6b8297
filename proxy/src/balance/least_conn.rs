//! `least_conn`: fewest active requests per weight, ties broken by smooth WRR among the tied
//! peers, nginx's `ngx_http_upstream_get_least_conn_peer` [S m/least_conn.c:100-288].

use super::peer::PeerId;
use super::round_robin::{rr_get, switch_to_backup};
use super::upstream::{Balancer, GroupState, RequestState};

/// `least_conn`: minimises `conns / weight` (compared by cross-multiplication).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastConn;

impl Balancer for LeastConn {
    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
        let kind = req.current_set();
        let set = g.set_mut(kind);
        if set.single {
            return rr_get(g, req, now);
        }
        let mut best: Option<usize> = None;
        let mut many = false;
        for (i, p) in set.peers.iter().enumerate() {
            if req.tried.contains(i) || !p.usable(now) {
                continue;
            }
            match best {
                Some(b) => {
                    let bp = &set.peers[b];
                    let (l, r) = (
                        i64::from(p.conns) * bp.weight,
                        i64::from(bp.conns) * p.weight,
                    );
                    if l < r {
                        best = Some(i);
                        many = false;
                    } else if l == r {
                        many = true;
                    }
                }
                None => {
                    best = Some(i);
                    many = false;
                }
            }
        }
        let Some(mut b) = best else {
            return switch_to_backup(g, req).and_then(|_| self.select(g, req, now));
        };
        let mut total = 0;
        if many {
            // WRR over the tied peers, starting at the first tied one; the ratio is compared
            // with the *current* best, as nginx does, which is equal for all tied peers.
            let first = b;
            let (bc, bw) = (i64::from(set.peers[first].conns), set.peers[first].weight);
            for i in first..set.peers.len() {
                let p = &mut set.peers[i];
                if req.tried.contains(i) || !p.usable(now) {
                    continue;
                }
                if i64::from(p.conns) * bw != bc * p.weight {
                    continue;
                }
                total += p.wrr_step();
                let cw = p.current_weight;
                if cw > set.peers[b].current_weight {
                    b = i;
                }
            }
        }
        let p = &mut set.peers[b];
        p.current_weight -= total;
        p.touch_checked(now);
        req.tried.insert(b);
        Some(PeerId {
            set: kind,
            index: b,
        })
    }
}
