//! `proxylab claims` end to end: `--run --ci` runs what the ledger needs, the page from that run, its evidence copied under the
//! evidence directory, the same page again from the evidence alone (no reports/), a run that
//! fails the machine gate turning a verdict into "not measured" (refused without --force, the
//! changed row printed), a bad ledger key named with its line, and a run that cannot be made
//! (exit 3) failing `--run` with its name while the page is still written.

mod common;

use std::path::Path;
use std::time::Duration;

const SANITY: &str = r#"
[[assert]]
name = "sanity: no client-side errors"
metric = "error_count.other"
op = "=="
value = 0

[[assert]]
name = "sanity: the loadgen kept its schedule (generous: this test is about the ledger)"
metric = "schedule_lag.p99"
op = "<"
value = "2s"

[[assert]]
name = "sanity: the loadgen was not saturated"
metric = "cpu.loadgen"
op = "<"
value = 190

[[variant]]
name = "ci"
description = "the same"
compare = false
set = { seed = 8 }
"#;

fn claims(args: &[&str], dir: &Path) -> common::Out {
    let s = |p: &str| dir.join(p).display().to_string();
    let mut a: Vec<String> = [
        "claims",
        "--ledger",
        &s("claims.toml"),
        "--scenarios",
        &s("scenarios"),
        "--reports",
        &s("reports"),
        "--out",
        &s("docs/claims.md"),
        "--evidence",
        &s("docs/claims"),
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    a.extend(args.iter().map(|x| x.to_string()));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    common::proxylab(&refs, Duration::from_secs(60))
}

#[test]
fn ledger_page_from_a_real_run_and_from_its_evidence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let scen = dir.join("scenarios");
    std::fs::create_dir_all(&scen).expect("mkdir");
    let text = std::fs::read_to_string(common::scenario("pass.toml")).expect("pass.toml");
    let (head, variants) = text.split_once("[[variant]]").expect("variants");
    std::fs::write(
        scen.join("pass.toml"),
        format!("{head}{SANITY}\n[[variant]]{variants}"),
    )
    .expect("write");
    std::fs::copy(common::scenario("pass.conf"), scen.join("pass.conf")).expect("conf");
    std::fs::write(
        dir.join("claims.toml"),
        "[[claim]]\nid = \"steady\"\ntext = \"the pool serves steady load\"\narticle = \"200 req\"\nscenario = \"pass\"\n\
         assertions = [\"requests > 200\", \"status_rate.2xx >= 0.99\"]\n\
         checks = [{ name = \"requests\", value = \"total.completed\", op = \">\", limit = 200 }]\n\
         measure = [\"done=total.completed\"]\nplot = \"status\"\nnote = \"a caveat\"\n\n\
         [[claim]]\nid = \"later\"\ntext = \"not yet\"\npending = \"no scenario measures it yet\"\n",
    )
    .expect("ledger");
    // `--run --ci` runs exactly what the ledger needs (pass [base+ci]), then judges.
    let c = claims(&["--run", "--ci", "--max-others-cpu", "1000"], dir);
    assert_eq!(c.code, 0, "{}", c.all());
    assert!(
        c.stderr.contains("1 runs needed (CI length)"),
        "{}",
        c.all()
    );
    let page = dir.join("docs/claims.md");
    let md = std::fs::read_to_string(&page).expect("claims.md");
    let completed =
        common::summary(&common::run_dirs(&dir.join("reports"), "pass")[0])["total"]["completed"]
            .clone();
    assert!(md.contains(&format!("done = {completed}")), "{md}");
    assert!(md.contains("| **holds** |"), "{md}");
    assert!(
        md.contains("- caveats: a caveat"),
        "caveats printed for a verdict that holds: {md}"
    );
    assert!(
        md.contains("**not measured (no scenario yet: no scenario measures it yet)**"),
        "{md}"
    );
    assert!(
        md.contains("](claims/pass/") && md.contains("/status.png)"),
        "{md}"
    );
    let evidence = std::fs::read_dir(dir.join("docs/claims/pass"))
        .expect("evidence")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("one run");
    for f in ["summary.json", "scenario.toml", "status.png"] {
        assert!(evidence.join(f).is_file(), "{f} copied");
    }
    assert!(md.contains("commit "), "provenance on the row: {md}");

    // Without reports/ (a fresh checkout) the evidence gives the same page.
    std::fs::remove_dir_all(dir.join("reports")).expect("rm reports");
    let again = claims(&["--max-others-cpu", "1000"], dir);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again.stdout.contains("no verdict changes"),
        "{}",
        again.all()
    );
    assert_eq!(std::fs::read_to_string(&page).expect("page"), md);

    // A stricter machine gate makes the run unsound: not written without --force.
    let strict = claims(&["--max-others-cpu=-1"], dir);
    assert_eq!(strict.code, 3, "{}", strict.all());
    assert!(
        strict
            .stdout
            .contains("steady: holds -> not measured (machine busy"),
        "{}",
        strict.all()
    );
    assert_eq!(std::fs::read_to_string(&page).expect("page"), md);
    let forced = claims(&["--max-others-cpu=-1", "--force"], dir);
    assert_eq!(forced.code, 0, "{}", forced.all());

    std::fs::write(
        dir.join("claims.toml"),
        "[[claim]]\nid = \"x\"\ntxt = \"typo\"\n",
    )
    .expect("ledger");
    let bad = claims(&[], dir);
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(
        bad.stderr.contains("claims.toml:3") && bad.stderr.contains("txt"),
        "{}",
        bad.all()
    );
}

#[test]
fn a_run_that_cannot_be_made_fails_claims_run_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let scen = dir.join("scenarios");
    std::fs::create_dir_all(&scen).expect("mkdir");
    // Our proxy refuses an unknown directive: the run cannot be made (exit 2 or 3).
    let text = std::fs::read_to_string(common::scenario("pass.toml")).expect("pass.toml");
    let (head, _) = text.split_once("[[variant]]").expect("variants");
    let head = head
        .replace("name = \"pass\"", "name = \"broken\"")
        .replace("kind = \"none\"", "kind = \"proxylab\"")
        .replace("config = \"pass.conf\"", "config = \"broken.conf\"");
    std::fs::write(scen.join("broken.toml"), format!("{head}{SANITY}")).expect("write");
    let conf = std::fs::read_to_string(common::scenario("pass.conf")).expect("conf");
    let conf = conf.replacen("http {", "http {\n    no_such_directive on;", 1);
    std::fs::write(scen.join("broken.conf"), conf).expect("conf");
    std::fs::write(
        dir.join("claims.toml"),
        "[[claim]]\nid = \"broken\"\ntext = \"t\"\nscenario = \"broken\"\n\
         assertions = [\"requests > 200\"]\n",
    )
    .expect("ledger");
    let c = claims(&["--run", "--ci", "--max-others-cpu", "1000"], dir);
    assert_eq!(c.code, 4, "{}", c.all());
    assert!(
        c.stderr.contains("1 runs could not be made")
            && (c.stderr.contains("broken.toml [base+ci]: exit 3")
                || c.stderr.contains("broken.toml [base+ci]: exit 2")),
        "{}",
        c.all()
    );
    let md = std::fs::read_to_string(dir.join("docs/claims.md")).expect("page still written");
    assert!(md.contains("not measured"), "{md}");
}
