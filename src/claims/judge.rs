//! Judging every claim of a ledger against the runs on disk: for each claim the run that judges
//! it (or why none does), our proxy's run beside it, each sweep point, and the figures shown.

use super::figures::{self, measure_label};
use super::model::{Claim, Ledger};
use super::runs::{self, Run};
use super::verdict::{self, Policy, Verdict};
use std::path::PathBuf;

/// One run's part in a judgement.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The variant asked for.
    pub variant: String,
    /// The run used, when one exists.
    pub run: Option<Run>,
    /// Its verdict.
    pub verdict: Verdict,
}

/// One point of a sweep.
#[derive(Debug, Clone)]
pub struct Point {
    /// The parameter's value.
    pub x: String,
    /// The run and verdict there.
    pub judged: Judged,
}

/// Another variant's run a claim's checks read (`@VARIANT:path`).
#[derive(Debug, Clone)]
pub struct Reference {
    /// The variant.
    pub variant: String,
    /// Its latest sound run (or the latest run, unsound), when one exists.
    pub run: Option<Run>,
    /// Sound, or why not.
    pub sound: Result<(), String>,
}

/// A claim with its verdicts.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The claim.
    pub claim: Claim,
    /// The judged run (the sweep's verdict over the range for a sweep).
    pub judged: Judged,
    /// Our proxy's run beside it.
    pub ours: Option<Judged>,
    /// The sweep's points, in order.
    pub points: Vec<Point>,
    /// Other variants' runs its checks read.
    pub refs: Vec<Reference>,
    /// The same as figures for the checks.
    pub others: figures::Others,
}

impl Judgement {
    /// The verdict.
    pub fn verdict(&self) -> &Verdict {
        &self.judged.verdict
    }

    /// A fidelity defect of our proxy, when our verdict differs from nginx's.
    pub fn fidelity(&self) -> Option<String> {
        let ours = self.ours.as_ref()?;
        verdict::fidelity(&self.judged.verdict, &ours.verdict)
    }
}

/// Judges `c` on `variant` among `runs` (all runs of its scenario).
fn judge_variant(c: &Claim, runs: &[Run], v: (&str, Option<&str>), ctx: Ctx<'_>) -> Judged {
    let (variant, ci) = v;
    let (others, policy) = ctx;
    let scenario = c.scenario.as_deref().unwrap_or_default();
    match runs::pick(runs, variant, ci, policy) {
        None => Judged {
            variant: variant.into(),
            run: None,
            verdict: Verdict::NotMeasured(format!("no run of {scenario} [{variant}]")),
        },
        Some((r, Err(why))) => Judged {
            variant: variant.into(),
            run: Some(r.clone()),
            verdict: Verdict::NotMeasured(why),
        },
        Some((r, Ok(()))) => Judged {
            variant: variant.into(),
            run: Some(r.clone()),
            verdict: verdict::verdict_under(c, &r.summary, others, policy),
        },
    }
}

/// What judging a variant needs besides the claim: the other variants' figures, the policy.
type Ctx<'a> = (&'a figures::Others, &'a Policy);

