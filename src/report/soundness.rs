//! Whether a run is sound: every `sanity:` assertion held (no client-side errors, the loadgen
//! kept its schedule and was not saturated) and other processes left the machine alone while it
//! ran. The claims ledger judges only sound runs; `proxylab run` says when a run is not.

use super::RunSummary;

/// Prefix of the assertions that gate every verdict.
pub const SANITY: &str = "sanity:";

/// Other processes may use at most this much CPU (percent of one core) during a run that
/// judges a claim, by default.
pub const MAX_OTHERS_CPU_PCT: f64 = 50.0;

/// What a sound run must satisfy beyond its sanity assertions.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The most CPU other processes may have used during the run, percent of one core.
    pub max_others_cpu_pct: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_others_cpu_pct: MAX_OTHERS_CPU_PCT,
        }
    }
}

/// Whether a run is sound enough to judge anything: Err says why not.
pub fn gate(s: &RunSummary, policy: &Policy) -> Result<(), String> {
    let sanity: Vec<_> = s
        .assertions
        .iter()
        .filter(|a| a.name.starts_with(SANITY))
        .collect();
    if sanity.is_empty() {
        return Err("the run has no sanity assertions".into());
    }
    if let Some(a) = sanity.iter().find(|a| !a.passed) {
        let actual = a
            .actual
            .map_or("no data".into(), |v| format!("{} {}", short(v), a.unit));
        return Err(format!("{} failed: {actual}", a.name));
    }
    let Some(p) = &s.provenance else {
        return Err("the run records no machine load (it predates provenance)".into());
    };
    if p.others_cpu_pct > policy.max_others_cpu_pct {
        return Err(format!(
            "machine busy: other processes used {:.0} % of a core during the run (limit {:.0} %)",
            p.others_cpu_pct, policy.max_others_cpu_pct
        ));
    }
    Ok(())
}

/// A value for a message: one decimal from 10 up, up to three below.
pub fn short(x: f64) -> String {
    if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}
