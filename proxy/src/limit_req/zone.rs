//! A `limit_req_zone`: per-key states (excess, last), LRU order, nginx's lookup and expiry,
//! memory accounted with the slab model so it holds as many keys as nginx's zone.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use super::config::Rate;
use super::slab::{Slab, SlabRef};

/// Offset added to caller times so that "last = 0" (nginx's value for a node created by a
/// non-final limit) lies ~50 days in the past, as it does with nginx's boot-relative clock.
pub(crate) const CLOCK_OFFSET_MS: u64 = 1 << 32;
/// `offsetof(ngx_rbtree_node_t, color) + offsetof(ngx_http_limit_req_node_t, data)` on 64-bit.
pub const NODE_OVERHEAD: u64 = 32 + 48;
/// `sizeof(ngx_http_limit_req_shctx_t)` on 64-bit: rbtree, sentinel, LRU queue head.
const SHCTX_SIZE: u64 = 80;
const NIL: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct Node {
    key: Box<[u8]>,
    /// Milli-requests (≥ 0).
    pub(crate) excess: i64,
    /// ms (offset clock).
    pub(crate) last: u64,
    /// Pins by in-flight multi-limit lookups (not evictable while > 0).
    pub(crate) count: u32,
    prev: u32,
    next: u32,
    mem: SlabRef,
}

/// Counters of decisions attributed to a zone (see [`super::check`] for the attribution).
#[derive(Debug, Default)]
pub struct ZoneStats {
    /// Requests that passed without delay.
    pub passed: AtomicU64,
    /// Requests delayed.
    pub delayed: AtomicU64,
    /// Requests rejected (including "zone full").
    pub rejected: AtomicU64,
    /// Would-be delays under `limit_req_dry_run on`.
    pub delayed_dry_run: AtomicU64,
    /// Would-be rejections under `limit_req_dry_run on`.
    pub rejected_dry_run: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct ZoneState {
    map: HashMap<Box<[u8]>, u32>,
    pub(crate) nodes: Vec<Option<Node>>,
    free_ids: Vec<u32>,
    /// LRU list: head = most recently used.
    head: u32,
    tail: u32,
    slab: Slab,
}

/// One shared-memory zone of `limit_req_zone`. Share it via `Arc` between the locations that
/// use it; keep it across reloads when name, size and key are unchanged (nginx keeps state).
#[derive(Debug)]
pub struct Zone {
    name: String,
    rate: Rate,
    size: u64,
    state: Mutex<ZoneState>,
    /// Decision counters for metrics.
    pub stats: ZoneStats,
}

/// What a lookup found (nginx's `NGX_OK` / `NGX_AGAIN` / `NGX_BUSY` / `NGX_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Accounted (final limit): excess stored.
    Ok,
    /// Not final: node pinned, nothing stored yet.
    Again(u32),
    /// Over the burst: nothing stored.
    Busy,
    /// No memory for a new key even after eviction.
    Error,
}

impl Zone {
    /// A zone of `size` bytes (nginx requires ≥ 32 KiB) with `rate`.
    pub fn new(name: impl Into<String>, size: u64, rate: Rate) -> Zone {
        let name = name.into();
        let mut slab = Slab::new(size);
        // the zone's own allocations at init: shared context and the log-context string
        let _ = slab.alloc(SHCTX_SIZE);
        let _ = slab.alloc(22 + name.len() as u64);
        let state = ZoneState {
            map: HashMap::new(),
            nodes: Vec::new(),
            free_ids: Vec::new(),
            head: NIL,
            tail: NIL,
            slab,
        };
        Zone {
            name,
            rate,
            size,
            state: Mutex::new(state),
            stats: ZoneStats::default(),
        }
    }

    /// Zone name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rate in milli-requests per second.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Configured size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of keys currently held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes nginx allocates for one key of `key_len` bytes before slab rounding.
    pub fn node_size(key_len: usize) -> u64 {
        NODE_OVERHEAD + key_len as u64
    }

