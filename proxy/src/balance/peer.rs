//! Per-peer mutable state (nginx's `ngx_http_upstream_rr_peer_t`), peer sets and the tried bitmap.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a peer listens: a resolved socket address or a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// TCP address.
    Inet(SocketAddr),
    /// `unix:/path` socket.
    Unix(PathBuf),
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(a) => write!(f, "{a}"),
            PeerAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Which of the group's two peer sets a peer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// Servers without `backup`.
    Primary,
    /// `backup` servers: used only when no primary is eligible for the request.
    Backup,
}

/// Identifies one peer of a group: its set and its index in that set (config order, a
/// server resolving to several addresses gives several consecutive peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId {
    /// The set the peer is in.
    pub set: SetKind,
    /// Index in that set, 0-based, config order.
    pub index: usize,
}

/// Mutable state of one peer, guarded by the group's mutex. Times are whole seconds on the
/// group's virtual clock (see [`super::Upstream`]), as nginx's `ngx_time()`.
#[derive(Debug, Clone)]
pub struct Peer {
    pub(crate) name: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) addr: PeerAddr,
    pub(crate) weight: i64,
    pub(crate) effective_weight: i64,
    pub(crate) current_weight: i64,
    pub(crate) max_fails: u32,
    pub(crate) fail_timeout: i64,
    pub(crate) max_conns: u32,
    pub(crate) down: bool,
    /// Set by an active health check (nginx Plus semantics): skipped like `down`.
    pub(crate) unhealthy: bool,
    pub(crate) conns: u32,
    pub(crate) fails: u32,
    pub(crate) accessed: i64,
    pub(crate) checked: i64,
    // statistics (not part of nginx's algorithm)
    pub(crate) requests: u64,
    pub(crate) total_fails: u64,
    pub(crate) disabled_since: Option<i64>,
    pub(crate) downtime_secs: i64,
    pub(crate) latency: super::LatencyHist,
}

impl Peer {
    /// nginx's per-balancer eligibility test, minus the tried bitmap [S round_robin.c:546-563].
    pub(crate) fn usable(&self, now: i64) -> bool {
        !(self.down || self.unhealthy || self.is_failed(now) || self.is_full())
    }

    /// `max_conns && conns >= max_conns`.
    pub(crate) fn is_full(&self) -> bool {
        self.max_conns > 0 && self.conns >= self.max_conns
    }

    /// `max_fails && fails >= max_fails && now - checked <= fail_timeout`.
    pub(crate) fn is_failed(&self, now: i64) -> bool {
        self.max_fails > 0
            && self.fails >= self.max_fails
            && now - self.checked <= self.fail_timeout
    }

    /// After selection: `if now - checked > fail_timeout { checked = now }` (starts a probe).
    pub(crate) fn touch_checked(&mut self, now: i64) {
        if now - self.checked > self.fail_timeout {
            self.checked = now;
        }
    }

    /// Smooth-WRR bookkeeping for one candidate: `cw += ew; ew += 1 if below weight`.
    /// Returns the effective weight added to the round's total.
    pub(crate) fn wrr_step(&mut self) -> i64 {
        let ew = self.effective_weight;
        self.current_weight += ew;
        if self.effective_weight < self.weight {
            self.effective_weight += 1;
        }
        ew
    }
}

/// One set of peers (primary or backup), nginx's `ngx_http_upstream_rr_peers_t`.
#[derive(Debug, Clone)]
pub struct PeerSet {
    pub(crate) peers: Vec<Peer>,
    /// Exactly one primary peer and no backup set: nginx's special path (no failure accounting).
    pub(crate) single: bool,
    /// Sum of configured weights (including `down` peers).
    pub(crate) total_weight: i64,
    /// Number of non-`down` peers.
    pub(crate) tries: u32,
}

impl PeerSet {
    pub(crate) fn new(peers: Vec<Peer>) -> PeerSet {
        let total_weight = peers.iter().map(|p| p.weight).sum();
        let tries = peers.iter().filter(|p| !p.down).count() as u32;
        PeerSet {
            peers,
            single: false,
            total_weight,
            tries,
        }
    }

    /// Number of peers in the set.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when the set has no peers.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

/// The peers of one request's tries so far (nginx's `rrp->tried`), relative to the set in use.
#[derive(Debug, Clone, Default)]
pub struct Tried {
    small: u128,
    big: Vec<u64>,
}

impl Tried {
    /// Whether peer `i` of the current set was already tried by this request.
    pub fn contains(&self, i: usize) -> bool {
        if i < 128 {
            self.small & (1u128 << i) != 0
        } else {
            let j = i - 128;
            self.big
                .get(j / 64)
                .is_some_and(|w| w & (1u64 << (j % 64)) != 0)
        }
    }

    /// Marks peer `i` tried.
    pub fn insert(&mut self, i: usize) {
        if i < 128 {
            self.small |= 1u128 << i;
        } else {
            let j = i - 128;
            if self.big.len() <= j / 64 {
                self.big.resize(j / 64 + 1, 0);
            }
            self.big[j / 64] |= 1u64 << (j % 64);
        }
    }

    /// Forgets all tries (nginx does this when a request switches to the backup set).
    pub fn clear(&mut self) {
        self.small = 0;
        self.big.clear();
    }
}
