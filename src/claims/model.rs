//! The claims list (`scenarios/claims.toml`) as typed data: one `[[claim]]` per concrete,
//! checkable statement of the article, either measured by a scenario run or marked as not
//! measurable here (with the reason).

use serde::Deserialize;
use std::path::Path;

/// The ledger file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// Claims in the order they are published.
    #[serde(default)]
    pub claim: Vec<Claim>,
}

/// What a claim is about: decides which run judges it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// nginx's behaviour: judged on real nginx (`[proxy] kind = "nginx"`).
    Nginx,
    /// Uvicorn's behaviour: judged on real uvicorn where the scenario has it.
    Uvicorn,
    /// Anything else (the app, the database pool, systemd, the setup as a whole).
    #[default]
    Other,
}

/// One claim of the article.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Short unique id (anchor in the page).
    pub id: String,
    /// The claim as the article makes it (paraphrased).
    pub text: String,
    /// The article's own number or wording: thresholds of `checks` come from its numbers.
    #[serde(default)]
    pub article: String,
    /// What the claim is about.
    #[serde(default)]
    pub subject: Subject,
    /// Why this claim cannot be measured here (a public CDN, a public CA, a survey figure).
    #[serde(default)]
    pub not_measurable: Option<String>,
    /// Measurable, but no scenario measures it yet: what is missing.
    #[serde(default)]
    pub pending: Option<String>,
    /// Scenario name (`scenarios/<scenario>.toml`, `reports/<scenario>/<run>/`).
    #[serde(default)]
    pub scenario: Option<String>,
    /// The variant that judges the claim (`base`, `nginx`); its CI-length runs (`nginx+ci`)
    /// count too.
    #[serde(default = "base")]
    pub variant: String,
    /// Our proxy's run of the same scenario, shown beside the judged one (nginx claims).
    #[serde(default)]
    pub ours: Option<String>,
    /// Assertion names whose verdicts support the claim.
    #[serde(default)]
    pub assertions: Vec<String>,
    /// Assertion names that encode its opposite: the claim holds only if none held.
    #[serde(default)]
    pub refuted_by: Vec<String>,
    /// Thresholds taken from the claim's own numbers, checked against the run's figures.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Conditions of the scenario that the article does not state (a smaller keepalive pool,
    /// a lower rate): a verdict under them is at best "depends".
    #[serde(default)]
    pub conditions: Vec<String>,
    /// A parameter swept over variants: the verdict is stated over the whole range.
    #[serde(default)]
    pub sweep: Option<Sweep>,
    /// Figures to show: dotted paths into summary.json, optionally `label=path`.
    #[serde(default)]
    pub measure: Vec<String>,
    /// Plot stem to show (`status`, `latency`, `cpu`, `connections`, `distribution`).
    #[serde(default)]
    pub plot: Option<String>,
    /// What the outcome depends on (printed with every verdict).
    #[serde(default)]
    pub depends: String,
    /// Caveats of the measurement (printed with every verdict).
    #[serde(default)]
    pub note: String,
}

fn base() -> String {
    "base".into()
}

/// A threshold from the claim's own numbers: `value OP limit`, `limit` one of the numbers of
/// the claim's `article` text ("up to 30 %" → 30, "10K req/s" → 10000), or, for a claim
/// without a number, a `reading` of its words that is printed as a condition.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// What is checked, shown in the page.
    pub name: String,
    /// The measured figure: a summary path, or `saving(A, B)` (percent by which B is below A),
    /// `ratio(A, B)`, `diff(A, B)`, `percent(A, B)` (A as a percent of B).
    pub value: String,
    /// `<`, `<=`, `>`, `>=`.
    pub op: String,
    /// The threshold.
    pub limit: f64,
    /// For a claim that gives no number ("reduces context switching dramatically"): how its
    /// word is read (`"dramatically" as at least halved`). The limit then need not come from
    /// the article, and the reading counts as a condition: the verdict is at best "depends".
    #[serde(default)]
    pub reading: Option<String>,
}

/// One parameter swept over variants of the scenario, read as a curve.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The parameter (`think time - keep-alive timeout`).
    pub parameter: String,
    /// The range the article implies, in words (what the verdict is stated over).
    #[serde(default)]
    pub range: String,
    /// The points, in order.
    pub point: Vec<SweepPoint>,
    /// Figures of each point (`measure` entries).
    #[serde(default)]
    pub measure: Vec<String>,
}

/// One point of a sweep.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SweepPoint {
    /// The parameter's value, as shown.
    pub x: String,
    /// The variant (combination) that runs it (`nginx+gap-m100`); its `+ci` run counts too.
    pub variant: String,
    /// The CI-length combination when `variant+ci` would undo the point (`ci` sets the same
    /// keys): e.g. `nginx+ci+gapci-m10`, run as written.
    #[serde(default)]
    pub ci: Option<String>,
}

/// Why a ledger file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Unreadable file.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Bad TOML or an unknown key (file:line: key).
    #[error("{0}")]
    Parse(String),
    /// Duplicate ids and other inconsistencies.
    #[error("{0}: {1}")]
    Invalid(String, String),
}

impl Ledger {
    /// Reads and checks a ledger file.
    pub fn load(path: &Path) -> Result<Ledger, LedgerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LedgerError::Io(path.display().to_string(), e))?;
        let l: Ledger = toml::from_str(&text).map_err(|e| {
            LedgerError::Parse(crate::scenario::error::from_toml(path, &text, &e).to_string())
        })?;
        let bad = |m: String| LedgerError::Invalid(path.display().to_string(), m);
        let mut seen = std::collections::BTreeSet::new();
        for c in &l.claim {
            if !seen.insert(c.id.as_str()) {
                return Err(bad(format!("claim id {:?} appears twice", c.id)));
            }
            let kinds = [
                c.scenario.is_some(),
                c.not_measurable.is_some(),
                c.pending.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                return Err(bad(format!(
                    "claim {:?}: exactly one of `scenario`, `not_measurable`, `pending`",
                    c.id
                )));
            }
        }
        Ok(l)
    }
}
