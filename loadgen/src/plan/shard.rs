//! `--shard i/n`: the part of a plan that one of n generators runs.

use super::{Dur, Load, Plan, PlanError, Stage};

impl Plan {
    /// The `i`-th of `n` equal parts of this plan (0-based): open-loop rates divided by `n`,
    /// closed-loop connections and request bounds split as evenly as integers allow.
    pub fn shard(&self, i: u32, n: u32) -> Result<Plan, PlanError> {
        if n == 0 || i >= n {
            return Err(PlanError::Invalid(format!(
                "bad shard {}/{n}: want i/n with 1 <= i <= n",
                i + 1
            )));
        }
        let part = |total: u64| total / n as u64 + u64::from((i as u64) < total % n as u64);
        let f = n as f64;
        let mut plan = self.clone();
        // Each shard its own random stream (Poisson arrivals, `{rand}`, the request mix): N
        // copies of one stream would arrive in bursts together. Shard 0 keeps the plan's.
        plan.seed = self.seed ^ u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        plan.max_requests = plan.max_requests.map(part);
        for p in &mut plan.populations {
            p.max_requests = p.max_requests.map(part);
            // Interleave the shards' uniform arrivals: shard i starts i/R later, R being the
            // whole plan's first rate.
            if let Load::Open { stages, .. } = &p.load {
                let first = stages
                    .first()
                    .and_then(|s| s.rates().first().copied())
                    .unwrap_or(0.0);
                if first > 0.0 {
                    p.start =
                        Dur(p.start.get() + std::time::Duration::from_secs_f64(i as f64 / first));
                }
            }
            match &mut p.load {
                Load::Open {
                    stages,
                    max_connections,
                    ..
                } => {
                    *max_connections = max_connections.map(|c| part(c as u64).max(1) as u32);
                    for s in stages.iter_mut() {
                        match s {
                            Stage::Constant { rate, .. } => *rate /= f,
                            Stage::Ramp { from, to, .. } | Stage::Step { from, to, .. } => {
                                *from /= f;
                                *to /= f;
                            }
                            Stage::Spike { base, height, .. } => {
                                *base /= f;
                                *height /= f;
                            }
                        }
                    }
                }
                Load::Closed { connections, .. } => *connections = part(*connections as u64) as u32,
            }
        }
        // A shard with no closed-loop clients left keeps the population but does nothing.
        Ok(plan)
    }
}

/// Kubernetes' own name for the 0-based index of a pod of an Indexed Job.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// The 0-based shard index of `--shards n` without `--shard`: Kubernetes' `JOB_COMPLETION_INDEX`
/// (set in every pod of an Indexed Job), which must be an integer in `0..n`.
pub fn index_from_env(n: u32) -> Result<u32, PlanError> {
    index_from(std::env::var(INDEX_ENV).ok().as_deref(), n)
}

/// [`index_from_env`] on a given value (None: unset).
pub fn index_from(value: Option<&str>, n: u32) -> Result<u32, PlanError> {
    if n == 0 {
        return Err(PlanError::Invalid("--shards must be at least 1".into()));
    }
    let Some(v) = value else {
        return Err(PlanError::Invalid(format!(
            "--shards {n} without --shard takes the shard from {INDEX_ENV} (set by a Kubernetes Indexed Job), and it is not set: set it (0..{}) or give --shard i/{n}",
            n - 1
        )));
    };
    match v.trim().parse::<u32>() {
        Ok(i) if i < n => Ok(i),
        _ => Err(PlanError::Invalid(format!(
            "{INDEX_ENV}={v:?} is not a shard of --shards {n}: want an integer from 0 to {}",
            n - 1
        ))),
    }
}

/// Parses `i/n` (1-based `i`) into a 0-based index and the count.
pub fn parse_shard(s: &str) -> Result<(u32, u32), PlanError> {
    let bad = || PlanError::Invalid(format!("bad shard {s:?}: want i/n, e.g. 1/4"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: u32 = i.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i - 1, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_comes_from_the_environment_value() {
        assert_eq!(index_from(Some("0"), 4).ok(), Some(0));
        assert_eq!(index_from(Some("3"), 4).ok(), Some(3));
        for bad in [None, Some("4"), Some("-1"), Some("x"), Some("")] {
            let e = index_from(bad, 4).expect_err("bad index").to_string();
            assert!(e.contains(INDEX_ENV), "{e}");
        }
        assert!(index_from(Some("0"), 0).is_err());
    }

    #[test]
    fn uneven_splits_add_up_to_the_whole() {
        let text = r#"
targets = ["http://127.0.0.1:1"]
max_requests = 1001
[[population]]
name = "open"
load = { model = "open", stages = [{ shape = "constant", rate = 1000, duration = "10s" }], max_connections = 7 }
[[population]]
name = "closed"
load = { model = "closed", connections = 10 }
"#;
        let plan = Plan::from_toml_str(text).expect("plan");
        for n in [1u32, 3, 4, 7] {
            let parts: Vec<Plan> = (0..n).map(|i| plan.shard(i, n).expect("shard")).collect();
            let conns: u32 = parts
                .iter()
                .map(|p| match p.populations[1].load {
                    Load::Closed { connections, .. } => connections,
                    _ => 0,
                })
                .sum();
            assert_eq!(conns, 10, "n={n}");
            let reqs: u64 = parts.iter().filter_map(|p| p.max_requests).sum();
            assert_eq!(reqs, 1001, "n={n}");
            let rate: f64 = parts
                .iter()
                .map(|p| match &p.populations[0].load {
                    Load::Open { stages, .. } => stages[0].rates()[0],
                    _ => 0.0,
                })
                .sum();
            assert!((rate - 1000.0).abs() < 1e-9, "n={n}: {rate}");
            let mut seeds: Vec<u64> = parts.iter().map(|p| p.seed).collect();
            assert_eq!(seeds[0], plan.seed);
            seeds.sort();
            seeds.dedup();
            assert_eq!(seeds.len(), n as usize, "one random stream per shard");
            // Larger parts first, never more than one apart (k6's execution segments).
            let sizes: Vec<u32> = parts
                .iter()
                .map(|p| match p.populations[1].load {
                    Load::Closed { connections, .. } => connections,
                    _ => 0,
                })
                .collect();
            assert!(
                sizes.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1),
                "{sizes:?}"
            );
        }
    }
}
