//! `proxylab claims`: the claims ledger. Reads a list of the article's claims (TOML), finds the
//! latest run of the scenario that tests each one, and writes `docs/claims.md`: the claim, the
//! article's number, the measured figures, a verdict from the run's assertions, and the plot.
//!
//! ```toml
//! [[claim]]
//! id = "limit-req-429"
//! text = "overflow gets 429 responses"
//! article = "429 Too Many Requests"      # the article's own number or wording
//! scenario = "spike-rate-limit"          # reports/<scenario>/<run>/summary.json
//! variant = "base"                       # optional: only runs of this variant
//! assertions = ["spike overflow is 429"] # names of [[assert]]s that encode the claim
//! refuted_by = ["default overflow is 503"] # names of [[assert]]s that encode its opposite
//! measure = ["total.status.429", "spike p99 ms=phases.spike.latency_ms.p99"] # figures to show
//! plot = "status"                        # plot of the run to show
//! depends = "on limit_req_status"        # shown when the assertions disagree
//! note = "2 vCPUs, load generator on the same cores" # caveats, always shown
//! ```
//!
//! A `measure` entry is a dotted path into summary.json, optionally labelled `label=path` (a
//! label has no `.`); `assertions.NAME.actual` reaches an assertion's measured value.

use crate::report::RunSummary;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The ledger file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// Claims in the order they are published.
    #[serde(default)]
    pub claim: Vec<Claim>,
}

/// One claim of the article.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Short unique id (anchor in the page).
    pub id: String,
    /// The claim as the article makes it.
    pub text: String,
    /// The article's own number or wording.
    #[serde(default)]
    pub article: String,
    /// Scenario name (report directory).
    pub scenario: String,
    /// Only runs of this variant label (`base`, `nginx`, `nginx+ci`).
    #[serde(default)]
    pub variant: Option<String>,
    /// Assertion names whose verdicts decide the claim.
    #[serde(default)]
    pub assertions: Vec<String>,
    /// Assertion names that encode the opposite of the claim (e.g. "the overflow is 503" against
    /// "the overflow gets 429"): the claim holds only if none of them held.
    #[serde(default)]
    pub refuted_by: Vec<String>,
    /// Dotted paths into summary.json to print as the measured result.
    #[serde(default)]
    pub measure: Vec<String>,
    /// Plot stem to show (`status`, `latency`, `cpu`, `connections`, `distribution`).
    #[serde(default)]
    pub plot: Option<String>,
    /// What the outcome depends on, shown when the assertions disagree.
    #[serde(default)]
    pub depends: String,
    /// Caveats of the measurement (machine, scaling), always shown with the details.
    #[serde(default)]
    pub note: String,
}

/// Splits a `measure` entry into its label and its path: `label=path`, where the label has no
/// `.`; without a label the path is its own label.
pub fn measure_label(entry: &str) -> (&str, &str) {
    match entry.split_once('=') {
        Some((label, path)) if !label.contains('.') && !label.trim().is_empty() => {
            (label.trim(), path.trim())
        }
        _ => (entry, entry),
    }
}

/// The verdict of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every deciding assertion held.
    Holds,
    /// None held.
    DoesNotHold,
    /// Some held, some did not.
    Depends(String),
    /// No run, or the run lacks the named assertions.
    NotMeasured(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Holds => write!(f, "holds"),
            Verdict::DoesNotHold => write!(f, "does not hold"),
            Verdict::Depends(on) if on.is_empty() => write!(f, "depends"),
            Verdict::Depends(on) => write!(f, "depends {on}"),
            Verdict::NotMeasured(why) => write!(f, "not measured ({why})"),
        }
    }
}

/// Decides a claim from a run summary.
pub fn verdict(c: &Claim, s: &RunSummary) -> Verdict {
    if c.assertions.is_empty() && c.refuted_by.is_empty() {
        return Verdict::NotMeasured("the claim names no assertion".into());
    }
    let mut results = Vec::new();
    let named = c.assertions.iter().map(|n| (n, true));
    for (name, supports) in named.chain(c.refuted_by.iter().map(|n| (n, false))) {
        match s.assertions.iter().find(|a| &a.name == name) {
            Some(a) => results.push(a.passed == supports),
            None => return Verdict::NotMeasured(format!("the run has no assertion {name:?}")),
        }
    }
    match (results.iter().all(|p| *p), results.iter().any(|p| *p)) {
        (true, _) => Verdict::Holds,
        (false, false) => Verdict::DoesNotHold,
        (false, true) => Verdict::Depends(c.depends.clone()),
    }
}

