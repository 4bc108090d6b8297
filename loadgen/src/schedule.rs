//! The arrival schedule: rate stages → intended send times. Pure (no clock): the open-loop
//! driver asks for the next intended offset and compares it with the clock itself.
//!
//! Arrivals are generated in "count space" (uniform: 0, 1, 2, …; Poisson: cumulative Exp(1)
//! gaps) and mapped to time through the inverse of the cumulative rate N(t), which is
//! piecewise quadratic over the stages' piecewise-linear rate.

use crate::plan::{Arrivals, Stage};
use rand::{RngExt, SeedableRng, rngs::SmallRng};

/// A piece of the rate function: linear from `r0` to `r1` over `[t0, t0 + len)` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Seg {
    t0: f64,
    len: f64,
    r0: f64,
    r1: f64,
    /// Cumulative arrivals expected before `t0`.
    n0: f64,
}

impl Seg {
    fn count(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * self.len
    }
    /// Time offset (within the segment) at which `d` arrivals have accumulated.
    fn invert(&self, d: f64) -> f64 {
        let slope = (self.r1 - self.r0) / self.len;
        let x = if slope.abs() < 1e-12 {
            d / self.r0
        } else {
            let a = slope / 2.0;
            let disc = (self.r0 * self.r0 + 4.0 * a * d).max(0.0);
            // Numerically stable root of a x² + r0 x − d = 0.
            2.0 * d / (self.r0 + disc.sqrt())
        };
        x.clamp(0.0, self.len)
    }
}

/// Turns rate stages into piecewise-linear segments (steps and spikes become constant pieces).
fn segments(stages: &[Stage]) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut t = 0.0;
    let mut push = |t: &mut f64, len: f64, r0: f64, r1: f64| {
        if len > 0.0 {
            out.push(Seg {
                t0: *t,
                len,
                r0,
                r1,
                n0: 0.0,
            });
            *t += len;
        }
    };
    for s in stages {
        let d = s.duration().get().as_secs_f64();
        match *s {
            Stage::Constant { rate, .. } => push(&mut t, d, rate, rate),
            Stage::Ramp { from, to, .. } => push(&mut t, d, from, to),
            Stage::Step {
                from, to, steps, ..
            } => {
                let n = steps.max(1);
                for k in 0..n {
                    let r = if n == 1 {
                        from
                    } else {
                        from + (to - from) * k as f64 / (n - 1) as f64
                    };
                    push(&mut t, d / n as f64, r, r);
                }
            }
            Stage::Spike {
                base,
                height,
                at,
                hold,
                ..
            } => {
                let (a, h) = (at.get().as_secs_f64(), hold.get().as_secs_f64());
                push(&mut t, a, base, base);
                push(&mut t, h, height, height);
                push(&mut t, d - a - h, base, base);
            }
        }
    }
    let mut n = 0.0;
    for s in &mut out {
        s.n0 = n;
        n += s.count();
    }
    out
}

/// Iterator over intended send offsets (seconds from the population's start).
#[derive(Debug)]
pub struct Schedule {
    segs: Vec<Seg>,
    total: f64,
    arrivals: Arrivals,
    rng: SmallRng,
    next_u: f64,
    seg: usize,
}

impl Schedule {
    /// A schedule for `stages` with the given spacing; `seed` drives Poisson gaps.
    pub fn new(stages: &[Stage], arrivals: Arrivals, seed: u64) -> Schedule {
        let segs = segments(stages);
        let total = segs.last().map(|s| s.n0 + s.count()).unwrap_or(0.0);
        let mut s = Schedule {
            segs,
            total,
            arrivals,
            rng: SmallRng::seed_from_u64(seed),
            next_u: 0.0,
            seg: 0,
        };
        if arrivals == Arrivals::Poisson {
            s.next_u = s.exp_gap();
        }
        s
    }

    /// Expected number of arrivals over all stages.
    pub fn expected_total(&self) -> f64 {
        self.total
    }

