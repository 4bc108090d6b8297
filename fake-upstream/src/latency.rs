//! Validated latency distributions and their sampling (rand_distr), in milliseconds.

use rand::RngExt;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal, Normal, Pareto};
use std::time::Duration;

/// z-score of the 99th percentile of the standard normal distribution.
pub const Z_P99: f64 = 2.326_347_874_040_840_8;

/// A checked latency distribution (build it through [`crate::app::validate`]).
#[derive(Debug, Clone)]
pub enum Latency {
    /// Always the same.
    Fixed(f64),
    /// Uniform in `[lo, hi]` ms.
    Uniform(f64, f64),
    /// Normal, truncated at 0.
    Normal(Normal<f64>),
    /// Log-normal (parameters of the underlying normal from median and p99).
    LogNormal(LogNormal<f64>),
    /// Pareto with an optional cap (ms).
    Pareto(Pareto<f64>, Option<f64>),
    /// Mixture: cumulative weights (normalised to 1) and components.
    Mixture(Vec<(f64, Latency)>),
}

impl Latency {
    /// No latency at all.
    pub const ZERO: Latency = Latency::Fixed(0.0);

    /// Log-normal with the given median and 99th percentile (ms); `None` if not `0 < median <= p99`.
    pub fn lognormal(median_ms: f64, p99_ms: f64) -> Option<Latency> {
        if !(median_ms > 0.0 && p99_ms >= median_ms && p99_ms.is_finite()) {
            return None;
        }
        let sigma = (p99_ms.ln() - median_ms.ln()) / Z_P99;
        LogNormal::new(median_ms.ln(), sigma)
            .ok()
            .map(Latency::LogNormal)
    }

    /// Draws one sample in milliseconds (never negative).
    pub fn sample_ms(&self, rng: &mut StdRng) -> f64 {
        let v = match self {
            Latency::Fixed(ms) => *ms,
            Latency::Uniform(lo, hi) => {
                if hi > lo {
                    rng.random_range(*lo..=*hi)
                } else {
                    *lo
                }
            }
            Latency::Normal(d) => d.sample(rng),
            Latency::LogNormal(d) => d.sample(rng),
            Latency::Pareto(d, cap) => {
                let v = d.sample(rng);
                cap.map_or(v, |c| v.min(c))
            }
            Latency::Mixture(parts) => {
                let u: f64 = rng.random();
                let part = parts.iter().find(|(cum, _)| u < *cum).or(parts.last());
                part.map_or(0.0, |(_, l)| l.sample_ms(rng))
            }
        };
        if v.is_finite() { v.max(0.0) } else { 0.0 }
    }

    /// Draws one sample as a duration.
    pub fn sample(&self, rng: &mut StdRng) -> Duration {
        clamp_ms(self.sample_ms(rng))
    }

    /// True when every sample is 0 (lets the hot path skip the timer).
    pub fn is_zero(&self) -> bool {
        matches!(self, Latency::Fixed(ms) if *ms == 0.0)
    }
}

/// Longest latency the fake ever waits or spins: one day (heavy tails, huge multipliers).
pub const MAX_LATENCY: Duration = Duration::from_secs(86_400);

/// Milliseconds as a duration, clamped to `[0, MAX_LATENCY]` (NaN → 0).
pub fn clamp_ms(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(ms / 1000.0).map_or(MAX_LATENCY, |d| d.min(MAX_LATENCY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
    }

    fn samples(l: &Latency, n: usize) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(42);
        let mut v: Vec<f64> = (0..n).map(|_| l.sample_ms(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn lognormal_has_its_median_and_p99() {
        let l = Latency::lognormal(20.0, 200.0).expect("valid");
        let v = samples(&l, 200_000);
        let (p50, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
        // Sampling error of these quantiles at n = 200k is well under 2 %.
        assert!((p50 - 20.0).abs() < 0.4, "median {p50}");
        assert!((p99 - 200.0).abs() < 8.0, "p99 {p99}");
    }

    #[test]
    fn durations_are_clamped() {
        assert_eq!(clamp_ms(f64::NAN), Duration::ZERO);
        assert_eq!(clamp_ms(-3.0), Duration::ZERO);
        assert_eq!(clamp_ms(1e300), MAX_LATENCY);
        assert_eq!(clamp_ms(1.5), Duration::from_micros(1500));
    }

    #[test]
    fn lognormal_rejects_p99_below_median() {
        assert!(Latency::lognormal(20.0, 10.0).is_none());
        assert!(Latency::lognormal(0.0, 10.0).is_none());
    }

    #[test]
    fn normal_is_truncated_and_centred() {
        let l = Latency::Normal(Normal::new(10.0, 20.0).expect("valid"));
        let v = samples(&l, 100_000);
        assert!(v[0] >= 0.0);
        let mean_pos: f64 = v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean_pos > 10.0,
            "truncation at 0 raises the mean: {mean_pos}"
        );
    }

    #[test]
    fn uniform_and_pareto_stay_in_bounds() {
        let u = samples(&Latency::Uniform(5.0, 7.0), 10_000);
        assert!(u[0] >= 5.0 && u[u.len() - 1] <= 7.0);
        let p = Latency::Pareto(Pareto::new(2.0, 1.5).expect("valid"), Some(50.0));
        let v = samples(&p, 50_000);
        assert!(v[0] >= 2.0 && v[v.len() - 1] <= 50.0);
        // Pareto median = scale * 2^(1/shape) = 2 * 2^(2/3) ≈ 3.17.
        assert!((quantile(&v, 0.5) - 3.175).abs() < 0.1);
    }

    #[test]
    fn mixture_respects_weights() {
        let m = Latency::Mixture(vec![
            (0.9, Latency::Fixed(1.0)),
            (1.0, Latency::Fixed(100.0)),
        ]);
        let v = samples(&m, 20_000);
        let slow = v.iter().filter(|&&x| x == 100.0).count() as f64 / v.len() as f64;
        assert!((slow - 0.1).abs() < 0.01, "slow share {slow}");
    }
}