    /// The stored excess (milli-requests) of `key`, if held (for tests and debugging).
    pub fn excess_of(&self, key: &[u8]) -> Option<i64> {
        let g = self.lock();
        let id = *g.map.get(key)?;
        g.nodes[id as usize].as_ref().map(|n| n.excess)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ZoneState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `excess' = max(0, excess − rate·ms/1000 + 1000)` with nginx's clamps of `ms`.
    pub(crate) fn leak(&self, excess: i64, last: u64, now: u64) -> (i64, i64) {
        let mut ms = now as i64 - last as i64;
        if ms < -60000 {
            ms = 1;
        } else if ms < 0 {
            ms = 0;
        }
        let drained = (self.rate.0 as i64).saturating_mul(ms) / 1000;
        ((excess - drained).saturating_add(1000).max(0), ms)
    }

    /// nginx's `ngx_http_limit_req_lookup`. `now` is on the offset clock; `burst` in
    /// milli-requests; `excess_out` receives the computed excess.
    pub(crate) fn lookup(
        &self,
        g: &mut ZoneState,
        key: &[u8],
        burst: i64,
        account: bool,
        now: u64,
        excess_out: &mut i64,
    ) -> Lookup {
        if let Some(&id) = g.map.get(key) {
            g.touch(id);
            let node = g.nodes[id as usize].as_mut().expect("mapped node");
            let (excess, ms) = self.leak(node.excess, node.last, now);
            *excess_out = excess;
            if excess > burst {
                return Lookup::Busy;
            }
            if account {
                node.excess = excess;
                if ms != 0 {
                    node.last = now;
                }
                return Lookup::Ok;
            }
            node.count += 1;
            return Lookup::Again(id);
        }
        *excess_out = 0;
        let size = Zone::node_size(key.len());
        self.expire(g, 1, now);
        let mem = match g.slab.alloc(size) {
            Some(m) => m,
            None => {
                self.expire(g, 0, now);
                match g.slab.alloc(size) {
                    Some(m) => m,
                    None => return Lookup::Error,
                }
            }
        };
        let (last, count) = if account { (now, 0) } else { (0, 1) };
        let node = Node {
            key: key.into(),
            excess: 0,
            last,
            count,
            prev: NIL,
            next: NIL,
            mem,
        };
        let id = match g.free_ids.pop() {
            Some(id) => {
                g.nodes[id as usize] = Some(node);
                id
            }
            None => {
                g.nodes.push(Some(node));
                (g.nodes.len() - 1) as u32
            }
        };
        g.map.insert(key.into(), id);
        g.push_head(id);
        if account {
            Lookup::Ok
        } else {
            Lookup::Again(id)
        }
    }

    /// nginx's `ngx_http_limit_req_expire(ctx, n)`: from the LRU tail, `n == 0` first evicts
    /// one node by force, then (both modes) up to two nodes idle ≥ 60 s and fully drained;
    /// stops at the first pinned or still-live node.
    fn expire(&self, g: &mut ZoneState, mut n: u32, now: u64) {
        while n < 3 {
            let id = g.tail;
            if id == NIL {
                return;
            }
            let node = g.nodes[id as usize].as_ref().expect("tail node");
            if node.count > 0 {
                return;
            }
            let forced = n == 0;
            n += 1;
            if !forced {
                let ms = (now as i64 - node.last as i64).abs();
                if ms < 60000 {
                    return;
                }
                let drained = (self.rate.0 as i64).saturating_mul(ms) / 1000;
                if node.excess - drained > 0 {
                    return;
                }
            }
            g.remove(id);
        }
    }
}

impl ZoneState {
    fn unlink(&mut self, id: u32) {
        let (prev, next) = {
            let n = self.nodes[id as usize].as_ref().expect("node");
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.nodes[p as usize].as_mut().expect("prev").next = next,
        }
        match next {
            NIL => self.tail = prev,
            x => self.nodes[x as usize].as_mut().expect("next").prev = prev,
        }
    }

    fn push_head(&mut self, id: u32) {
        let old = self.head;
        {
            let n = self.nodes[id as usize].as_mut().expect("node");
            n.prev = NIL;
            n.next = old;
        }
        if old != NIL {
            self.nodes[old as usize].as_mut().expect("head").prev = id;
        } else {
            self.tail = id;
        }
        self.head = id;
    }

    /// Moves a node to the LRU head (nginx bumps on every lookup hit).
    fn touch(&mut self, id: u32) {
        if self.head != id {
            self.unlink(id);
            self.push_head(id);
        }
    }

    fn remove(&mut self, id: u32) {
        self.unlink(id);
        if let Some(node) = self.nodes[id as usize].take() {
            self.map.remove(&node.key);
            self.slab.free(node.mem);
            self.free_ids.push(id);
        }
    }

    pub(crate) fn node_mut(&mut self, id: u32) -> &mut Node {
        self.nodes[id as usize].as_mut().expect("pinned node")
    }
}
