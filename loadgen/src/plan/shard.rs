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