/// Looks up a dotted path (`total.status.429`, `phases.spike.latency_ms.p99`: arrays of named
/// objects are indexed by `name`, and a name may itself contain dots: `assertions.api.1 up.actual`
/// finds the assertion named `api.1 up`) in a summary.
pub fn measure(s: &RunSummary, path: &str) -> Option<serde_json::Value> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut v = serde_json::to_value(s).ok()?;
    let mut i = 0;
    while i < segs.len() {
        v = match v {
            serde_json::Value::Object(mut m) => {
                i += 1;
                m.remove(segs[i - 1])?
            }
            serde_json::Value::Array(a) => {
                // the longest run of segments that names an element
                let (k, x) = (1..=segs.len() - i).rev().find_map(|k| {
                    let name = segs[i..i + k].join(".");
                    a.iter()
                        .find(|x| x.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
                        .map(|x| (k, x.clone()))
                })?;
                i += k;
                x
            }
            _ => return None,
        };
    }
    Some(v)
}

/// The latest run directory of `scenario` under `reports` (optionally of one variant).
pub fn latest_run(
    reports: &Path,
    scenario: &str,
    variant: Option<&str>,
) -> Option<(PathBuf, RunSummary)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(reports.join(scenario))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter().rev().find_map(|d| {
        let s: RunSummary =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).ok()?).ok()?;
        (variant.is_none_or(|v| v == s.variant)).then_some((d, s))
    })
}

/// A measured value for the page: whole numbers and non-numbers as JSON (`2350.0`), others with
/// one decimal from 10 up (`21.108` → `21.1`) and up to three below (`0.141`).
fn show(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => v.to_string(),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        None => v.to_string(),
    }
}

fn rel(from_dir: &Path, to: &Path) -> String {
    let a = std::fs::canonicalize(from_dir).unwrap_or_else(|_| from_dir.to_path_buf());
    let b = std::fs::canonicalize(to).unwrap_or_else(|_| to.to_path_buf());
    let common = a
        .components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .count();
    let ups = a.components().count() - common;
    let mut p = PathBuf::new();
    for _ in 0..ups {
        p.push("..");
    }
    for c in b.components().skip(common) {
        p.push(c);
    }
    p.display().to_string()
}