    fn exp_gap(&mut self) -> f64 {
        let u: f64 = self.rng.random::<f64>();
        -(1.0 - u).ln()
    }

    /// The next intended offset in seconds, or `None` after the last stage.
    pub fn next_offset(&mut self) -> Option<f64> {
        let u = self.next_u;
        if u >= self.total - 1e-9 {
            return None;
        }
        while self.seg < self.segs.len() {
            let s = self.segs[self.seg];
            if u < s.n0 + s.count() {
                self.next_u += match self.arrivals {
                    Arrivals::Uniform => 1.0,
                    Arrivals::Poisson => self.exp_gap(),
                };
                return Some(s.t0 + s.invert(u - s.n0));
            }
            self.seg += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Dur;

    fn all(stages: &[Stage], a: Arrivals) -> Vec<f64> {
        let mut s = Schedule::new(stages, a, 7);
        std::iter::from_fn(|| s.next_offset()).collect()
    }

    #[test]
    fn constant_rate_is_exact() {
        let v = all(
            &[Stage::Constant {
                rate: 2000.0,
                duration: Dur::secs(10),
            }],
            Arrivals::Uniform,
        );
        assert_eq!(v.len(), 20_000);
        assert!((v[1] - v[0] - 0.0005).abs() < 1e-12);
        assert!(v.windows(2).all(|w| w[1] >= w[0]));
        assert!(*v.last().unwrap() < 10.0);
    }

    #[test]
    fn ramp_counts_the_area_and_accelerates() {
        let v = all(
            &[Stage::Ramp {
                from: 0.0,
                to: 1000.0,
                duration: Dur::secs(10),
            }],
            Arrivals::Uniform,
        );
        assert!((v.len() as i64 - 5000).abs() <= 1, "{}", v.len());
        let first_half = v.iter().filter(|&&t| t < 5.0).count();
        assert!((first_half as i64 - 1250).abs() <= 2, "{first_half}");
    }

    #[test]
    fn spike_and_steps_put_arrivals_where_the_rate_is() {
        let v = all(
            &[Stage::Spike {
                base: 100.0,
                height: 1000.0,
                at: Dur::secs(2),
                hold: Dur::secs(1),
                duration: Dur::secs(5),
            }],
            Arrivals::Uniform,
        );
        assert_eq!(v.len(), 1400);
        assert_eq!(v.iter().filter(|&&t| (2.0..3.0).contains(&t)).count(), 1000);
        let v = all(
            &[Stage::Step {
                from: 100.0,
                to: 300.0,
                steps: 3,
                duration: Dur::secs(3),
            }],
            Arrivals::Uniform,
        );
        assert_eq!(v.len(), 600);
        assert_eq!(v.iter().filter(|&&t| t >= 2.0).count(), 300);
    }

    #[test]
    fn poisson_has_the_right_mean_and_is_seeded() {
        let st = [Stage::Constant {
            rate: 1000.0,
            duration: Dur::secs(20),
        }];
        let v = all(&st, Arrivals::Poisson);
        assert!((v.len() as f64 - 20_000.0).abs() < 600.0, "{}", v.len());
        assert_eq!(v, all(&st, Arrivals::Poisson));
        let gaps: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Exponential gaps: standard deviation equals the mean.
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05);
    }

    #[test]
    fn zero_rate_yields_nothing() {
        assert!(
            all(
                &[Stage::Constant {
                    rate: 0.0,
                    duration: Dur::secs(3)
                }],
                Arrivals::Uniform
            )
            .is_empty()
        );
        let v = all(
            &[
                Stage::Constant {
                    rate: 0.0,
                    duration: Dur::secs(1),
                },
                Stage::Constant {
                    rate: 10.0,
                    duration: Dur::secs(1),
                },
            ],
            Arrivals::Uniform,
        );
        assert_eq!(v.len(), 10);
        assert!(v[0] >= 1.0);
    }
}
