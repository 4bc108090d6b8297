//! Checks a ledger against the scenario files without running anything: every measured claim
//! names a scenario file whose variants (the judged one, ours, each sweep point, each also at CI
//! length) exist and carry the named assertions and the sanity assertions; a claim about nginx
//! is judged on real nginx; a check's threshold is one of the article's own numbers. Also
//! lists the runs the ledger needs (`proxylab claims --run`).

use super::figures;
use super::model::{Claim, Ledger, Subject};
use super::verdict::SANITY;
use crate::scenario::{self, Overrides, ProxyKind, Scenario};
use std::path::{Path, PathBuf};

/// The sanity assertions every judged run needs, by metric prefix.
pub const SANITY_METRICS: [(&str, &str); 3] = [
    ("error_count.other", "no client-side errors"),
    ("schedule_lag.", "the loadgen kept its schedule"),
    ("cpu.loadgen", "the loadgen was not saturated"),
];

/// One run the ledger needs: the scenario file and a variant combination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Needed {
    /// `scenarios/<scenario>.toml`.
    pub file: PathBuf,
    /// Full length: `nginx`, `base`, `nginx+gap-0`.
    pub variant: String,
    /// CI length: `nginx+ci`, or a sweep point's own CI combination.
    pub ci: String,
}

/// One variant a claim reads: full-length combination, CI-length one, the proxy it must run,
/// and whether it must carry the claim's assertions (not a variant only its checks read).
type Reads = (String, String, Option<ProxyKind>, bool);

/// The variant combinations a claim reads, with what each must be run on.
fn variants_of(c: &Claim) -> Vec<Reads> {
    let judged = match c.subject {
        Subject::Nginx => Some(ProxyKind::Nginx),
        _ => None,
    };
    let with_ci = |v: &str| format!("{v}+ci");
    let mut v = Vec::new();
    match &c.sweep {
        Some(s) => v.extend(s.point.iter().map(|p| {
            let ci = p.ci.clone().unwrap_or_else(|| with_ci(&p.variant));
            (p.variant.clone(), ci, judged, true)
        })),
        None => v.push((c.variant.clone(), with_ci(&c.variant), judged, true)),
    }
    if let Some(o) = &c.ours {
        v.push((o.clone(), with_ci(o), Some(ProxyKind::Proxylab), true));
    }
    for r in super::judge::referenced(c) {
        v.push((r.clone(), with_ci(&r), None, false));
    }
    v
}

fn load(file: &Path, variant: &str) -> Result<Scenario, String> {
    let names: Vec<String> = variant
        .split('+')
        .map(str::trim)
        .filter(|x| !x.is_empty() && *x != "base")
        .map(str::to_string)
        .collect();
    let ov = Overrides {
        variants: names,
        proxy: None,
    };
    scenario::load(file, &ov).map_err(|e| e.to_string())
}

fn check_scenario(
    c: &Claim,
    s: &Scenario,
    label: &str,
    read: (Option<ProxyKind>, bool),
) -> Vec<String> {
    let (kind, names) = read;
    let mut bad = Vec::new();
    let has = |n: &str| s.asserts.iter().any(|a| a.name == n);
    for n in c.assertions.iter().chain(&c.refuted_by) {
        if names && !has(n) {
            bad.push(format!("[{label}] has no assertion {n:?}"));
        }
    }
    for (prefix, what) in SANITY_METRICS {
        let ok = s
            .asserts
            .iter()
            .any(|a| a.name.starts_with(SANITY) && a.metric.to_string().starts_with(prefix));
        if !ok {
            bad.push(format!(
                "[{label}] has no `{SANITY}` assertion on {prefix}… ({what})"
            ));
        }
    }
    let real_uvicorn = s
        .upstreams
        .iter()
        .any(|p| p.kind == crate::scenario::raw::UpstreamKind::Uvicorn);
    if c.subject == Subject::Uvicorn && !real_uvicorn && !c.note.contains("fake Uvicorn") {
        bad.push(format!(
            "[{label}] runs no real uvicorn: say so in the note (\"the fake Uvicorn …\")"
        ));
    }
    if let Some(k) = kind.filter(|k| *k != s.proxy.kind) {
        bad.push(format!(
            "[{label}] runs {}, the claim needs {}",
            scenario::kind_name(s.proxy.kind),
            scenario::kind_name(k)
        ));
    }
    bad
}

/// What is wrong with one claim against the scenario files in `dir` (empty: nothing).
pub fn check(c: &Claim, dir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for k in &c.checks {
        let read = k.reading.as_deref().is_some_and(|r| !r.trim().is_empty());
        if !read && !figures::from_article(&c.article, k.limit) {
            bad.push(format!(
                "check {:?}: its limit {} is not a number of the article's words {:?} (nor a ratio, percentage or saving of two; a claim without a number states its `reading`)",
                k.name, k.limit, c.article
            ));
        }
        if figures::compare(0.0, &k.op, 0.0).is_err() {
            bad.push(format!("check {:?}: bad comparison {:?}", k.name, k.op));
        }
    }
    let Some(name) = &c.scenario else {
        return bad;
    };
    let file = dir.join(format!("{name}.toml"));
    for (full, ci, kind, names) in variants_of(c) {
        for label in [full, ci] {
            match load(&file, &label) {
                Ok(s) => bad.extend(check_scenario(c, &s, &label, (kind, names))),
                Err(e) => bad.push(format!("[{label}]: {e}")),
            }
        }
    }
    bad.into_iter()
        .map(|b| format!("claim {}: {name} {b}", c.id))
        .collect()
}

/// Every problem of the ledger against the scenario files in `dir`.
pub fn check_all(ledger: &Ledger, dir: &Path) -> Vec<String> {
    ledger.claim.iter().flat_map(|c| check(c, dir)).collect()
}

/// The runs the ledger needs, each once, in file order.
pub fn needed(ledger: &Ledger, dir: &Path) -> Vec<Needed> {
    let mut v: Vec<Needed> = ledger
        .claim
        .iter()
        .filter_map(|c| Some((c, c.scenario.as_ref()?)))
        .flat_map(|(c, name)| {
            variants_of(c)
                .into_iter()
                .map(move |(variant, ci, _, _)| Needed {
                    file: dir.join(format!("{name}.toml")),
                    variant,
                    ci,
                })
        })
        .collect();
    v.sort();
    v.dedup();
    v
}
