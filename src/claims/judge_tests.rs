//! Judging and rendering from run directories on disk: the latest sound run judges, a newer
//! unsound one does not; a sweep's curve and its verdict over the range; our proxy's verdict
//! beside nginx's and the fidelity defect; caveats and conditions printed with every verdict.

use super::judge;
use super::model::{Claim, Subject, Sweep, SweepPoint};
use super::render::{self, Layout};
use super::verdict::Policy;
use crate::report::RunSummary;
use crate::results::assertions::Verdict as V;
use crate::run::machine::Provenance;
use std::path::Path;

fn assertion(name: &str, passed: bool) -> V {
    V {
        name: name.into(),
        metric: "status_count.502".into(),
        phase: "all".into(),
        population: "all".into(),
        op: ">".into(),
        limit: 0.0,
        actual: Some(1.0),
        unit: "count".into(),
        passed,
        note: String::new(),
        line: 1,
    }
}

/// Writes `<root>/race/<name>/summary.json`: variant, proxy, whether the race showed, whether
/// the run was sound.
fn write_run(root: &Path, name: &str, variant: &str, proxy: &str, race: bool, sound: bool) {
    let mut s = RunSummary {
        scenario: "race".into(),
        variant: variant.into(),
        proxy: proxy.into(),
        ..RunSummary::default()
    };
    s.assertions = vec![
        assertion("sanity: no client-side errors", sound),
        assertion("race: some POSTs get 502", race),
    ];
    s.total.completed = 100.0;
    s.total
        .status
        .insert("502".into(), if race { 3.0 } else { 0.0 });
    s.provenance = Some(Provenance {
        commit: "abc".into(),
        started: "2026-12-07T12:00:00Z".into(),
        cpus: 2,
        ..Provenance::default()
    });
    let dir = root.join("race").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("summary.json"), serde_json::to_string(&s).unwrap()).unwrap();
}

fn claim() -> Claim {
    let point = |x: &str, v: &str| SweepPoint {
        x: x.into(),
        variant: v.into(),
        ci: None,
    };
    Claim {
        id: "race".into(),
        text: "no 502 with keep-alive".into(),
        article: "--timeout-keep-alive 5".into(),
        subject: Subject::Nginx,
        scenario: Some("race".into()),
        variant: "nginx".into(),
        ours: Some("base".into()),
        refuted_by: vec!["race: some POSTs get 502".into()],
        conditions: vec!["`keepalive 4`".into()],
        note: "a caveat".into(),
        sweep: Some(Sweep {
            parameter: "idle - timeout".into(),
            range: "any".into(),
            point: vec![point("+1 s", "nginx+far"), point("0", "nginx")],
            measure: vec!["502 %=percent(total.status.502, total.completed)".into()],
        }),
        ..Claim::default()
    }
}

#[test]
fn a_sweep_with_our_proxy_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("reports");
    write_run(
        &root,
        "20261207T100000Z-nginx+far",
        "nginx+far",
        "nginx",
        false,
        true,
    );
    write_run(
        &root,
        "20261207T100000Z-nginx",
        "nginx",
        "nginx",
        true,
        true,
    );
    // a newer run of the same point that failed its sanity assertion does not judge
    write_run(
        &root,
        "20261207T110000Z-nginx+ci",
        "nginx+ci",
        "nginx",
        false,
        false,
    );
    write_run(&root, "20261207T100000Z", "base", "proxylab", false, true);
    let lay = Layout {
        out_dir: tmp.path().join("docs"),
        evidence: tmp.path().join("docs/claims"),
    };
    let policy = Policy::default();
    let j = judge::judge(&claim(), std::slice::from_ref(&root), &policy);
    assert_eq!(
        j.verdict().to_string(),
        "depends on idle - timeout: holds at +1 s; not at 0"
    );
    assert_eq!(
        j.points[1].judged.run.as_ref().unwrap().name(),
        "20261207T100000Z-nginx"
    );
    let md = render::render(std::slice::from_ref(&j), &lay, &policy);
    assert!(md.contains("| +1 s | [20261207T100000Z-nginx+far](claims/race/20261207T100000Z-nginx+far/summary.json) [nginx+far] | 502 % = 0 | holds |"), "{md}");
    assert!(md.contains("| 0 | [20261207T100000Z-nginx](claims/race/20261207T100000Z-nginx/summary.json) [nginx] | 502 % = 3 | does not hold |"), "{md}");
    assert!(
        md.contains("- condition the article does not state: `keepalive 4`"),
        "{md}"
    );
    assert!(md.contains("- caveats: a caveat"), "{md}");
    // ours (no race, and the conditions apply to it too): depends, nginx's sweep depends: same
    assert!(
        md.contains("- our proxy: **depends (holds only on `keepalive 4`)**"),
        "{md}"
    );
    assert_eq!(j.fidelity(), None);
}

#[test]
fn a_different_verdict_on_our_proxy_is_shown_as_a_fidelity_defect() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("reports");
    write_run(
        &root,
        "20261207T100000Z-nginx",
        "nginx",
        "nginx",
        true,
        true,
    );
    write_run(&root, "20261207T100000Z", "base", "proxylab", false, true);
    let mut c = claim();
    c.sweep = None;
    c.conditions.clear();
    let policy = Policy::default();
    let j = judge::judge(&c, std::slice::from_ref(&root), &policy);
    assert_eq!(j.verdict().to_string(), "does not hold");
    assert_eq!(
        j.fidelity().as_deref(),
        Some("fidelity defect: nginx does not hold, our proxy holds")
    );
    let lay = Layout {
        out_dir: tmp.path().join("docs"),
        evidence: tmp.path().join("docs/claims"),
    };
    let md = render::render(std::slice::from_ref(&j), &lay, &policy);
    assert!(
        md.contains("| **fidelity defect: nginx does not hold, our proxy holds** |"),
        "{md}"
    );
    assert!(md.contains("2026-12-07T12:00:00Z, commit abc"), "{md}");
}

#[test]
fn a_check_reads_another_variants_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("reports");
    // "before" completed 100 with 3 x 502; the judged run 100 with none
    write_run(
        &root,
        "20261207T100000Z-before",
        "before",
        "none",
        true,
        true,
    );
    write_run(
        &root,
        "20261207T100000Z-nginx",
        "nginx",
        "nginx",
        false,
        true,
    );
    let mut c = claim();
    c.sweep = None;
    c.conditions.clear();
    c.ours = None;
    c.refuted_by.clear();
    c.article = "3 -> 0".into();
    c.checks = vec![super::model::Check {
        name: "502s gone".into(),
        value: "diff(@before:total.status.502, total.status.502)".into(),
        op: ">=".into(),
        limit: 3.0,
        reading: None,
    }];
    let policy = Policy::default();
    let j = judge::judge(&c, std::slice::from_ref(&root), &policy);
    assert_eq!(j.verdict().to_string(), "holds");
    assert_eq!(j.refs.len(), 1);
    // without a sound run of the other variant the claim is not measured
    std::fs::remove_dir_all(root.join("race/20261207T100000Z-before")).unwrap();
    let j = judge::judge(&c, std::slice::from_ref(&root), &policy);
    assert!(
        matches!(j.verdict(), super::Verdict::NotMeasured(w) if w.contains("before")),
        "{}",
        j.verdict()
    );
}
