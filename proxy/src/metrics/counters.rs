//! Counters bumped on the request path: responses by status code and open WebSocket
//! tunnels. Relaxed atomics, no locks.

use crate::http::status::Status;
use std::sync::atomic::{AtomicU64, Ordering};

/// Highest status code counted individually (nginx allows `return` codes up to 999).
const MAX_CODE: usize = 999;

/// Responses by status code (index = code; 0 for requests that ended without a status).
#[derive(Debug)]
pub struct StatusCounts(Box<[AtomicU64]>);

impl Default for StatusCounts {
    fn default() -> Self {
        StatusCounts((0..=MAX_CODE).map(|_| AtomicU64::new(0)).collect())
    }
}

impl StatusCounts {
    /// Counts one response with `status`.
    pub fn add(&self, status: Status) {
        let i = usize::from(status.code()).min(MAX_CODE);
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// `(code, count)` for every code seen at least once, ascending (the last one counts every
    /// code from 999 up).
    pub fn nonzero(&self) -> Vec<(u16, u64)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then_some((i as u16, n))
            })
            .collect()
    }
}

static WEBSOCKETS_OPEN: AtomicU64 = AtomicU64::new(0);

/// Open WebSocket / Upgrade tunnels in this process.
pub fn websockets_open() -> u64 {
    WEBSOCKETS_OPEN.load(Ordering::Relaxed)
}

/// Counts one open tunnel while alive.
#[derive(Debug)]
pub struct WebSocketGuard(());

impl WebSocketGuard {
    /// Counts a tunnel as open until the guard drops.
    pub fn new() -> WebSocketGuard {
        WEBSOCKETS_OPEN.fetch_add(1, Ordering::Relaxed);
        WebSocketGuard(())
    }
}

impl Default for WebSocketGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for WebSocketGuard {
    fn drop(&mut self) {
        WEBSOCKETS_OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts() {
        let s = StatusCounts::default();
        s.add(Status::OK);
        s.add(Status::OK);
        s.add(Status::SERVICE_UNAVAILABLE);
        s.add(Status::new(999).unwrap());
        assert_eq!(s.nonzero(), vec![(200, 2), (503, 1), (999, 1)]);
    }
}
