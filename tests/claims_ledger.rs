//! The committed claims ledger: every claim of `scenarios/claims.toml` resolves to assertions
//! that exist in its scenario file (for each variant it reads, at full and CI length) or says why
//! it is not measured; the resolution catches the mistakes it is there for; every link of
//! `docs/claims.md` resolves inside the repository; and the committed page is exactly what the
//! committed evidence (`docs/claims/`) gives.

use proxylab::claims::render::Layout;
use proxylab::claims::verdict::Policy;
use proxylab::claims::{Ledger, judge, render, resolve};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ledger() -> Ledger {
    Ledger::load(&repo().join("scenarios/claims.toml")).expect("claims.toml loads")
}

#[test]
fn every_claim_resolves_to_assertions_of_its_scenario_or_says_why_not() {
    let l = ledger();
    assert!(l.claim.len() >= 50, "{} claims", l.claim.len());
    let problems = resolve::check_all(&l, &repo().join("scenarios"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for c in &l.claim {
        let why = c.not_measurable.as_deref().or(c.pending.as_deref());
        assert!(
            c.scenario.is_some() || why.is_some_and(|w| w.len() > 20),
            "claim {} has neither a scenario nor a reason",
            c.id
        );
    }
    // every scenario variant the ledger needs is listed once for `claims --run`
    let needed = resolve::needed(&l, &repo().join("scenarios"));
    assert!(
        needed
            .iter()
            .any(|n| n.variant == "nginx+ka4000" && n.ci == "nginx+ci+kaci400")
    );
    assert!(
        needed
            .iter()
            .any(|n| n.variant == "nginx" && n.ci == "nginx+ci")
    );
    // the rate-vs-limit sweep, full length and its own CI points
    assert!(
        needed
            .iter()
            .any(|n| n.variant == "nginx+article+q200+r300"
                && n.ci == "nginx+article+q200+ci+rci300")
    );
    // no claim is left `pending`: each is measured or says why it cannot be
    let pending: Vec<&str> = l
        .claim
        .iter()
        .filter(|c| c.pending.is_some())
        .map(|c| c.id.as_str())
        .collect();
    assert!(pending.is_empty(), "pending claims: {pending:?}");
}

#[test]
fn resolution_catches_wrong_names_proxies_and_thresholds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("claims.toml");
    std::fs::write(
        &path,
        r#"
[[claim]]
id = "wrong-assertion"
text = "t"
scenario = "upstream-keepalive"
variant = "nginx"
assertions = ["no such assertion"]

[[claim]]
id = "nginx-on-ours"
text = "t"
subject = "nginx"
scenario = "upstream-keepalive"
variant = "base"
assertions = ["every request served"]

[[claim]]
id = "made-up-threshold"
text = "t"
article = "up to 30 %"
scenario = "upstream-keepalive"
checks = [{ name = "saving", value = "components.pooled.cpu_avg", op = ">=", limit = 8 }]

[[claim]]
id = "fake-as-real"
text = "t"
subject = "uvicorn"
scenario = "upstream-keepalive"
assertions = ["every request served"]

[[claim]]
id = "no-such-variant"
text = "t"
scenario = "upstream-keepalive"
variant = "nope"
assertions = ["every request served"]
"#,
    )
    .expect("write");
    let l = Ledger::load(&path).expect("loads");
    let p = resolve::check_all(&l, &repo().join("scenarios"));
    let has = |id: &str, what: &str| p.iter().any(|x| x.contains(id) && x.contains(what));
    assert!(has("wrong-assertion", "no such assertion"), "{p:#?}");
    assert!(has("nginx-on-ours", "needs nginx"), "{p:#?}");
    assert!(
        has("made-up-threshold", "not a number of the article"),
        "{p:#?}"
    );
    assert!(has("no-such-variant", "nope"), "{p:#?}");
    assert!(has("fake-as-real", "runs no real uvicorn"), "{p:#?}");
    std::fs::write(&path, "[[claim]]\nid = \"a\"\ntext = \"t\"\n").expect("write");
    assert!(
        Ledger::load(&path).is_err(),
        "neither a scenario nor a reason"
    );
}

/// Markdown link targets of a page: `](target)`.
fn links(md: &str) -> Vec<String> {
    md.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(t, _)| t.to_string()))
        .collect()
}

#[test]
fn every_link_in_the_ledger_resolves_inside_the_repo() {
    let docs = repo().join("docs");
    let md = std::fs::read_to_string(docs.join("claims.md")).expect("docs/claims.md");
    let root = std::fs::canonicalize(repo()).expect("repo");
    let mut checked = 0;
    for l in links(&md) {
        if l.starts_with('#') {
            continue;
        }
        assert!(!l.contains("://"), "external link {l}");
        let target =
            std::fs::canonicalize(docs.join(&l)).unwrap_or_else(|e| panic!("link {l}: {e}"));
        assert!(target.starts_with(&root), "link {l} leaves the repository");
        checked += 1;
    }
    // anchors: every `](#id)` names a section
    for l in links(&md).iter().filter(|l| l.starts_with('#')) {
        assert!(md.contains(&format!("{{{l}}}")), "no section {l}");
    }
    eprintln!("{checked} file links resolve");
}

#[test]
fn the_committed_ledger_is_what_its_evidence_gives() {
    let lay = Layout {
        out_dir: repo().join("docs"),
        evidence: repo().join("docs/claims"),
    };
    let policy = Policy::default();
    let js = judge::judge_all(&ledger(), std::slice::from_ref(&lay.evidence), &policy);
    let md = render::render(&js, &lay, &policy);
    let committed = std::fs::read_to_string(repo().join("docs/claims.md")).expect("claims.md");
    assert!(
        md == committed,
        "docs/claims.md is stale: regenerate it with `proxylab claims` (changed rows: {:?})",
        proxylab::claims::evidence::changed(&committed, &md)
    );
}
