//! `ip_hash`: the client's IPv4 /24 (or whole IPv6 address) picks the peer, nginx's
//! `ngx_http_upstream_get_ip_hash_peer` [S m/ip_hash.c:96-253].

use std::net::IpAddr;

use super::peer::PeerId;
use super::round_robin::rr_get;
use super::upstream::{Balancer, GroupState, RequestInput, RequestState};

/// `ip_hash`: `h = 89; h = (h*113 + byte) % 6271` over the key bytes, `h % total_weight`
/// walks the weights; an ineligible pick rehashes from the current `h`, up to 20 times, then
/// round robin.
#[derive(Debug, Clone, Copy, Default)]
pub struct IpHash;

impl IpHash {
    /// The bytes nginx hashes for a client: 3 first octets of IPv4, 16 of IPv6, 3 zero bytes
    /// for a unix-socket client (`None`).
    pub fn key_bytes(ip: Option<IpAddr>) -> Vec<u8> {
        match ip {
            Some(IpAddr::V4(v4)) => v4.octets()[..3].to_vec(),
            Some(IpAddr::V6(v6)) => v6.octets().to_vec(),
            None => vec![0; 3],
        }
    }
}

/// Walks the weights: the index of the peer whose weight range holds `w`.
pub(crate) fn weight_walk(set: &super::PeerSet, mut w: i64) -> usize {
    let mut p = 0;
    while p + 1 < set.peers.len() && w >= set.peers[p].weight {
        w -= set.peers[p].weight;
        p += 1;
    }
    p
}

impl Balancer for IpHash {
    fn init_request(&self, req: &mut RequestState, input: &RequestInput<'_>) {
        req.key = IpHash::key_bytes(input.client_ip);
        req.hash = 89;
        req.hash_tries = 0;
    }

    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
        let kind = req.current_set();
        let set = g.set_mut(kind);
        if req.hash_tries > 20 || set.single {
            return rr_get(g, req, now);
        }
        let mut hash = req.hash;
        loop {
            for &b in &req.key {
                hash = (hash * 113 + u64::from(b)) % 6271;
            }
            let p = weight_walk(set, (hash % set.total_weight as u64) as i64);
            if !req.tried.contains(p) && set.peers[p].usable(now) {
                set.peers[p].touch_checked(now);
                req.tried.insert(p);
                req.hash = hash;
                return Some(PeerId {
                    set: kind,
                    index: p,
                });
            }
            req.hash_tries += 1;
            if req.hash_tries > 20 {
                return rr_get(g, req, now);
            }
        }
    }
}
