//! A finding: what is wrong, where (deployed file:line), how bad, the probe that shows it and
//! the fix. `findings.json` is a list of these.

use super::rewrite::Patch;
use serde::Serialize;

/// How bad a finding is (ordered: `Info < Low < Medium < High`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information (mapping notes, fidelity defects of our proxy).
    Info,
    /// Worth a look.
    Low,
    /// Wrong behaviour under some traffic.
    Medium,
    /// Errors, outages or exposure under the probes.
    High,
}

impl Severity {
    /// Parses `high|medium|low|info` (and `none`: nothing fails).
    pub fn parse(s: &str) -> Option<Option<Severity>> {
        Some(Some(match s {
            "high" => Severity::High,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            "info" => Severity::Info,
            "none" => return Some(None),
            _ => return None,
        }))
    }

    /// `high`, `medium`, `low`, `info`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Unique id: `CHECK@FILE:LINE`.
    pub id: String,
    /// The check that raised it (`limit-req-503`, see docs/audit.md).
    pub check: String,
    /// Severity.
    pub severity: Severity,
    /// Deployed file.
    pub file: String,
    /// Line in it.
    pub line: u32,
    /// One line.
    pub title: String,
    /// What happens and why.
    pub detail: String,
    /// The probe that shows it (None: static only).
    pub probe: Option<String>,
    /// The probe's run directory (None: not run).
    pub evidence: Option<String>,
    /// The exact change (None: no standard remedy).
    pub fix: Option<String>,
    /// The fix as tried: the probe again with the change applied (run directory).
    pub fix_evidence: Option<String>,
    /// true: our proxy and real nginx disagree here; a defect of proxylab, not of the config.
    pub fidelity: bool,
    /// The change as a patch of the rewritten config (for the fix variant).
    #[serde(skip)]
    pub patch: Option<Patch>,
}

impl Finding {
    /// A finding of `check` at `at` (`file:line`).
    pub fn new(check: &str, severity: Severity, at: &str, title: impl Into<String>) -> Finding {
        let (file, line) = split_at(at);
        Finding {
            id: format!("{check}@{}:{line}", short(&file)),
            check: check.into(),
            severity,
            file,
            line,
            title: title.into(),
            detail: String::new(),
            probe: None,
            evidence: None,
            fix: None,
            fix_evidence: None,
            fidelity: false,
            patch: None,
        }
    }

    /// Sets the detail.
    pub fn detail(mut self, d: impl Into<String>) -> Finding {
        self.detail = d.into();
        self
    }

    /// Sets the probe that can show it.
    pub fn probe(mut self, p: &str) -> Finding {
        self.probe = Some(p.into());
        self
    }

    /// Sets the fix text and the patch that applies it.
    pub fn fix(mut self, text: impl Into<String>, patch: Option<Patch>) -> Finding {
        self.fix = Some(text.into());
        self.patch = patch;
        self
    }

    /// `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Splits `file:line`.
pub fn split_at(at: &str) -> (String, u32) {
    match at.rsplit_once(':') {
        Some((f, l)) => (f.to_string(), l.parse().unwrap_or(0)),
        None => (at.to_string(), 0),
    }
}

fn short(f: &str) -> &str {
    std::path::Path::new(f)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(f)
}

/// Sorts by severity (highest first), then file and line.
pub fn sort(v: &mut [Finding]) {
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
}