/// Renders the Markdown page for `ledger` against the runs under `reports`; `out_dir` is where
/// the page will live (links are relative to it).
pub fn render(ledger: &Ledger, reports: &Path, out_dir: &Path) -> String {
    let mut md = String::from(
        "# The article's claims, measured\n\nGenerated by `proxylab claims` from the latest run of each scenario; \
         the verdict comes from the scenario's assertions.\n\n| claim | article | scenario | measured | verdict |\n|---|---|---|---|---|\n",
    );
    let mut details = String::new();
    for c in &ledger.claim {
        let run = latest_run(reports, &c.scenario, c.variant.as_deref());
        let (measured, verdict, run_dir) = match &run {
            None => (
                String::new(),
                Verdict::NotMeasured(format!(
                    "no run of {} under {}",
                    c.scenario,
                    reports.display()
                )),
                None,
            ),
            Some((d, s)) => {
                let m: Vec<String> = c
                    .measure
                    .iter()
                    .map(|entry| {
                        let (label, p) = measure_label(entry);
                        format!(
                            "{label} = {}",
                            measure(s, p).map_or("?".into(), |v| show(&v))
                        )
                    })
                    .collect();
                (m.join("; "), verdict(c, s), Some(d))
            }
        };
        let _ = writeln!(
            md,
            "| [{}](#{}) | {} | {} | {} | **{}** |",
            c.text, c.id, c.article, c.scenario, measured, verdict
        );
        let _ = writeln!(
            details,
            "\n## {} {{#{}}}\n\n> {}\n\n- article: {}\n- scenario: `{}`{}\n- measured: {}\n- verdict: **{}**",
            c.id,
            c.id,
            c.text,
            c.article,
            c.scenario,
            c.variant
                .as_ref()
                .map_or(String::new(), |v| format!(" [{v}]")),
            measured,
            verdict
        );
        if !c.note.is_empty() {
            let _ = writeln!(details, "- caveats: {}", c.note);
        }
        if let Some(d) = run_dir {
            let _ = writeln!(
                details,
                "- run: [{}]({})",
                d.display(),
                rel(out_dir, &d.join("index.html"))
            );
            if let Some(p) = &c.plot {
                let _ = writeln!(
                    details,
                    "\n![{p}]({})",
                    rel(out_dir, &d.join(format!("{p}.png")))
                );
            }
        }
    }
    md.push_str(&details);
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::assertions::Verdict as V;

    fn run(passed: &[(&str, bool)]) -> RunSummary {
        let mut s = RunSummary::default();
        for (n, p) in passed {
            s.assertions.push(V {
                name: n.to_string(),
                metric: "requests".into(),
                phase: "all".into(),
                population: "all".into(),
                op: ">".into(),
                limit: 0.0,
                actual: Some(1.0),
                unit: "count".into(),
                passed: *p,
                note: String::new(),
                line: 1,
            });
        }
        s.total.status.insert("429".into(), 7.0);
        s
    }

    fn claim(names: &[&str]) -> Claim {
        Claim {
            id: "x".into(),
            text: "t".into(),
            article: String::new(),
            scenario: "s".into(),
            variant: None,
            assertions: names.iter().map(|s| s.to_string()).collect(),
            refuted_by: vec![],
            measure: vec![],
            plot: None,
            depends: "on the config".into(),
            note: String::new(),
        }
    }

    #[test]
    fn verdicts_follow_the_assertions() {
        let s = run(&[("a", true), ("b", false)]);
        assert_eq!(verdict(&claim(&["a"]), &s), Verdict::Holds);
        assert_eq!(verdict(&claim(&["b"]), &s), Verdict::DoesNotHold);
        assert_eq!(
            verdict(&claim(&["a", "b"]), &s),
            Verdict::Depends("on the config".into())
        );
        assert!(matches!(
            verdict(&claim(&["zz"]), &s),
            Verdict::NotMeasured(_)
        ));
        let mut refuted = claim(&[]);
        refuted.refuted_by = vec!["a".into()];
        assert_eq!(verdict(&refuted, &s), Verdict::DoesNotHold);
        refuted.assertions = vec!["a".into()];
        assert_eq!(
            verdict(&refuted, &s),
            Verdict::Depends("on the config".into())
        );
        refuted.refuted_by = vec!["b".into()];
        assert_eq!(verdict(&refuted, &s), Verdict::Holds);
        assert_eq!(
            measure(&s, "total.status.429"),
            Some(serde_json::json!(7.0))
        );
        assert_eq!(measure(&s, "total.nope"), None);
        assert_eq!(
            measure(&s, "assertions.a.passed"),
            Some(serde_json::json!(true))
        );
        let dotted = run(&[("api.1 up (> 3.5 %)", true)]);
        assert_eq!(
            measure(&dotted, "assertions.api.1 up (> 3.5 %).actual"),
            Some(serde_json::json!(1.0))
        );
        assert_eq!(measure(&dotted, "assertions.api.2 up.actual"), None);
    }

    #[test]
    fn measure_entries_take_an_optional_label() {
        assert_eq!(
            measure_label("total.status.429"),
            ("total.status.429", "total.status.429")
        );
        assert_eq!(
            measure_label("429s=total.status.429"),
            ("429s", "total.status.429")
        );
        assert_eq!(
            measure_label("assertions.fails=3 probes.actual"),
            (
                "assertions.fails=3 probes.actual",
                "assertions.fails=3 probes.actual"
            )
        );
        assert_eq!(show(&serde_json::json!(2350.0)), "2350.0");
        assert_eq!(show(&serde_json::json!(7)), "7");
        assert_eq!(show(&serde_json::json!(21.108732872)), "21.1");
        assert_eq!(show(&serde_json::json!(0.141)), "0.141");
        assert_eq!(show(&serde_json::json!(0.5)), "0.5");
        assert_eq!(show(&serde_json::json!("x")), "\"x\"");
    }
}
