//! Checks of a route's behaviour: its latency distribution and its faults, each error naming
//! the offending key (`routes[2].latency.p99_ms`).

use super::Faults;
use super::spec::{FaultSpec, LatencySpec};
use super::validate::{AppError, invalid};
use crate::latency::Latency;
use rand_distr::{Normal, Pareto};

fn non_negative(v: f64, key: String) -> Result<f64, AppError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(key, format!("{v} must be a finite number >= 0")))
    }
}

fn positive(v: f64, key: String) -> Result<f64, AppError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(key, format!("{v} must be a finite number > 0")))
    }
}

/// Checks a latency distribution; `key` is its dotted path.
pub fn latency(spec: &LatencySpec, key: &str) -> Result<Latency, AppError> {
    Ok(match spec {
        LatencySpec::Fixed { ms } => Latency::Fixed(non_negative(*ms, format!("{key}.ms"))?),
        LatencySpec::Uniform { min_ms, max_ms } => {
            let lo = non_negative(*min_ms, format!("{key}.min_ms"))?;
            let hi = non_negative(*max_ms, format!("{key}.max_ms"))?;
            if hi < lo {
                return Err(invalid(
                    format!("{key}.max_ms"),
                    format!("{hi} is below min_ms {lo}"),
                ));
            }
            Latency::Uniform(lo, hi)
        }
        LatencySpec::Normal { mean_ms, stddev_ms } => {
            let m = non_negative(*mean_ms, format!("{key}.mean_ms"))?;
            let s = non_negative(*stddev_ms, format!("{key}.stddev_ms"))?;
            Latency::Normal(Normal::new(m, s).map_err(|e| invalid(key, e.to_string()))?)
        }
        LatencySpec::Lognormal { median_ms, p99_ms } => {
            let m = positive(*median_ms, format!("{key}.median_ms"))?;
            let p = positive(*p99_ms, format!("{key}.p99_ms"))?;
            if p < m {
                return Err(invalid(
                    format!("{key}.p99_ms"),
                    format!("{p} is below median_ms {m}"),
                ));
            }
            Latency::lognormal(m, p).ok_or_else(|| invalid(key, "invalid log-normal parameters"))?
        }
        LatencySpec::Pareto {
            scale_ms,
            shape,
            max_ms,
        } => {
            let s = positive(*scale_ms, format!("{key}.scale_ms"))?;
            let a = positive(*shape, format!("{key}.shape"))?;
            let cap = match max_ms {
                Some(c) => {
                    let c = positive(*c, format!("{key}.max_ms"))?;
                    if c < s {
                        return Err(invalid(
                            format!("{key}.max_ms"),
                            format!("{c} is below scale_ms {s}"),
                        ));
                    }
                    Some(c)
                }
                None => None,
            };
            Latency::Pareto(
                Pareto::new(s, a).map_err(|e| invalid(key, e.to_string()))?,
                cap,
            )
        }
        LatencySpec::Mixture { parts } => {
            if parts.is_empty() {
                return Err(invalid(
                    format!("{key}.parts"),
                    "a mixture needs at least one part",
                ));
            }
            let mut total = 0.0;
            let mut built = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                total += positive(p.weight, format!("{key}.parts[{i}].weight"))?;
                built.push((
                    total,
                    latency(&p.latency, &format!("{key}.parts[{i}].latency"))?,
                ));
            }
            Latency::Mixture(built.into_iter().map(|(c, l)| (c / total, l)).collect())
        }
    })
}

pub(super) fn faults(spec: &FaultSpec, key: &str) -> Result<Faults, AppError> {
    let rates = [
        ("error_500", spec.error_500),
        ("reset", spec.reset),
        ("hang", spec.hang),
        ("truncate", spec.truncate),
        ("trickle", spec.trickle),
    ];
    let mut cumulative = [0.0; 5];
    let mut sum = 0.0;
    for (i, (name, rate)) in rates.iter().enumerate() {
        if !(rate.is_finite() && (0.0..=1.0).contains(rate)) {
            return Err(invalid(
                format!("{key}.{name}"),
                format!("{rate} is not a probability in [0, 1]"),
            ));
        }
        sum += rate;
        cumulative[i] = sum;
    }
    if sum > 1.0 + 1e-9 {
        return Err(invalid(
            key,
            format!("fault rates add up to {sum}, more than 1"),
        ));
    }
    if spec.trickle_bytes == 0 {
        return Err(invalid(
            format!("{key}.trickle_bytes"),
            "must be at least 1",
        ));
    }
    let interval = non_negative(
        spec.trickle_interval_ms,
        format!("{key}.trickle_interval_ms"),
    )?;
    Ok(Faults {
        cumulative,
        trickle_bytes: spec.trickle_bytes.min(1 << 20) as usize,
        trickle_interval: crate::latency::clamp_ms(interval),
    })
}
