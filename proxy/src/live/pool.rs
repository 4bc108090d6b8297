//! Upstream keepalive cache (`keepalive N`): at most N idle connections for the whole group
//! (per worker), least recently used closed first; `keepalive_timeout` idle limit,
//! `keepalive_requests` and `keepalive_time` per connection. Idle connections the upstream
//! closed are noticed before reuse (nginx watches them with a read event).

use crate::conf::model::Upstream;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Idle time below which a cached connection is reused without checking it for an upstream
/// close first.
const PROBE_AFTER: Duration = Duration::from_millis(50);

/// A connection to a peer with its usage counters.
#[derive(Debug)]
pub struct UpConn {
    /// The socket.
    pub stream: TcpStream,
    /// Peer address.
    pub addr: SocketAddr,
    /// When it was connected.
    pub created: Instant,
    /// Requests sent on it so far.
    pub requests: u64,
}

#[derive(Debug)]
struct Idle {
    conn: UpConn,
    since: Instant,
}

/// One worker's cache for one upstream group.
#[derive(Debug)]
pub struct Pool {
    cap: usize,
    timeout: Duration,
    max_requests: u64,
    max_time: Duration,
    idle: Mutex<VecDeque<Idle>>,
}

impl Pool {
    /// A cache sized by the group's `keepalive` (0 when not configured: nothing is cached).
    pub fn new(u: &Upstream) -> Pool {
        Pool {
            cap: u.keepalive.unwrap_or(0),
            timeout: u.keepalive_timeout,
            max_requests: u.keepalive_requests,
            max_time: u.keepalive_time,
            idle: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether caching is on.
    pub fn enabled(&self) -> bool {
        self.cap > 0
    }

    /// Takes the most recently used live idle connection to `addr`.
    /// `now` is the current time (read once by the caller).
    pub fn take(&self, addr: SocketAddr, now: Instant) -> Option<UpConn> {
        if self.cap == 0 {
            return None;
        }
        let mut q = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(pos) = q.iter().rposition(|i| i.conn.addr == addr) {
            let Some(idle) = q.remove(pos) else { break };
            let idle_for = now.duration_since(idle.since);
            if idle_for >= self.timeout {
                continue;
            }
            // nginx notices an upstream close of an idle cached connection through its read
            // event; we check the socket before reuse, except right after it was cached
            // (an upstream keep-alive timeout cannot have fired within PROBE_AFTER).
            if idle_for < PROBE_AFTER {
                return Some(idle.conn);
            }
            let mut probe = [0u8; 1];
            match idle.conn.stream.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(idle.conn),
                _ => continue,
            }
        }
        None
    }

    /// Returns a connection after a complete exchange that allows keep-alive; `now` is the
    /// current time.
    pub fn put(&self, conn: UpConn, now: Instant) {
        if self.cap == 0
            || conn.requests >= self.max_requests
            || now.saturating_duration_since(conn.created) >= self.max_time
        {
            return;
        }
        let mut q = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= self.cap {
            q.pop_front();
        }
        q.push_back(Idle { conn, since: now });
    }

    /// Idle connections cached now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |q| q.len())
    }
}
