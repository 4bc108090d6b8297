//! The [`Upstream`] group: peers, method, lock, and the [`Balancer`] trait the methods implement.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::attempt::Attempt;
use super::peer::{Peer, PeerAddr, PeerId, PeerSet, SetKind, Tried};
use super::server::ServerSpec;
use super::snapshot::UpstreamSnapshot;
use super::{ConsistentHash, Hash, IpHash, LeastConn, Random, RoundRobin};

/// Seconds added to the group's clock so that a fresh peer's `checked = 0` lies far in the
/// past, as nginx's `time_t` 0 does (≈ 34 years).
const VIRTUAL_EPOCH_SECS: i64 = 1 << 30;

/// The balancing method of an upstream (one per `upstream {}`; default round robin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// No method directive: smooth weighted round robin.
    RoundRobin,
    /// `least_conn`.
    LeastConn,
    /// `ip_hash`.
    IpHash,
    /// `hash KEY [consistent]`; `key` is the unevaluated template (e.g. `$request_uri`); the
    /// caller evaluates it per request and passes the bytes in [`RequestInput::hash_key`].
    Hash {
        /// The key template as written.
        key: String,
        /// `consistent` (ketama) was given.
        consistent: bool,
    },
    /// `random [two [least_conn]]` (`least_conn` is the only and default `two` method).
    Random {
        /// `two` was given: pick the less loaded of two random peers.
        two: bool,
    },
}

impl Method {
    /// Whether `server … backup` is accepted after this method's directive (nginx: only
    /// round robin and `least_conn`). A `backup` line *before* the method is accepted silently.
    pub fn supports_backup(&self) -> bool {
        matches!(self, Method::RoundRobin | Method::LeastConn)
    }

    fn balancer(&self, primary: &PeerSet) -> Box<dyn Balancer> {
        match self {
            Method::RoundRobin => Box::new(RoundRobin),
            Method::LeastConn => Box::new(LeastConn),
            Method::IpHash => Box::new(IpHash),
            Method::Hash {
                consistent: false, ..
            } => Box::new(Hash),
            Method::Hash {
                consistent: true, ..
            } => Box::new(ConsistentHash::new(primary)),
            Method::Random { two } => Box::new(Random::new(primary, *two)),
        }
    }
}

/// A `server` line with its address resolved (a name resolving to several IPs → several
/// addresses → several peers, consecutive, sharing the spec).
#[derive(Debug, Clone)]
pub struct ResolvedServer {
    /// The parsed line.
    pub spec: ServerSpec,
    /// Resolved addresses, in resolver order; must not be empty.
    pub addrs: Vec<PeerAddr>,
}

/// Errors building an [`Upstream`], worded like `nginx -t` (the reader adds ` in FILE:LINE`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Only backup servers.
    #[error("no servers in upstream \"{0}\"")]
    NoPrimary(String),
    /// Empty `upstream {}` block.
    #[error("no servers are inside upstream")]
    Empty,
    /// A server with no resolved address.
    #[error("host not found in upstream \"{0}\"")]
    Unresolved(String),
}

/// What the caller knows about the request that the methods may hash on.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestInput<'a> {
    /// Client address (`ip_hash`): IPv4 uses its first 3 octets, IPv6 all 16 bytes, `None`
    /// (unix socket client) three zero bytes, as nginx.
    pub client_ip: Option<IpAddr>,
    /// The evaluated `hash` key (raw bytes, not URL-decoded); empty → round robin.
    pub hash_key: &'a [u8],
}

/// The mutable state of a group, guarded by the group's mutex: both peer sets and the RNG of
/// `random`.
#[derive(Debug)]
pub struct GroupState {
    pub(crate) primary: PeerSet,
    pub(crate) backup: Option<PeerSet>,
    pub(crate) rng: u64,
}

impl GroupState {
    /// The peer set of `kind` (the backup set may be absent: then the primary set).
    pub(crate) fn set_mut(&mut self, kind: SetKind) -> &mut PeerSet {
        match (kind, &mut self.backup) {
            (SetKind::Backup, Some(b)) => b,
            _ => &mut self.primary,
        }
    }

    pub(crate) fn peer_mut(&mut self, id: PeerId) -> &mut Peer {
        &mut self.set_mut(id.set).peers[id.index]
    }

    /// nginx's `ngx_random()` stand-in (31-bit values), xorshift64* seeded per group.
    pub(crate) fn random31(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) & 0x7fff_ffff
    }
}

/// Per-request balancer state (nginx's `rrp` plus the hash modules' fields).
#[derive(Debug, Clone, Default)]
pub struct RequestState {
    /// Set in use; switches to backup once for the rest of the request.
    pub set: Option<SetKind>,
    /// Peers of the current set already tried by this request.
    pub tried: Tried,
    /// Hash input bytes: the IPv4 /24 or IPv6 address (ip_hash), or the evaluated key (hash).
    pub key: Vec<u8>,
    /// Running hash value: ip_hash's `hash`, hash's accumulated value, or consistent hash's
    /// point index.
    pub hash: u64,
    /// The hash methods' own attempt counter (fallback to round robin after 20).
    pub hash_tries: u32,
    /// `hash`: the rehash counter prefixed to the key.
    pub rehash: u32,
}

impl RequestState {
    /// The set currently in use.
    pub fn current_set(&self) -> SetKind {
        self.set.unwrap_or(SetKind::Primary)
    }
}

