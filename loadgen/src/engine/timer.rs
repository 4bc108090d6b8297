//! `PreciseTimer`: a timerfd (CLOCK_MONOTONIC, absolute) registered with the runtime, so that
//! open-loop waits end within tens of microseconds instead of tokio's whole milliseconds.
//! Falls back to tokio's timer if the timerfd cannot be created.

use rustix::time::{
    ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, clock_gettime,
    timerfd_create, timerfd_settime,
};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

/// A one-shot high-resolution timer for one task.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: Option<AsyncFd<OwnedFd>>,
    base: Instant,
    base_mono: Duration,
}

fn to_dur(t: Timespec) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl PreciseTimer {
    /// A timer on the current runtime (which must have I/O enabled).
    pub fn new() -> PreciseTimer {
        let base = Instant::now();
        let base_mono = to_dur(clock_gettime(ClockId::Monotonic));
        // `AsyncFd::new` is deprecated for types that do not own their descriptor; an
        // `OwnedFd` moved into the `AsyncFd` does, so I/O safety holds.
        #[allow(deprecated)]
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .ok()
        .and_then(|fd| AsyncFd::new(fd).ok());
        PreciseTimer {
            fd,
            base,
            base_mono,
        }
    }

    /// Completes at `t` (±timer slack, ~50 µs).
    pub async fn sleep_until(&self, t: Instant) {
        let Some(fd) = &self.fd else {
            return tokio::time::sleep_until(t.into()).await;
        };
        let at = self.base_mono + t.saturating_duration_since(self.base);
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: at.as_secs() as _,
                tv_nsec: at.subsec_nanos().max(1) as _,
            },
        };
        if timerfd_settime(fd.get_ref(), TimerfdTimerFlags::ABSTIME, &spec).is_err() {
            return tokio::time::sleep_until(t.into()).await;
        }
        // No read(2) of the expiration count: re-arming with timerfd_settime resets it, so the
        // descriptor turns readable again (a fresh epoll edge) only when this deadline passes.
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return tokio::time::sleep_until(t.into()).await;
            };
            guard.clear_ready();
            if Instant::now() >= t {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_wakes_early_and_usually_within_a_millisecond() {
        let t = PreciseTimer::new();
        let start = Instant::now();
        let mut late = Vec::new();
        for i in 1..=200u64 {
            let at = start + Duration::from_micros(2500 * i);
            t.sleep_until(at).await;
            assert!(Instant::now() >= at, "woke early");
            late.push(Instant::now().saturating_duration_since(at));
        }
        late.sort();
        // Generous (shared 2-core machine): the median, not the worst case.
        assert!(
            late[100] < Duration::from_millis(1),
            "median lateness {:?}",
            late[100]
        );
    }
}
