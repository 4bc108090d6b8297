//! `proxylab claims`: the ledger page from real run summaries.

mod common;

use std::time::Duration;

#[test]
fn ledger_page_from_the_latest_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let reports = tmp.path().join("reports");
    let s = common::scenario("pass.toml");
    let r = common::proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--variant",
            "base",
            "--out",
            reports.to_str().expect("utf8"),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let ledger = tmp.path().join("claims.toml");
    std::fs::write(
        &ledger,
        "[[claim]]\nid = \"steady\"\ntext = \"the pool serves steady load\"\narticle = \"100 req/s\"\nscenario = \"pass\"\n\
         assertions = [\"requests > 200\", \"status_rate.2xx >= 0.99\"]\nmeasure = [\"total.completed\"]\nplot = \"status\"\n\n\
         [[claim]]\nid = \"absent\"\ntext = \"never run\"\nscenario = \"nope\"\nassertions = [\"x\"]\n",
    )
    .expect("ledger");
    let out = tmp.path().join("docs").join("claims.md");
    let c = common::proxylab(
        &[
            "claims",
            "--ledger",
            ledger.to_str().expect("utf8"),
            "--reports",
            reports.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(c.code, 0, "{}", c.all());
    let md = std::fs::read_to_string(&out).expect("claims.md");
    let completed =
        common::summary(&common::run_dirs(&reports, "pass")[0])["total"]["completed"].clone();
    assert!(
        md.contains(&format!("total.completed = {completed}")),
        "{md}"
    );
    assert!(md.contains("| **holds** |"), "{md}");
    assert!(md.contains("**not measured (no run of nope"), "{md}");
    assert!(
        md.contains("](../reports/pass/") && md.contains("/status.png)"),
        "relative plot link: {md}"
    );

    std::fs::write(&ledger, "[[claim]]\nid = \"x\"\ntxt = \"typo\"\n").expect("ledger");
    let bad = common::proxylab(
        &[
            "claims",
            "--ledger",
            ledger.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(
        bad.stderr.contains("claims.toml:3") && bad.stderr.contains("txt"),
        "{}",
        bad.all()
    );
}
