//! The verdict rules. A run judges a claim only if it is sound: every `sanity:` assertion of
//! the scenario held (no client-side errors, the loadgen kept its schedule and was not
//! saturated) and other processes left the machine alone; otherwise the verdict is "not
//! measured (why)". A sound run decides from the claim's assertions, its opposite's
//! assertions and its checks (thresholds from the article's own numbers); a condition the
//! article does not state turns "holds" into "depends".

use super::figures;
use super::model::Claim;
use crate::report::RunSummary;

pub use crate::report::soundness::{MAX_OTHERS_CPU_PCT, Policy, SANITY, gate};

/// The verdict of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every deciding assertion and check supports the claim.
    Holds,
    /// None does.
    DoesNotHold,
    /// Some do, some do not, or it holds only under a condition the article does not state.
    Depends(String),
    /// No sound run (why).
    NotMeasured(String),
    /// Cannot be measured here (why).
    NotMeasurable(String),
}

impl Verdict {
    /// The verdict without its text: `holds`, `does not hold`, `depends`, `not measured`.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Depends(_) => "depends",
            Verdict::NotMeasured(_) => "not measured",
            Verdict::NotMeasurable(_) => "not measurable here",
        }
    }

    /// A verdict from a sound run (not "not measured").
    pub fn is_measured(&self) -> bool {
        matches!(
            self,
            Verdict::Holds | Verdict::DoesNotHold | Verdict::Depends(_)
        )
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Depends(on) if on.is_empty() => write!(f, "depends"),
            Verdict::Depends(on) => write!(f, "depends {on}"),
            Verdict::NotMeasured(why) | Verdict::NotMeasurable(why) => {
                write!(f, "{} ({why})", self.kind())
            }
            _ => write!(f, "{}", self.kind()),
        }
    }
}

/// What each deciding item of a sound run says: true supports the claim.
fn evidence(c: &Claim, s: &RunSummary, others: &figures::Others) -> Result<Vec<bool>, String> {
    let mut results = Vec::new();
    let named = c.assertions.iter().map(|n| (n, true));
    for (name, supports) in named.chain(c.refuted_by.iter().map(|n| (n, false))) {
        match s.assertions.iter().find(|a| &a.name == name) {
            Some(a) => results.push(a.passed == supports),
            None => return Err(format!("the run has no assertion {name:?}")),
        }
    }
    // The checks decide together: the claim's numbers are met, or they are not.
    if !c.checks.is_empty() {
        let mut all = true;
        for k in &c.checks {
            let v = figures::evaluate_in(s, others, &k.value)?;
            all &= figures::compare(v, &k.op, k.limit)?;
        }
        results.push(all);
    }
    if results.is_empty() {
        return Err("the claim names no assertion and no check".into());
    }
    Ok(results)
}

/// The conditions of a claim as one phrase: `on a; on b`; a check's `reading` of words without
/// a number is one (`on reading "dramatically" as at least halved`).
pub fn conditions_phrase(c: &Claim) -> String {
    c.conditions
        .iter()
        .map(|x| format!("on {x}"))
        .chain(readings(c).map(|r| format!("on reading {r}")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The readings of the claim's checks (words without a number read as a threshold).
pub fn readings(c: &Claim) -> impl Iterator<Item = &str> {
    c.checks
        .iter()
        .filter_map(|k| k.reading.as_deref())
        .filter(|r| !r.trim().is_empty())
}

/// Decides a claim from one run of its scenario, under the default policy.
pub fn verdict(c: &Claim, s: &RunSummary) -> Verdict {
    verdict_under(c, s, &figures::Others::new(), &Policy::default())
}

/// Decides a claim from one run of its scenario (and the other variants' runs its checks read).
pub fn verdict_under(
    c: &Claim,
    s: &RunSummary,
    others: &figures::Others,
    policy: &Policy,
) -> Verdict {
    if let Err(why) = gate(s, policy) {
        return Verdict::NotMeasured(why);
    }
    let results = match evidence(c, s, others) {
        Ok(r) => r,
        Err(why) => return Verdict::NotMeasured(why),
    };
    let all = results.iter().all(|p| *p);
    let any = results.iter().any(|p| *p);
    let cond = conditions_phrase(c);
    match (all, any) {
        (true, _) if cond.is_empty() => Verdict::Holds,
        (true, _) => Verdict::Depends(format!("(holds only {cond})")),
        (false, false) => Verdict::DoesNotHold,
        (false, true) => {
            let sep = if c.depends.is_empty() || cond.is_empty() {
                ""
            } else {
                "; "
            };
            Verdict::Depends(format!("{}{sep}{cond}", c.depends))
        }
    }
}

/// The verdict over a sweep: each point's verdict; holds if every point holds, does not hold if
/// none does, otherwise depends on the parameter, naming where it holds and where not.
pub fn over_range(parameter: &str, points: &[(String, Verdict)]) -> Verdict {
    if let Some((x, v)) = points.iter().find(|(_, v)| !v.is_measured()) {
        return Verdict::NotMeasured(format!("{parameter} {x}: {v}"));
    }
    if points.is_empty() {
        return Verdict::NotMeasured("the sweep has no point".into());
    }
    let fails: Vec<&str> = points
        .iter()
        .filter(|(_, v)| *v != Verdict::Holds)
        .map(|(x, _)| x.as_str())
        .collect();
    let holds: Vec<&str> = points
        .iter()
        .filter(|(_, v)| *v == Verdict::Holds)
        .map(|(x, _)| x.as_str())
        .collect();
    match (holds.is_empty(), fails.is_empty()) {
        (_, true) => Verdict::Holds,
        (true, _) => Verdict::DoesNotHold,
        _ => Verdict::Depends(format!(
            "on {parameter}: holds at {}; not at {}",
            holds.join(", "),
            fails.join(", ")
        )),
    }
}

/// A fidelity defect: our proxy's verdict differs from real nginx's on the same scenario.
pub fn fidelity(judged: &Verdict, ours: &Verdict) -> Option<String> {
    (judged.is_measured() && ours.is_measured() && judged.kind() != ours.kind()).then(|| {
        format!(
            "fidelity defect: nginx {}, our proxy {}",
            judged.kind(),
            ours.kind()
        )
    })
}
