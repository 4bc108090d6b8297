//! A keys zone: the in-memory index of one `proxy_cache_path` (nginx's shared-memory rbtree,
//! here a map behind a mutex shared by all workers): per key its use count, whether a file
//! exists, whether a request is updating it (`proxy_cache_lock`, expired entries), when it
//! was last used (`inactive`) and its size on disk (`max_size`). The loader fills it from the
//! directory a minute after start, in batches (`loader_*`), as nginx's cache loader process;
//! until it is done the zone is "cold" and a key the index does not know is looked for on
//! disk, so entries survive restarts. A reload keeps the zone. The manager evicts in batches
//! (`manager_*`) for `inactive`, `max_size`, `min_free` and a full keys zone (down to 7/8 of
//! the keys it held when it filled, nginx's watermark).

use super::key::{Key, parse_hex, path_of};
use crate::conf::cache::CachePath;
use crate::http::status::Status;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The most keys a keys zone of `size` bytes named `name` holds in nginx 1.22 (x86-64, 4 KiB
/// pages), from its slab allocator's layout: the pool header, slot and statistics tables
/// (704 bytes), a 24-byte descriptor per page, the pages from the next page boundary; the
/// zone's header (120 bytes) and every node (`ngx_http_file_cache_node_t`, 120 bytes) take
/// 128-byte slots, 32 to a page; the zone's name for log lines (`" in cache keys zone
/// \"NAME\""`) takes a slot of the next power of two, a page of its own unless that is 128.
/// 1m: 8,095 keys ("about 8 thousand keys" in nginx's documentation).
pub fn capacity_of(size: u64, name: &str) -> usize {
    const PAGE: u64 = 4096;
    const HEADER: u64 = 200 + 9 * 24 + 9 * 32;
    let Some(rest) = size.checked_sub(HEADER) else {
        return 1;
    };
    let mut pages = rest / (PAGE + 24);
    let start = (HEADER + pages * 24).div_ceil(PAGE) * PAGE;
    pages = pages.min(size.saturating_sub(start) / PAGE);
    let name_slot = (23 + name.len() as u64).next_power_of_two().max(8);
    let slots = if name_slot == 128 {
        (pages * 32).saturating_sub(2)
    } else {
        (pages.saturating_sub(1) * 32).saturating_sub(1)
    };
    slots.max(1) as usize
}

/// One key's state.
#[derive(Debug, Clone)]
pub struct Node {
    /// Lookups so far (`proxy_cache_min_uses`).
    pub uses: u32,
    /// A complete file exists.
    pub exists: bool,
    /// A request is fetching a new response for this key.
    pub updating: bool,
    /// The update lock lasts until then (`proxy_cache_lock_age`).
    pub lock_until: Instant,
    /// Removed when unused until then (`inactive`).
    pub expire: Instant,
    /// Size of the file.
    pub fs_size: u64,
    /// A cached 502/504 (nginx's `fcn->error`: kept in the index only, no file) and until when
    /// (seconds since the epoch).
    pub error: Option<(Status, i64)>,
}

impl Node {
    /// A node for a key seen now, kept until `inactive` passes unused.
    fn fresh(now: Instant, inactive: Duration, uses: u32, exists: bool, fs_size: u64) -> Node {
        Node {
            uses,
            exists,
            updating: false,
            lock_until: now,
            expire: now + inactive,
            fs_size,
            error: None,
        }
    }
}

/// The index of one cache path.
#[derive(Debug)]
pub struct Zone {
    /// The configuration it was built from.
    pub path: Arc<CachePath>,
    nodes: Mutex<HashMap<[u8; 16], Node>>,
    /// Counters (hits, misses, … and evictions).
    pub stats: super::Stats,
    /// The loader has not finished: unknown keys are looked for on disk.
    cold: AtomicBool,
    /// The keys the manager brings a full zone down to (`usize::MAX` until it fills).
    watermark: AtomicUsize,
}

/// A batch of the loader or the manager: files left and the time it may take.
struct Budget {
    left: u64,
    until: Instant,
}

impl Budget {
    fn new(b: crate::conf::cache::Batches) -> Budget {
        Budget {
            left: b.files,
            until: Instant::now() + b.threshold,
        }
    }

    /// Counts one file; true when the batch is over.
    fn spent(&mut self) -> bool {
        self.left = self.left.saturating_sub(1);
        self.left == 0 || Instant::now() >= self.until
    }
}

/// What a lookup found in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A file should exist: read it.
    File,
    /// No file: go upstream and store the response.
    Miss,
    /// No file, and fewer uses than `min_uses`: go upstream, do not store.
    Scarce,
    /// Another request holds the lock: wait (up to the time given) and look again.
    Locked(Duration),
    /// A cached 502 or 504 still valid: answered as it is (HIT).
    Error(Status),
}