/// A balancing method. `select` runs under the group lock, must mark the chosen peer in
/// `req.tried` when nginx does, update `checked` as nginx does, and not touch `conns` (the
/// caller increments it). `None` means no live upstreams.
pub trait Balancer: Send + Sync + fmt::Debug {
    /// Per-request initialisation (hash seeds); called once from [`Upstream::begin`].
    fn init_request(&self, _req: &mut RequestState, _input: &RequestInput<'_>) {}

    /// Chooses the next peer for this request. `now` is whole seconds on the group clock.
    fn select(&self, g: &mut GroupState, req: &mut RequestState, now: i64) -> Option<PeerId>;
}

/// One upstream group. Create it once per config (re)load and share it via `Arc`.
pub struct Upstream {
    name: String,
    method: Method,
    balancer: Box<dyn Balancer>,
    state: Mutex<GroupState>,
    epoch: Instant,
    tries: u32,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("method", &self.method)
            .finish()
    }
}

impl Upstream {
    /// Builds a group. `epoch` anchors the group's whole-second clock (pass the process start
    /// or `Instant::now()`); every later `now` must be ≥ it (earlier values count as `epoch`).
    pub fn new(
        name: impl Into<String>,
        method: Method,
        servers: Vec<ResolvedServer>,
        epoch: Instant,
    ) -> Result<Upstream, UpstreamError> {
        let name = name.into();
        if servers.is_empty() {
            return Err(UpstreamError::Empty);
        }
        let (mut primary, mut backup) = (Vec::new(), Vec::new());
        for s in &servers {
            if s.addrs.is_empty() {
                return Err(UpstreamError::Unresolved(s.spec.address.clone()));
            }
            let server: Arc<str> = Arc::from(s.spec.address.as_str());
            for a in &s.addrs {
                let w = i64::from(s.spec.weight.max(1));
                let p = Peer {
                    name: Arc::from(a.to_string()),
                    server: server.clone(),
                    addr: a.clone(),
                    weight: w,
                    effective_weight: w,
                    current_weight: 0,
                    max_fails: s.spec.max_fails,
                    fail_timeout: s.spec.fail_timeout.as_secs() as i64,
                    max_conns: s.spec.max_conns,
                    down: s.spec.down,
                    unhealthy: false,
                    conns: 0,
                    fails: 0,
                    accessed: 0,
                    checked: 0,
                    requests: 0,
                    total_fails: 0,
                    disabled_since: None,
                    downtime_secs: 0,
                    latency: Default::default(),
                };
                if s.spec.backup {
                    backup.push(p)
                } else {
                    primary.push(p)
                }
            }
        }
        if primary.is_empty() {
            return Err(UpstreamError::NoPrimary(name));
        }
        let mut primary = PeerSet::new(primary);
        let backup = (!backup.is_empty()).then(|| PeerSet::new(backup));
        primary.single = primary.peers.len() == 1 && backup.is_none();
        let tries = primary.tries + backup.as_ref().map_or(0, |b| b.tries);
        let balancer = method.balancer(&primary);
        let seed = 0x9E37_79B9_7F4A_7C15 ^ (name.len() as u64).wrapping_mul(0x1000_0001);
        Ok(Upstream {
            name,
            method,
            balancer,
            state: Mutex::new(GroupState {
                primary,
                backup,
                rng: seed | 1,
            }),
            epoch,
            tries,
        })
    }

    /// Reseeds `random`'s generator (tests use a fixed seed; nginx seeds per worker).
    pub fn with_seed(self, seed: u64) -> Upstream {
        self.lock().rng = seed | 1;
        self
    }

    /// The group name (`upstream NAME`, or `host:port` for an implicit group).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The balancing method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// nginx's initial `tries` of a request: the number of non-`down` peers, primary + backup.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// Starts the balancer state of one request (nginx's `peer.init`).
    pub fn begin(self: &Arc<Self>, input: RequestInput<'_>) -> Attempt {
        let mut req = RequestState::default();
        self.balancer.init_request(&mut req, &input);
        Attempt::new(self.clone(), req, self.tries)
    }

    /// All peers in order (primary then backup) with their addresses, e.g. for health checks.
    pub fn peers(&self) -> Vec<(PeerId, PeerAddr)> {
        let g = self.lock();
        let mut out = Vec::new();
        for (kind, set) in [
            (SetKind::Primary, Some(&g.primary)),
            (SetKind::Backup, g.backup.as_ref()),
        ] {
            for (index, p) in set.into_iter().flat_map(|s| s.peers.iter().enumerate()) {
                out.push((PeerId { set: kind, index }, p.addr.clone()));
            }
        }
        out
    }

    /// Marks a peer unhealthy (skipped like `down`) or healthy again: the hook for active
    /// health checks. Unknown ids are ignored.
    pub fn set_unhealthy(&self, id: PeerId, unhealthy: bool) {
        let mut g = self.lock();
        let set = match id.set {
            SetKind::Primary => Some(&mut g.primary),
            SetKind::Backup => g.backup.as_mut(),
        };
        if let Some(p) = set.and_then(|s| s.peers.get_mut(id.index)) {
            p.unhealthy = unhealthy;
        }
    }

    /// A copy of every peer's state and counters, for status pages and metrics.
    pub fn snapshot(&self, now: Instant) -> UpstreamSnapshot {
        let now_s = self.secs(now);
        let g = self.lock();
        UpstreamSnapshot::capture(&self.name, &g, now_s)
    }

    /// Whole seconds on the group clock (nginx `ngx_time()` equivalent).
    pub(crate) fn secs(&self, now: Instant) -> i64 {
        VIRTUAL_EPOCH_SECS + now.saturating_duration_since(self.epoch).as_secs() as i64
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, GroupState> {
        // A panic while holding the lock cannot leave peer counters in a state worse than
        // stale; keep serving rather than propagate the poison.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn balancer(&self) -> &dyn Balancer {
        &*self.balancer
    }
}
