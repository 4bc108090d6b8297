//! `hash KEY` (Cache::Memcached-compatible) and `hash KEY consistent` (ketama, 160 points per
//! weight unit), nginx's `ngx_http_upstream_hash_module` [S m/hash.c:162-619].

use std::sync::OnceLock;

use super::ip_hash::weight_walk;
use super::peer::{PeerId, PeerSet};
use super::round_robin::rr_get;
use super::upstream::{Balancer, GroupState, RequestInput, RequestState};

/// CRC-32 (IEEE 802.3, as zlib's `crc32` and nginx's `ngx_crc32_long`) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0xffff_ffff, data) ^ 0xffff_ffff
}

/// Continues a CRC-32 from the raw (un-finalised) state `crc` (nginx's `ngx_crc32_update`).
fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// Plain `hash KEY`: per attempt `acc += (crc32([rehash] key) >> 16) & 0x7fff`, then
/// `acc % total_weight` walks the weights; 20 ineligible picks → round robin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hash;

impl Balancer for Hash {
    fn init_request(&self, req: &mut RequestState, input: &RequestInput<'_>) {
        req.key = input.hash_key.to_vec();
    }

    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
        let kind = req.current_set();
        let set = g.set_mut(kind);
        if req.hash_tries > 20 || set.single || req.key.is_empty() {
            return rr_get(g, req, now);
        }
        loop {
            let mut c = 0xffff_ffff;
            if req.rehash > 0 {
                c = crc32_update(c, req.rehash.to_string().as_bytes());
            }
            c = crc32_update(c, &req.key) ^ 0xffff_ffff;
            // nginx keeps the accumulator in a uint32_t
            req.hash = u64::from((req.hash as u32).wrapping_add((c >> 16) & 0x7fff));
            req.rehash += 1;
            let p = weight_walk(set, (req.hash % set.total_weight as u64) as i64);
            if !req.tried.contains(p) && set.peers[p].usable(now) {
                set.peers[p].touch_checked(now);
                req.tried.insert(p);
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

/// `hash KEY consistent`: a ring of `160 × weight` points per primary peer, each
/// `crc32(host "\0" port LE32(prev_point))`, sorted, duplicates dropped; the first point ≥
/// `crc32(key)` names a server; its eligible peers are chosen among by smooth WRR.
#[derive(Debug, Clone)]
pub struct ConsistentHash {
    /// Sorted, deduplicated `(hash, server index)`; servers indexes into `servers`.
    points: Vec<(u32, u32)>,
    /// Distinct server texts (`server` line addresses), config order.
    servers: Vec<std::sync::Arc<str>>,
}

impl ConsistentHash {
    /// Builds the ring from the primary set, as nginx's `ngx_http_upstream_init_chash`.
    pub fn new(primary: &PeerSet) -> ConsistentHash {
        let mut servers: Vec<std::sync::Arc<str>> = Vec::new();
        let mut points = Vec::new();
        for peer in &primary.peers {
            let sidx = match servers.iter().position(|s| **s == *peer.server) {
                Some(i) => i,
                None => {
                    servers.push(peer.server.clone());
                    servers.len() - 1
                }
            };
            let (host, port) = split_host_port(&peer.server);
            let mut base = crc32_update(0xffff_ffff, host);
            base = crc32_update(base, &[0]);
            base = crc32_update(base, port);
            let mut prev: u32 = 0;
            for _ in 0..peer.weight * 160 {
                let h = crc32_update(base, &prev.to_le_bytes()) ^ 0xffff_ffff;
                points.push((h, sidx as u32));
                prev = h;
            }
        }
        // nginx's qsort is not stable: for equal hashes the kept server is unspecified; a
        // stable sort keeps config order (collisions are ~1e-5 likely per ring).
        points.sort_by_key(|&(h, _)| h);
        points.dedup_by_key(|&mut (h, _)| h);
        ConsistentHash { points, servers }
    }

    /// Number of distinct points on the ring.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True for an empty ring (never, for a valid upstream).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Index of the first point ≥ `hash` (may equal `len()`, which wraps to 0).
    fn find(&self, hash: u32) -> usize {
        self.points.partition_point(|&(h, _)| h < hash)
    }
}

/// nginx's split of a `server` text: `unix:PATH` → (PATH, ""); `host:digits` → split at the
/// last `:`; otherwise (host, "").
fn split_host_port(server: &str) -> (&[u8], &[u8]) {
    let b = server.as_bytes();
    if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"unix:") {
        return (&b[5..], b"");
    }
    for j in 0..b.len() {
        let c = b[b.len() - j - 1];
        if c == b':' {
            return (&b[..b.len() - j - 1], &b[b.len() - j..]);
        }
        if !c.is_ascii_digit() {
            break;
        }
    }
    (b, b"")
}

impl Balancer for ConsistentHash {
    fn init_request(&self, req: &mut RequestState, input: &RequestInput<'_>) {
        req.key = input.hash_key.to_vec();
        req.hash = self.find(crc32(input.hash_key)) as u64;
    }

    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId> {
        let kind = req.current_set();
        let set = g.set_mut(kind);
        if req.hash_tries > 20 || set.single || req.key.is_empty() || self.points.is_empty() {
            return rr_get(g, req, now);
        }
        loop {
            let sidx = self.points[(req.hash % self.points.len() as u64) as usize].1;
            let server = &self.servers[sidx as usize];
            let found =
                super::round_robin::smooth_wrr(set, &req.tried, now, |_, p| *p.server == **server);
            if let Some(i) = found {
                req.tried.insert(i);
                return Some(PeerId {
                    set: kind,
                    index: i,
                });
            }
            req.hash += 1;
            req.hash_tries += 1;
            if req.hash_tries > 20 {
                return rr_get(g, req, now);
            }
        }
    }
}

#[cfg(test)]
impl ConsistentHash {
    /// The server owning the first point ≥ `hash` (test helper).
    pub(crate) fn successor_server(&self, hash: u32) -> std::sync::Arc<str> {
        let i = self.find(hash) % self.points.len();
        self.servers[self.points[i].1 as usize].clone()
    }
}