impl Zone {
    /// An empty zone for `path`.
    pub fn new(path: Arc<CachePath>) -> Zone {
        Zone {
            path,
            nodes: Mutex::new(HashMap::new()),
            stats: super::Stats::default(),
            cold: AtomicBool::new(true),
            watermark: AtomicUsize::new(usize::MAX),
        }
    }

    /// Whether the loader has not finished yet.
    pub fn cold(&self) -> bool {
        self.cold.load(Ordering::Relaxed)
    }

    fn nodes(&self) -> MutexGuard<'_, HashMap<[u8; 16], Node>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most keys the zone holds ([`capacity_of`]).
    pub fn capacity(&self) -> usize {
        capacity_of(self.path.zone_size, &self.path.name)
    }

    /// The file of `key`.
    pub fn file(&self, key: &Key) -> PathBuf {
        key.path(&self.path.dir, &self.path.levels)
    }

    /// nginx's `ngx_http_file_cache_exists` and `_lock`: counts the use, says whether to read
    /// the file, go upstream (taking the update lock when `lock` is set) or wait.
    pub fn find(&self, key: &Key, min_uses: u32, lock: Option<Duration>) -> Found {
        let now = Instant::now();
        let inactive = self.path.inactive;
        let mut nodes = self.nodes();
        if !nodes.contains_key(&key.md5) && nodes.len() >= self.capacity() {
            // nginx: the slab is full; the manager will bring the zone down to 7/8
            let n = nodes.len();
            self.watermark.store(n - n / 8, Ordering::Relaxed);
            drop(nodes);
            self.evict_oldest(1);
            nodes = self.nodes();
        }
        let on_disk = if self.cold() && nodes.get(&key.md5).is_none_or(|n| !n.exists) {
            std::fs::metadata(self.file(key)).ok().map(|m| m.len())
        } else {
            None
        };
        let node = nodes
            .entry(key.md5)
            .or_insert_with(|| Node::fresh(now, inactive, 0, false, 0));
        node.uses = node.uses.saturating_add(1);
        node.expire = now + inactive;
        if let Some((code, until)) = node.error {
            if until >= super::unix_now() {
                return Found::Error(code);
            }
            // nginx's renew: the node starts again without a file
            node.error = None;
            node.exists = false;
            node.fs_size = 0;
        }
        if let Some(size) = on_disk.filter(|_| !node.exists) {
            node.exists = true;
            node.fs_size = size;
        }
        if node.exists {
            return Found::File;
        }
        if node.uses < min_uses {
            return Found::Scarce;
        }
        let Some(age) = lock else {
            return Found::Miss;
        };
        if !node.updating || node.lock_until <= now {
            node.updating = true;
            node.lock_until = now + age;
            return Found::Miss;
        }
        Found::Locked(node.lock_until - now)
    }

    /// Marks `key` as being updated unless another request does it already (an expired
    /// entry): true when this request got it.
    pub fn start_update(&self, key: &Key) -> bool {
        let mut nodes = self.nodes();
        match nodes.get_mut(&key.md5) {
            Some(n) if n.updating => false,
            Some(n) => {
                n.updating = true;
                n.lock_until = Instant::now() + Duration::from_secs(5);
                true
            }
            None => false,
        }
    }

    /// Ends an update: `stored` is the size of the new file when one was written (a bypassed
    /// request stores without a node: it gets one, as nginx's `ngx_http_file_cache_create`).
    pub fn end_update(&self, key: &Key, stored: Option<u64>) {
        let mut nodes = self.nodes();
        if stored.is_some() && !nodes.contains_key(&key.md5) {
            let node = Node::fresh(Instant::now(), self.path.inactive, 1, false, 0);
            nodes.insert(key.md5, node);
        }
        if let Some(n) = nodes.get_mut(&key.md5) {
            n.updating = false;
            if let Some(size) = stored {
                n.exists = true;
                n.fs_size = size;
            }
        }
    }

    /// nginx's `ngx_http_file_cache_free` with `c->error`: the request ended with `code` (502,
    /// 504) and `proxy_cache_valid` keeps that answer until `until` (seconds since the epoch).
    pub fn set_error(&self, key: &Key, code: Status, until: i64) {
        let mut nodes = self.nodes();
        let now = Instant::now();
        let node = nodes
            .entry(key.md5)
            .or_insert_with(|| Node::fresh(now, self.path.inactive, 1, false, 0));
        node.error = Some((code, until));
        node.updating = false;
    }

