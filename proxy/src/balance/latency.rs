//! Per-peer latency histogram (time from selecting a peer to finishing the try), kept beside
//! the peer's counters under the group lock that the try already takes.

use std::time::Duration;

/// Upper bounds of the histogram buckets in microseconds (Prometheus `le`); a last,
/// unbounded bucket follows.
pub const LATENCY_BUCKETS_US: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Counts per bucket (not cumulative) plus the sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHist {
    /// Samples per bucket; index `LATENCY_BUCKETS_US.len()` is `+Inf`.
    pub counts: [u64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of all samples in microseconds.
    pub sum_us: u64,
}

impl LatencyHist {
    /// Adds one sample.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = LATENCY_BUCKETS_US.partition_point(|b| *b < us);
        self.counts[i] += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s samples (the same peer seen by another worker).
    pub fn add(&mut self, other: &LatencyHist) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_buckets() {
        let mut h = LatencyHist::default();
        h.record(Duration::from_micros(1_000));
        h.record(Duration::from_micros(1_001));
        h.record(Duration::from_secs(60));
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[LATENCY_BUCKETS_US.len()], 1);
        assert_eq!(h.count(), 3);
        assert_eq!(h.sum_us, 60_002_001);
    }
}
