//! Running the battery: every probe's cases on each proxy (with a progress bar), probes that
//! do not apply listed with the reason, our proxy compared with nginx (fidelity), findings
//! linked to their evidence, and each standard fix tried as a second run.

use super::finding::{Finding, Severity};
use super::probes::run::{CaseRun, Env, run_case};
use super::probes::scenario::Case;
use super::probes::{BATTERY, Ctx};
use std::path::Path;
use std::sync::atomic::Ordering;

/// A probe's place in the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeResult {
    /// Name.
    pub name: String,
    /// What it does.
    pub what: String,
    /// Why it did not run (not applicable, or not selected).
    pub skipped: Option<String>,
    /// Its runs (each case on each proxy, then fixes).
    pub runs: Vec<CaseRun>,
}

/// Runs the selected probes, `jobs` runs at a time; returns them and the cases (for the
/// fixes).
pub fn run(
    c: &Ctx<'_>,
    env: &Env<'_>,
    proxies: &[&str],
    only: &[String],
    jobs: usize,
    dir: &Path,
    bar: &indicatif::ProgressBar,
) -> (Vec<ProbeResult>, Vec<Case>) {
    let mut out = Vec::new();
    let mut plan = Vec::new();
    for p in BATTERY {
        let mut r = ProbeResult {
            name: p.name.into(),
            what: p.what.into(),
            skipped: None,
            runs: Vec::new(),
        };
        if !only.is_empty() && !only.iter().any(|o| o == p.name) {
            r.skipped = Some("not selected (--probe)".into());
        } else {
            match (p.cases)(c) {
                Ok(cases) if !cases.is_empty() => plan.push((out.len(), cases)),
                Ok(_) => {
                    r.skipped =
                        Some("not applicable: nothing in the config for it to aim at".into())
                }
                Err(why) => r.skipped = Some(format!("not applicable: {why}")),
            }
        }
        out.push(r);
    }
    bar.set_length(
        plan.iter()
            .map(|(_, v)| v.len() * proxies.len())
            .sum::<usize>() as u64,
    );
    let mut cases = Vec::new();
    let mut work = Vec::new();
    for (i, ks) in plan {
        for (j, k) in ks.into_iter().enumerate() {
            for px in proxies {
                let d = dir.join(format!("{}-{}-{px}", k.probe, j + 1));
                work.push((i, cases.len(), *px, d));
            }
            cases.push(k);
        }
    }
    let runs = super::parallel::map(
        jobs,
        work,
        |w| cases[w.1].duration,
        |(i, c, px, d)| {
            if env.stop.load(Ordering::SeqCst) {
                return None;
            }
            let k = &cases[c];
            bar.set_message(format!("{} {} [{px}]", k.probe, k.label));
            let mut r = run_case(env, k, px, None, &d);
            r.case = c;
            bar.inc(1);
            Some((i, r))
        },
    );
    for (i, r) in runs.into_iter().flatten() {
        out[i].runs.push(r);
    }
    (out, cases)
}

/// Fidelity: a case whose outcome differs between our proxy and nginx is a defect of ours.
pub fn fidelity(probes: &[ProbeResult], cases: &[Case], findings: &mut Vec<Finding>) {
    for p in probes {
        for r in p
            .runs
            .iter()
            .filter(|r| r.proxy == "proxylab" && r.fix_of.is_none())
        {
            let Some(n) = p
                .runs
                .iter()
                .find(|n| n.proxy == "nginx" && n.fix_of.is_none() && n.case == r.case)
            else {
                continue;
            };
            let (Some(a), Some(b)) = (&r.verdict.signature, &n.verdict.signature) else {
                continue;
            };
            if a == b || r.error.is_some() || n.error.is_some() {
                continue;
            }
            let at = cases.get(r.case).map(|k| k.at.clone()).unwrap_or_default();
            let mut f = Finding::new(&format!("fidelity-{}", r.probe), Severity::Info, &at, format!("proxylab's proxy differs from nginx in probe {} ({})", r.probe, r.label))
                .detail(format!("nginx: {b}; proxylab: {a}. This is a fidelity defect of proxylab's proxy, not a problem of the config: trust the nginx run."));
            f.fidelity = true;
            f.probe = Some(r.probe.clone());
            f.evidence = Some(r.dir.join("run").display().to_string());
            findings.push(f);
        }
    }
}