    /// A file turned out missing or unusable: the key has no file any more.
    pub fn forget_file(&self, key: &Key) {
        if let Some(n) = self.nodes().get_mut(&key.md5) {
            n.exists = false;
            n.fs_size = 0;
        }
    }

    /// Whether a request holds the update lock of `key`.
    pub fn updating(&self, key: &Key) -> bool {
        self.nodes().get(&key.md5).is_some_and(|n| n.updating)
    }

    /// Number of keys and bytes on disk.
    pub fn usage(&self) -> (usize, u64) {
        let nodes = self.nodes();
        (nodes.len(), nodes.values().map(|n| n.fs_size).sum())
    }

    /// The loader: indexes every file of the directory tree (names of 32 hex digits at the
    /// depth `levels` gives) in batches of `loader_files` files or `loader_threshold`, with a
    /// pause of `loader_sleep` between them; then the zone is no longer cold.
    pub fn load(&self) {
        let b = self.path.loader;
        let mut budget = Budget::new(b);
        let mut stack = vec![(self.path.dir.clone(), 0usize)];
        let depth = self.path.levels.len();
        for _ in 0..10_000_000 {
            let Some((dir, level)) = stack.pop() else {
                break;
            };
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                let name = e.file_name().to_string_lossy().into_owned();
                if ft.is_dir() && level < depth {
                    stack.push((e.path(), level + 1));
                } else if ft.is_file()
                    && level == depth
                    && let Some(md5) = parse_hex(&name)
                {
                    let size = e.metadata().map_or(0, |m| m.len());
                    let now = Instant::now();
                    self.nodes()
                        .entry(md5)
                        .or_insert_with(|| Node::fresh(now, self.path.inactive, 1, true, size));
                    if budget.spent() {
                        std::thread::sleep(b.sleep);
                        budget = Budget::new(b);
                    }
                }
            }
        }
        self.cold.store(false, Ordering::Relaxed);
    }

    /// One pass of the cache manager (nginx's `ngx_http_file_cache_manager`): removes entries
    /// unused for `inactive`, then the least recently used ones while the files take more than
    /// `max_size`, the zone holds more keys than its watermark, or the file system has less
    /// than `min_free` free; at most `manager_files` files or `manager_threshold` per pass.
    /// Returns when to run again: `manager_sleep` after a full batch, else when the next entry
    /// becomes inactive (at most 10 s).
    pub fn manage(&self) -> Duration {
        let m = self.path.manager;
        let mut budget = Budget::new(m);
        let now = Instant::now();
        let mut lru: Vec<([u8; 16], Instant)> = {
            let nodes = self.nodes();
            let mut v: Vec<_> = nodes
                .iter()
                .filter(|(_, n)| !n.updating)
                .map(|(k, n)| (*k, n.expire))
                .collect();
            v.sort_by_key(|(_, e)| *e);
            v
        };
        let inactive = lru.iter().take_while(|(_, e)| *e <= now).count();
        for (k, _) in lru.drain(..inactive) {
            self.remove(&[k]);
            if budget.spent() {
                return m.sleep;
            }
        }
        let next = lru
            .first()
            .map_or(Duration::from_secs(10), |(_, e)| *e - now)
            .min(Duration::from_secs(10));
        for (k, _) in lru {
            if !self.over_limits() {
                return next;
            }
            self.remove(&[k]);
            if budget.spent() {
                return m.sleep;
            }
        }
        next
    }

    /// Whether the manager must evict: `max_size`, the watermark, `min_free`.
    fn over_limits(&self) -> bool {
        let (keys, size) = self.usage();
        let max = self.path.max_size;
        (max > 0 && size > max)
            || keys >= self.watermark.load(Ordering::Relaxed)
            || (self.path.min_free > 0
                && super::free_space(&self.path.dir).is_some_and(|f| f < self.path.min_free))
    }

    /// Removes the `n` least recently used entries that nobody updates.
    fn evict_oldest(&self, n: usize) -> usize {
        let victims: Vec<[u8; 16]> = {
            let nodes = self.nodes();
            let mut v: Vec<(&[u8; 16], &Node)> =
                nodes.iter().filter(|(_, n)| !n.updating).collect();
            v.sort_by_key(|(_, n)| n.expire);
            v.iter().take(n).map(|(k, _)| **k).collect()
        };
        self.remove(&victims)
    }

    fn remove(&self, keys: &[[u8; 16]]) -> usize {
        let mut removed = 0;
        for md5 in keys {
            let had_file = self.nodes().remove(md5).is_some_and(|n| n.exists);
            if had_file {
                let name = super::key::hex(md5);
                let _ = std::fs::remove_file(path_of(&name, &self.path.dir, &self.path.levels));
                removed += 1;
                self.stats
                    .evicted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        removed
    }
}