/// The variants a claim's checks and figures read (`@VARIANT:path`), each once.
pub fn referenced(c: &Claim) -> Vec<String> {
    let mut v: Vec<String> = c
        .checks
        .iter()
        .map(|k| k.value.as_str())
        .chain(c.measure.iter().map(String::as_str))
        .flat_map(figures::variants_in)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn references(c: &Claim, runs: &[Run], policy: &Policy) -> Vec<Reference> {
    referenced(c)
        .into_iter()
        .map(|variant| match runs::pick(runs, &variant, None, policy) {
            None => Reference {
                sound: Err(format!("no run of variant {variant}")),
                variant,
                run: None,
            },
            Some((r, sound)) => Reference {
                variant,
                run: Some(r.clone()),
                sound,
            },
        })
        .collect()
}

fn others_of(refs: &[Reference]) -> figures::Others {
    refs.iter()
        .map(|r| {
            let v = match (&r.run, &r.sound) {
                (Some(run), Ok(())) => Ok(run.summary.clone()),
                (_, Err(why)) => Err(why.clone()),
                (None, Ok(())) => Err("no run".into()),
            };
            (r.variant.clone(), v)
        })
        .collect()
}

/// Judges one claim against the runs under `roots`.
pub fn judge(c: &Claim, roots: &[PathBuf], policy: &Policy) -> Judgement {
    let unmeasured = |v: Verdict| Judgement {
        claim: c.clone(),
        judged: Judged {
            variant: String::new(),
            run: None,
            verdict: v,
        },
        ours: None,
        points: Vec::new(),
        refs: Vec::new(),
        others: figures::Others::new(),
    };
    if let Some(why) = &c.not_measurable {
        return unmeasured(Verdict::NotMeasurable(why.clone()));
    }
    let Some(scenario) = &c.scenario else {
        let why = c.pending.clone().unwrap_or_default();
        return unmeasured(Verdict::NotMeasured(format!("no scenario yet: {why}")));
    };
    let runs = runs::runs_of(roots, scenario);
    let refs = references(c, &runs, policy);
    let others = others_of(&refs);
    let ctx = (&others, policy);
    let ours = c
        .ours
        .as_deref()
        .map(|v| judge_variant(c, &runs, (v, None), ctx));
    let Some(sweep) = &c.sweep else {
        return Judgement {
            claim: c.clone(),
            judged: judge_variant(c, &runs, (&c.variant, None), ctx),
            ours,
            points: Vec::new(),
            refs,
            others,
        };
    };
    // Each point is judged on its own; the conditions apply to the verdict over the range.
    let bare = Claim {
        conditions: Vec::new(),
        ..c.clone()
    };
    let points: Vec<Point> = sweep
        .point
        .iter()
        .map(|p| Point {
            x: p.x.clone(),
            judged: judge_variant(&bare, &runs, (&p.variant, p.ci.as_deref()), ctx),
        })
        .collect();
    let pairs: Vec<(String, Verdict)> = points
        .iter()
        .map(|p| (p.x.clone(), p.judged.verdict.clone()))
        .collect();
    let over = verdict::over_range(&sweep.parameter, &pairs);
    let cond = verdict::conditions_phrase(c);
    let over = match over {
        Verdict::Holds if !cond.is_empty() => Verdict::Depends(format!("(holds only {cond})")),
        v => v,
    };
    Judgement {
        claim: c.clone(),
        judged: Judged {
            variant: c.variant.clone(),
            run: None,
            verdict: over,
        },
        ours,
        points,
        refs,
        others,
    }
}

/// Judges every claim of the ledger.
pub fn judge_all(ledger: &Ledger, roots: &[PathBuf], policy: &Policy) -> Vec<Judgement> {
    ledger
        .claim
        .iter()
        .map(|c| judge(c, roots, policy))
        .collect()
}

/// The figures of `entries` in a run: `label = value; …` (`?` when absent).
pub fn figures_of(run: &Run, entries: &[String], others: &figures::Others) -> String {
    entries
        .iter()
        .map(|entry| {
            let (label, p) = measure_label(entry);
            let v = if figures::is_expression(p) {
                figures::evaluate_in(&run.summary, others, p).map_or("?".into(), figures::show_f64)
            } else {
                figures::measure(&run.summary, p).map_or("?".into(), |v| figures::show(&v))
            };
            format!("{label} = {v}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The checks of a claim against a run: `name: 23.4 >= 30 (not met)`.
pub fn checks_of(c: &Claim, run: &Run, others: &figures::Others) -> Vec<String> {
    c.checks
        .iter()
        .map(
            |k| match figures::evaluate_in(&run.summary, others, &k.value) {
                Ok(v) => {
                    let met = figures::compare(v, &k.op, k.limit).unwrap_or(false);
                    format!(
                        "{}: {} {} {} ({})",
                        k.name,
                        figures::show_f64(v),
                        k.op,
                        figures::show_f64(k.limit),
                        if met { "met" } else { "not met" }
                    )
                }
                Err(e) => format!("{}: {e}", k.name),
            },
        )
        .collect()
}
