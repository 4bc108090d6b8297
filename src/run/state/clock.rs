//! Time 0 on the loadgen's clock: its interval log names its origin (`#[StartTime: …]`);
//! samples and fault markers are re-expressed against it.

use super::State;
use std::time::{Duration, Instant};

/// The loadgen's clock origin: the `#[StartTime: SECONDS` header of its interval log.
pub fn hlog_origin(path: &std::path::Path) -> Option<std::time::SystemTime> {
    use std::io::Read;
    let mut head = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1024)
        .read_to_string(&mut head)
        .ok()?;
    let rest = &head[head.find("#[StartTime: ")? + 13..];
    let secs: f64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

impl State<'_> {
    /// Moves time 0 to the loadgen's clock origin once its interval log names it, so that
    /// faults, samples and phases line up with the loadgen's seconds (the process starts a few
    /// milliseconds after it is spawned). Gives up after 2 s.
    pub(super) fn align_clock(&mut self) {
        let Some(t0) = self.t0 else { return };
        if self.aligned {
            return;
        }
        if t0.elapsed() > Duration::from_secs(2) {
            self.aligned = true;
            return;
        }
        let Some(origin) = hlog_origin(&crate::run::loadgen_paths(&self.opts.dir).2) else {
            return;
        };
        let now_wall = std::time::SystemTime::now();
        let now = Instant::now();
        let new_t0 = match origin.duration_since(now_wall) {
            Ok(ahead) => now + ahead,
            Err(e) => now.checked_sub(e.duration()).unwrap_or(t0),
        };
        let shift = if new_t0 >= t0 {
            (new_t0 - t0).as_secs_f64()
        } else {
            -(t0 - new_t0).as_secs_f64()
        };
        if shift.abs() < 1.0 {
            // Samples are logged on the runner's clock and re-expressed when read back.
            self.t0 = Some(new_t0);
            self.t0_wall = Some(origin);
        }
        self.aligned = true;
    }

    /// After the run: re-expresses marker and sample times on the loadgen's clock (its hlog
    /// names its origin; a no-op when `align_clock` already aligned to it during the run).
    pub fn align_records(&mut self) {
        let (Some(origin), Some(t0_wall)) = (
            hlog_origin(&crate::run::loadgen_paths(&self.opts.dir).2),
            self.t0_wall,
        ) else {
            return;
        };
        let shift = match origin.duration_since(t0_wall) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        if shift.abs() < 1e-4 || shift.abs() > 1.0 {
            return;
        }
        self.samples.shift(-shift);
        for m in &mut self.markers {
            m.t -= shift;
        }
        self.t0_wall = Some(origin);
    }
}
