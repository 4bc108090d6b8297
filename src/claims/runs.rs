//! Finding the run that judges a claim: run directories (`<root>/<scenario>/<run>/summary.json`)
//! under `reports/` and under the committed evidence (`docs/claims/`), the variant labels that
//! count (`nginx` and its CI-length `nginx+ci`), and the latest sound one.

use super::verdict;
use crate::report::RunSummary;
use std::path::{Path, PathBuf};

/// One run directory and its summary.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// Its `summary.json`.
    pub summary: RunSummary,
}

impl Run {
    /// The run directory's name (`20261126T075320Z-nginx+ci`): timestamps sort in time order.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Whether a run's variant label counts as `want`: the label itself, or its CI-length run
/// (`want+ci`; `ci` for `base`).
pub fn label_matches(label: &str, want: &str) -> bool {
    let want = want.trim();
    label == want
        || (want == "base" && label == "ci")
        || label
            .strip_suffix("+ci")
            .is_some_and(|l| l == want || (want == "base" && l.is_empty()))
}

/// Every run of `scenario` under the roots, oldest first (by directory name, then root order).
pub fn runs_of(roots: &[PathBuf], scenario: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(root.join(scenario)) else {
            continue;
        };
        for e in entries.flatten() {
            let dir = e.path();
            let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) else {
                continue;
            };
            if let Ok(summary) = serde_json::from_str::<RunSummary>(&text) {
                runs.push(Run { dir, summary });
            }
        }
    }
    runs.sort_by_key(|r| r.name());
    // the same run in reports/ and in the evidence: keep the first root's copy
    runs.dedup_by(|b, a| a.name() == b.name());
    runs
}

/// The run that judges `variant` (or the CI-length combination `ci`, when given): the latest
/// sound one; without one, the latest run and why it is not sound; None when no run of that
/// variant exists.
pub fn pick<'a>(
    runs: &'a [Run],
    variant: &str,
    ci: Option<&str>,
    policy: &verdict::Policy,
) -> Option<(&'a Run, Result<(), String>)> {
    let of: Vec<&Run> = runs
        .iter()
        .filter(|r| label_matches(&r.summary.variant, variant) || ci == Some(&r.summary.variant))
        .collect();
    if let Some(r) = of
        .iter()
        .rev()
        .find(|r| verdict::gate(&r.summary, policy).is_ok())
    {
        return Some((r, Ok(())));
    }
    let last = of.last()?;
    Some((last, verdict::gate(&last.summary, policy)))
}

/// A path relative to `from_dir` (both made absolute first).
pub fn rel(from_dir: &Path, to: &Path) -> String {
    let abs = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|c| c.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        })
    };
    let (a, b) = (abs(from_dir), abs(to));
    let common = a
        .components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .count();
    let mut p = PathBuf::new();
    for _ in 0..a.components().count() - common {
        p.push("..");
    }
    for c in b.components().skip(common) {
        p.push(c);
    }
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_labels_include_their_ci_runs() {
        assert!(label_matches("nginx", "nginx"));
        assert!(label_matches("nginx+ci", "nginx"));
        assert!(label_matches("base", "base"));
        assert!(label_matches("ci", "base"));
        assert!(!label_matches("nginx", "base"));
        assert!(!label_matches("nginx+fix+ci", "nginx"));
        assert!(label_matches("nginx+fix+ci", "nginx+fix"));
        assert!(!label_matches("ci", "nginx"));
    }
}
