//! One test per verdict rule: the sanity gate, assertions and their opposite, thresholds from
//! the claim's own numbers, "depends" under a condition the article does not state, sweeps over
//! a range, and fidelity between nginx and our proxy.

use super::model::{Check, Claim};
use super::verdict::{Verdict, fidelity, over_range, verdict};
use crate::report::RunSummary;
use crate::results::assertions::Verdict as V;
use crate::run::machine::Provenance;

fn assertion(name: &str, passed: bool) -> V {
    V {
        name: name.to_string(),
        metric: "requests".into(),
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

/// A sound run (sanity held, quiet machine) with these assertions.
fn run(passed: &[(&str, bool)]) -> RunSummary {
    let mut s = RunSummary::default();
    s.assertions
        .push(assertion("sanity: no client-side errors", true));
    for (n, p) in passed {
        s.assertions.push(assertion(n, *p));
    }
    s.provenance = Some(Provenance {
        others_cpu_pct: 10.0,
        ..Provenance::default()
    });
    s.components.insert(
        "pooled".into(),
        crate::report::summary::Usage {
            cpu_avg: 14.0,
            ..Default::default()
        },
    );
    s.components.insert(
        "unpooled".into(),
        crate::report::summary::Usage {
            cpu_avg: 20.0,
            ..Default::default()
        },
    );
    s
}

fn claim(names: &[&str]) -> Claim {
    Claim {
        id: "x".into(),
        text: "t".into(),
        scenario: Some("s".into()),
        variant: "base".into(),
        assertions: names.iter().map(|s| s.to_string()).collect(),
        depends: "on the config".into(),
        ..Claim::default()
    }
}

#[test]
fn verdicts_follow_the_assertions_and_their_opposite() {
    let s = run(&[("a", true), ("b", false)]);
    assert_eq!(verdict(&claim(&["a"]), &s), Verdict::Holds);
    assert_eq!(verdict(&claim(&["b"]), &s), Verdict::DoesNotHold);
    assert_eq!(
        verdict(&claim(&["a", "b"]), &s),
        Verdict::Depends("on the config".into())
    );
    let mut refuted = claim(&[]);
    refuted.refuted_by = vec!["a".into()];
    assert_eq!(verdict(&refuted, &s), Verdict::DoesNotHold);
    refuted.refuted_by = vec!["b".into()];
    assert_eq!(verdict(&refuted, &s), Verdict::Holds);
    assert!(matches!(
        verdict(&claim(&["zz"]), &s),
        Verdict::NotMeasured(w) if w.contains("zz")
    ));
    assert!(matches!(verdict(&claim(&[]), &s), Verdict::NotMeasured(_)));
}

#[test]
fn a_failed_sanity_assertion_gates_the_verdict() {
    let mut s = run(&[("a", true)]);
    s.assertions
        .push(assertion("sanity: the loadgen kept its schedule", false));
    let v = verdict(&claim(&["a"]), &s);
    assert!(
        matches!(&v, Verdict::NotMeasured(w) if w.contains("kept its schedule")),
        "{v}"
    );
    // no sanity assertion at all: not measured either
    let mut bare = run(&[("a", true)]);
    bare.assertions.retain(|a| !a.name.starts_with("sanity:"));
    assert!(matches!(
        verdict(&claim(&["a"]), &bare),
        Verdict::NotMeasured(_)
    ));
}

#[test]
fn a_busy_machine_or_an_unrecorded_one_gates_the_verdict() {
    let mut s = run(&[("a", true)]);
    s.provenance.as_mut().unwrap().others_cpu_pct = 120.0;
    let v = verdict(&claim(&["a"]), &s);
    assert!(
        matches!(&v, Verdict::NotMeasured(w) if w.contains("machine busy")),
        "{v}"
    );
    s.provenance = None;
    assert!(matches!(
        verdict(&claim(&["a"]), &s),
        Verdict::NotMeasured(w) if w.contains("machine load")
    ));
}

#[test]
fn thresholds_come_from_the_claims_numbers() {
    // "up to 30 %": pooling saves (20 - 14) / 20 = 30 % of the worker's CPU
    let s = run(&[]);
    let mut c = claim(&[]);
    c.article = "up to 30 %".into();
    c.checks = vec![Check {
        name: "CPU saved".into(),
        value: "saving(components.unpooled.cpu_avg, components.pooled.cpu_avg)".into(),
        op: ">=".into(),
        limit: 30.0,
        reading: None,
    }];
    assert_eq!(verdict(&c, &s), Verdict::Holds);
    c.checks[0].limit = 31.0;
    assert_eq!(verdict(&c, &s), Verdict::DoesNotHold);
    c.checks[0].value = "saving(components.nope.cpu_avg, components.pooled.cpu_avg)".into();
    assert!(matches!(verdict(&c, &s), Verdict::NotMeasured(_)));
}

#[test]
fn a_reading_of_words_without_a_number_is_a_condition() {
    // "reduces context switching dramatically": read as at least halved; 30 % is not enough
    let s = run(&[]);
    let mut c = claim(&[]);
    c.article = "reduces context switching dramatically".into();
    c.checks = vec![Check {
        name: "switches saved".into(),
        value: "saving(components.unpooled.cpu_avg, components.pooled.cpu_avg)".into(),
        op: ">=".into(),
        limit: 50.0,
        reading: Some("\"dramatically\" as at least halved".into()),
    }];
    assert_eq!(verdict(&c, &s), Verdict::DoesNotHold);
    c.checks[0].limit = 25.0;
    assert_eq!(
        verdict(&c, &s),
        Verdict::Depends("(holds only on reading \"dramatically\" as at least halved)".into())
    );
    // the ledger check accepts the limit only with its reading
    assert!(
        super::resolve::check(&c, std::path::Path::new("/nonexistent"))
            .iter()
            .all(|p| !p.contains("not a number of the article"))
    );
    c.checks[0].reading = None;
    assert!(
        super::resolve::check(&c, std::path::Path::new("/nonexistent"))
            .iter()
            .any(|p| p.contains("not a number of the article"))
    );
}

#[test]
fn a_condition_the_article_does_not_state_makes_it_depend() {
    let s = run(&[("a", true), ("b", false)]);
    let mut c = claim(&["a"]);
    c.conditions = vec!["`keepalive 4` in the upstream".into()];
    assert_eq!(
        verdict(&c, &s),
        Verdict::Depends("(holds only on `keepalive 4` in the upstream)".into())
    );
    // a claim that fails even under the favourable condition still does not hold
    c.assertions = vec!["b".into()];
    assert_eq!(verdict(&c, &s), Verdict::DoesNotHold);
    c.assertions = vec!["a".into(), "b".into()];
    assert_eq!(
        verdict(&c, &s),
        Verdict::Depends("on the config; on `keepalive 4` in the upstream".into())
    );
}

#[test]
fn a_sweep_is_judged_over_its_range() {
    let p = |x: &str, v: Verdict| (x.to_string(), v);
    let all = [p("1 s", Verdict::Holds), p("6 s", Verdict::Holds)];
    assert_eq!(over_range("think time", &all), Verdict::Holds);
    let mixed = [
        p("1 s", Verdict::Holds),
        p("5 s", Verdict::DoesNotHold),
        p("6 s", Verdict::Holds),
    ];
    assert_eq!(
        over_range("think time", &mixed),
        Verdict::Depends("on think time: holds at 1 s, 6 s; not at 5 s".into())
    );
    let none = [p("5 s", Verdict::DoesNotHold)];
    assert_eq!(over_range("think time", &none), Verdict::DoesNotHold);
    let gap = [
        p("1 s", Verdict::Holds),
        p("5 s", Verdict::NotMeasured("x".into())),
    ];
    assert!(matches!(
        over_range("think time", &gap),
        Verdict::NotMeasured(w) if w.contains("5 s")
    ));
}

#[test]
fn a_different_verdict_on_our_proxy_is_a_fidelity_defect() {
    assert_eq!(fidelity(&Verdict::Holds, &Verdict::Holds), None);
    assert!(
        fidelity(&Verdict::Holds, &Verdict::DoesNotHold)
            .is_some_and(|f| f.contains("nginx holds, our proxy does not hold"))
    );
    // an unmeasured side is not a defect
    assert_eq!(
        fidelity(&Verdict::Holds, &Verdict::NotMeasured("x".into())),
        None
    );
    assert_eq!(
        fidelity(&Verdict::Depends("a".into()), &Verdict::Depends("b".into())),
        None
    );
}