/// The reference run of a probe for a finding: of the runs aimed at its location, nginx's
/// when it ran (a bad run of ours next to a good one of nginx is ours to fix, not the
/// config's), a bad one first.
fn evidence<'p>(probes: &'p [ProbeResult], f: &Finding) -> Option<&'p CaseRun> {
    let p = probes.iter().find(|p| Some(&p.name) == f.probe.as_ref())?;
    let mut runs: Vec<&CaseRun> = p
        .runs
        .iter()
        .filter(|r| r.fix_of.is_none() && r.error.is_none())
        .collect();
    runs.sort_by_key(|r| {
        (
            !f.title.starts_with(&r.label),
            r.proxy != "nginx",
            !r.verdict.bad,
        )
    });
    runs.first().copied()
}

/// Links findings to evidence; adds a finding for a bad probe no static finding explains.
pub fn link(probes: &[ProbeResult], cases: &[Case], findings: &mut Vec<Finding>) {
    for f in findings.iter_mut() {
        if let Some(r) = evidence(probes, f) {
            f.evidence = Some(r.dir.join("run").display().to_string());
        }
    }
    for p in probes {
        let explained = findings
            .iter()
            .any(|f| f.probe.as_ref() == Some(&p.name) && !f.fidelity);
        let Some(r) = p
            .runs
            .iter()
            .find(|r| r.verdict.bad && r.fix_of.is_none() && r.proxy == "nginx")
            .or_else(|| p.runs.iter().find(|r| r.verdict.bad && r.fix_of.is_none()))
        else {
            continue;
        };
        if explained {
            continue;
        }
        let at = cases.get(r.case).map(|k| k.at.clone()).unwrap_or_default();
        let sev = if p.name == "baseline" {
            Severity::High
        } else {
            Severity::Medium
        };
        let concl = r.verdict.lines.last().cloned().unwrap_or_default();
        let mut f = Finding::new(
            &format!("probe-{}", p.name),
            sev,
            &at,
            format!("{} ({}): {concl}", p.name, r.label),
        )
        .detail(format!("{}. {}", p.what, r.verdict.lines.join("; ")))
        .probe(&p.name);
        if let Some((text, patch)) = cases.get(r.case).and_then(|k| k.remedy.clone()) {
            f = f.fix(text, Some(patch));
        }
        f.evidence = Some(r.dir.join("run").display().to_string());
        findings.push(f);
    }
}

/// Tries each finding's fix on its probe (where the probe showed the problem), `jobs` runs
/// at a time.
pub fn fixes(
    env: &Env<'_>,
    probes: &mut [ProbeResult],
    cases: &[Case],
    findings: &mut [Finding],
    jobs: usize,
    dir: &Path,
    bar: &indicatif::ProgressBar,
) {
    let mut work = Vec::new();
    for (n, f) in findings.iter().enumerate() {
        let Some(patch) = f.patch.clone() else {
            continue;
        };
        let Some(r) = evidence(probes, f).filter(|r| r.verdict.bad) else {
            continue;
        };
        if r.case >= cases.len() {
            continue;
        }
        let mut d = dir.join(format!("{}-fix-{}-{}", r.probe, f.check, r.proxy));
        if work.iter().any(|w: &Fix| w.dir == d) {
            d = dir.join(format!("{}-fix-{}-{}-{n}", r.probe, f.check, r.proxy));
        }
        let (case, proxy) = (r.case, r.proxy.clone());
        work.push(Fix {
            n,
            case,
            proxy,
            id: f.id.clone(),
            patch,
            dir: d,
        });
    }
    bar.inc_length(work.len() as u64);
    let runs = super::parallel::map(
        jobs,
        work,
        |w| cases[w.case].duration,
        |w| {
            if env.stop.load(Ordering::SeqCst) {
                return None;
            }
            bar.set_message(format!("fix of {} [{}]", w.id, w.proxy));
            let mut after = run_case(
                env,
                &cases[w.case],
                &w.proxy,
                Some((&w.id, &w.patch)),
                &w.dir,
            );
            after.case = w.case;
            bar.inc(1);
            Some((w.n, after))
        },
    );
    for (n, after) in runs.into_iter().flatten() {
        findings[n].fix_evidence = Some(after.dir.join("run").display().to_string());
        if let Some(p) = probes.iter_mut().find(|p| p.name == after.probe) {
            p.runs.push(after);
        }
    }
}

/// One fix to try: the finding (its index), the case and proxy of its evidence, the patch.
struct Fix {
    n: usize,
    case: usize,
    proxy: String,
    id: String,
    patch: super::rewrite::Patch,
    dir: std::path::PathBuf,
}
