//! Upstream load balancing as nginx 1.22 does it: the `server` line, the peer state with
//! nginx's failure accounting, and the balancing methods (round robin, `least_conn`,
//! `ip_hash`, `hash KEY [consistent]`, `random [two [least_conn]]`), each a small type behind
//! the [`Balancer`] trait.
//!
//! Shape: one [`Upstream`] per `upstream {}` block (or per implicit `proxy_pass` address),
//! shared behind an `Arc`; its mutable peer state sits behind one `Mutex` (like nginx's
//! shared-zone lock). Each proxied request calls [`Upstream::begin`] to get an [`Attempt`]
//! (nginx's per-request peer data: `tries`, the tried bitmap, hash state), then loops:
//! [`Attempt::next_peer`] → connect/proxy → [`Attempt::finish`] with the outcome. Time is
//! always passed in (`now: Instant`); nothing in here reads a clock.

mod attempt;
mod hash;
mod ip_hash;
mod latency;
mod least_conn;
mod peer;
mod random;
mod round_robin;
mod server;
mod snapshot;
mod upstream;

pub use attempt::{Attempt, FinishReport, PeerOutcome, SelectError, Selected};
pub use hash::{ConsistentHash, Hash, crc32};
pub use ip_hash::IpHash;
pub use latency::{LATENCY_BUCKETS_US, LatencyHist};
pub use least_conn::LeastConn;
pub use peer::{Peer, PeerAddr, PeerId, PeerSet, SetKind, Tried};
pub use random::Random;
pub use round_robin::RoundRobin;
pub(crate) use server::parse_time_secs;
pub use server::{ServerParamError, ServerSpec};
pub use snapshot::{PeerSnapshot, PeerStatus, UpstreamSnapshot};
pub use upstream::{
    Balancer, GroupState, Method, RequestInput, RequestState, ResolvedServer, Upstream,
    UpstreamError,
};
#[cfg(test)]
mod tests;
