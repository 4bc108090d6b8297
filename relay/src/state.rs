//! The toxics active on a link, and what they mean for one connection in one direction.
//! Whether a toxic touches a connection is drawn once per (connection, toxic) from the
//! connection's seed, so a 0.3 toxicity affects about 30 % of the connections, the same ones
//! for as long as the toxic lasts.

use crate::toxic::{Direction, Toxic, ToxicSpec};
use std::time::{Duration, Instant};

/// A toxic added to a link at `since`.
#[derive(Debug, Clone)]
pub struct Active {
    /// Identifier chosen by the controller (the fault's index in the runner).
    pub id: u64,
    /// What it does.
    pub spec: ToxicSpec,
    /// When it was added.
    pub since: Instant,
}

/// Everything active on a link.
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    /// Active toxics, in the order they were added.
    pub toxics: Vec<Active>,
    /// Bumped on every change.
    pub generation: u64,
}

impl LinkState {
    /// True while a `down` toxic is active.
    pub fn down(&self) -> bool {
        self.toxics.iter().any(|a| a.spec.toxic == Toxic::Down)
    }

    /// Toxics that touch the connection with `seed` (all directions).
    pub fn touching(&self, seed: u64) -> impl Iterator<Item = &Active> {
        self.toxics
            .iter()
            .filter(move |a| applies(seed, a.id, a.spec.toxicity))
    }

    /// What the connection `seed` (opened at `opened`) sees flowing `dir`.
    pub fn view(&self, seed: u64, dir: Direction, opened: Instant) -> View {
        let mut v = View {
            generation: self.generation,
            ..View::default()
        };
        for a in self.touching(seed) {
            if !a.spec.direction.covers(dir) {
                continue;
            }
            let since = a.since.max(opened);
            match &a.spec.toxic {
                Toxic::Latency { latency, jitter } => {
                    v.latency += *latency;
                    v.jitter += *jitter;
                }
                Toxic::Bandwidth { rate } => {
                    v.rate = Some(v.rate.map_or(*rate, |r| r.min(*rate)));
                }
                Toxic::SlowClose { delay } => v.slow_close += *delay,
                Toxic::Timeout { .. } => v.black_hole = true,
                Toxic::Slicer {
                    average_size,
                    size_variation,
                    delay,
                } => v.slicer = Some((*average_size, *size_variation, *delay)),
                Toxic::LimitData { bytes } => {
                    if v.limit.is_none_or(|(_, b, _)| *bytes < b) {
                        v.limit = Some((a.id, *bytes, since));
                    }
                }
                Toxic::ResetPeer { .. } | Toxic::Down => {}
            }
        }
        v
    }
}

/// One direction of one connection under the current toxics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// The link state's generation this was computed from.
    pub generation: u64,
    /// Added delay (sum of latency toxics).
    pub latency: Duration,
    /// Spread (sum of jitters).
    pub jitter: Duration,
    /// Tightest bandwidth cap, bytes/s.
    pub rate: Option<u64>,
    /// FIN passed on this late.
    pub slow_close: Duration,
    /// Bytes are swallowed.
    pub black_hole: bool,
    /// (average, variation, delay) of the slicer.
    pub slicer: Option<(usize, usize, Duration)>,
    /// (toxic id, budget, start) of the tightest data limit.
    pub limit: Option<(u64, u64, Instant)>,
}

impl View {
    /// True when bytes pass untouched (the fast path).
    pub fn clean(&self) -> bool {
        self.latency.is_zero()
            && self.rate.is_none()
            && !self.black_hole
            && self.slicer.is_none()
            && self.limit.is_none()
    }
}

/// splitmix64: a well-mixed 64-bit hash.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// True when the toxic `id` with `toxicity` touches the connection with `seed`.
pub fn applies(seed: u64, id: u64, toxicity: f64) -> bool {
    toxicity >= 1.0 || unit(mix(seed ^ mix(id))) < toxicity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxicity_is_a_share_of_connections() {
        let hit = (0..10_000u64).filter(|s| applies(mix(*s), 7, 0.3)).count();
        assert!((2_700..3_300).contains(&hit), "{hit}");
        assert!((0..100u64).all(|s| applies(s, 1, 1.0)));
        assert!((0..100u64).all(|s| !applies(s, 1, 0.0)));
    }
}
