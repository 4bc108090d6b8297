//! Time formatting without a calendar crate: `$time_local` (`26/Nov/2026:04:50:33 +0000`),
//! `$time_iso8601`, the error-log stamp (`2026/11/26 04:50:33`) and `$msec`. Times are UTC
//! (the offset is printed as `+0000`), which is what nginx prints on a UTC machine. Also the
//! per-worker cached clock ([`now_mono`], [`now_wall`]), nginx's `ngx_time_update`.

use std::cell::Cell;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// This thread's cached clock readings (nginx reads the clock once per event-loop turn and
/// every request of that turn sees the same time).
#[derive(Clone, Copy)]
struct Clock {
    /// Caching is on (a worker thread called [`refresh`] at least once).
    on: bool,
    /// Readings handed out since the last refresh.
    uses: u32,
    /// The monotonic clock, read at its first use after the refresh.
    mono: Option<Instant>,
    /// The wall clock, read at its first use after the refresh.
    wall: Option<SystemTime>,
}

thread_local! {
    static CLOCK: Cell<Clock> = const {
        Cell::new(Clock { on: false, ..FRESH })
    };
}

/// A refreshed cache: on, nothing read yet.
const FRESH: Clock = Clock {
    on: true,
    uses: 0,
    mono: None,
    wall: None,
};

/// Cached readings handed out before the clock is read again even though the event loop did
/// not turn (a run queue that never empties would otherwise age the cache without bound). A
/// static request takes about 6 readings, a busy turn serves some 30 requests: about one
/// forced refresh per turn, the cache at most a few hundred requests (about a millisecond)
/// old, as nginx's time is one `epoll_wait` batch old.
const MAX_USES: u32 = 256;

/// Forgets this thread's cached readings and turns caching on for the thread: the next
/// [`now_mono`] / [`now_wall`] reads the clock once, later ones reuse it. The worker runtimes
/// call this each time their event loop wakes (`on_thread_unpark`); threads that never call
/// it read the clock on every call.
pub fn refresh() {
    CLOCK.with(|c| c.set(FRESH));
}

/// Runs `pick` on this thread's cache, reading the clock when `pick` finds no reading.
fn cached<T: Copy>(pick: impl Fn(&mut Clock) -> &mut Option<T>, read: impl FnOnce() -> T) -> T {
    CLOCK.with(|c| {
        let mut k = c.get();
        if !k.on {
            return read();
        }
        if k.uses >= MAX_USES {
            k = FRESH;
        }
        k.uses += 1;
        let v = *pick(&mut k).get_or_insert_with(read);
        c.set(k);
        v
    })
}

/// The monotonic time of the current event-loop turn (`Instant::now()` outside workers).
pub fn now_mono() -> Instant {
    cached(|k| &mut k.mono, Instant::now)
}

/// The wall-clock time of the current event-loop turn (`SystemTime::now()` outside workers).
pub fn now_wall() -> SystemTime {
    cached(|k| &mut k.wall, SystemTime::now)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1-12, day, hour, minute, second) of `t` in UTC.
pub fn parts(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    (y, m, d, s / 3600, s / 60 % 60, s % 60)
}

/// `26/Nov/2026:04:50:33 +0000`.
pub fn time_local(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss) = parts(t);
    format!(
        "{d:02}/{}/{y}:{hh:02}:{mm:02}:{ss:02} +0000",
        MONTHS[(m - 1) as usize]
    )
}

/// `2026-11-26T04:50:33+00:00`.
pub fn time_iso8601(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss) = parts(t);
    format!("{y}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}+00:00")
}

/// `2026/11/26 04:50:33` (error log).
pub fn error_stamp(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss) = parts(t);
    format!("{y}/{m:02}/{d:02} {hh:02}:{mm:02}:{ss:02}")
}

/// `$msec`: seconds with millisecond resolution.
pub fn msec(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cached_clock_is_reused_until_refreshed_and_bounded() {
        // a thread that never refreshes reads the clock every time
        std::thread::spawn(|| {
            let a = now_mono();
            std::thread::sleep(Duration::from_millis(2));
            assert!(now_mono() > a);
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            refresh();
            let (m, w) = (now_mono(), now_wall());
            std::thread::sleep(Duration::from_millis(2));
            assert_eq!(now_mono(), m, "same turn: same reading");
            assert_eq!(now_wall(), w);
            refresh();
            assert!(now_mono() > m, "a new turn reads the clock again");
            assert!(now_wall() > w);
            let m = now_mono();
            std::thread::sleep(Duration::from_millis(2));
            let later = (0..MAX_USES).map(|_| now_mono()).max().unwrap();
            assert!(later > m, "at most MAX_USES readings per refresh");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_668_633);
        assert_eq!(time_local(t), "26/Nov/2026:04:50:33 +0000");
        assert_eq!(error_stamp(t), "2026/11/26 04:50:33");
        assert_eq!(time_iso8601(UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
    }
}
