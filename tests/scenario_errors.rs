//! Bad scenario files: exit code 2 and a message naming the file, the line and the key. Every
//! case is a small file written to a temp dir; nothing is started.

mod common;

use std::time::Duration;

const GOOD_TAIL: &str = "\n[[upstream]]\nname = \"api\"\n\n[[load]]\nname = \"web\"\nmodel = \"closed\"\nconnections = 1\n";

fn check(text: &str, conf: Option<&str>) -> common::Out {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text).expect("write");
    if let Some(c) = conf {
        std::fs::write(dir.path().join("bad.conf"), c).expect("write conf");
    }
    let out = common::proxylab(
        &["run", "--check", p.to_str().expect("utf8")],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 2, "{}", out.all());
    out
}

#[test]
fn unknown_key_names_key_and_line() {
    let out = check(
        &format!("duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}wrkers = 2\n"),
        None,
    );
    assert!(out.stderr.contains("bad.toml:11"), "{}", out.all());
    assert!(out.stderr.contains("wrkers"), "{}", out.all());
}

#[test]
fn bad_unit_names_key_and_line() {
    let out = check(
        &format!("duration = \"3 parsecs\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}"),
        None,
    );
    assert!(out.stderr.contains("bad.toml:1"), "{}", out.all());
    assert!(out.stderr.contains("duration"), "{}", out.all());
}

#[test]
fn unknown_upstream_reference_names_key_and_line() {
    let text = format!("duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}target = \"nope\"\n");
    let out = check(&text, None);
    assert!(
        out.stderr.contains("bad.toml:11") && out.stderr.contains("load[0].target"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("\"nope\""), "{}", out.all());
}

#[test]
fn unknown_phase_in_assert_names_key_and_line() {
    let text = format!(
        "duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}\n[[assert]]\nmetric = \"latency.p99\"\nop = \"<\"\nvalue = \"1s\"\nphase = \"spike\"\n"
    );
    let out = check(&text, None);
    assert!(
        out.stderr.contains("bad.toml:16") && out.stderr.contains("assert[0].phase"),
        "{}",
        out.all()
    );
}

#[test]
fn unknown_metric_and_fault_target() {
    let out = check(
        &format!(
            "duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}\n[[assert]]\nmetric = \"latncy.p99\"\nop = \"<\"\nvalue = 1\n"
        ),
        None,
    );
    assert!(
        out.stderr.contains("bad.toml:13") && out.stderr.contains("latncy"),
        "{}",
        out.all()
    );
    let out = check(
        &format!(
            "duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}\n[[fault]]\nat = \"1s\"\naction = \"kill\"\ntarget = \"api.3\"\n"
        ),
        None,
    );
    assert!(
        out.stderr.contains("bad.toml:15") && out.stderr.contains("out of range"),
        "{}",
        out.all()
    );
}

#[test]
fn config_placeholder_for_unknown_pool_names_the_conf_line() {
    let conf = "events {}\nhttp {\n  upstream x {\n    {{upstream.nope}}\n  }\n  server { listen {{listen}}; }\n}\n";
    let out = check(
        &format!("duration = \"3s\"\n[proxy]\nkind = \"nginx\"\nconfig = \"bad.conf\"{GOOD_TAIL}"),
        Some(conf),
    );
    assert!(
        out.stderr.contains("bad.conf:4") && out.stderr.contains("nope"),
        "{}",
        out.all()
    );
}

#[test]
fn bad_fake_setting_is_caught_by_the_fakes_parser() {
    let out = check(
        &format!(
            "duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}\n[upstream.flags]\nno_such_flag = 3\n"
        ),
        None,
    );
    assert!(out.stderr.contains("no-such-flag"), "{}", out.all());
}

#[test]
fn bad_variant_names_its_line() {
    let text = format!(
        "duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}\n[[variant]]\nname = \"v\"\nset = {{ \"upstream.api.workers\" = 0 }}\n"
    );
    let out = check(&text, None);
    assert!(
        out.stderr.contains("bad.toml:12") && out.stderr.contains("variant \"v\""),
        "{}",
        out.all()
    );
}

#[test]
fn good_scenarios_check_clean() {
    for f in ["pass.toml", "fail.toml", "fault.toml"] {
        let p = common::scenario(f);
        let out = common::proxylab(
            &["run", "--check", p.to_str().expect("utf8")],
            Duration::from_secs(60),
        );
        assert_eq!(out.code, 0, "{f}: {}", out.all());
    }
    let q = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join("quickstart.toml");
    let out = common::proxylab(
        &["run", "--check", q.to_str().expect("utf8")],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "quickstart: {}", out.all());
}

#[test]
fn a_directory_runs_every_scenario_in_it() {
    let dir = common::scenario("");
    let out = common::proxylab(
        &["run", "--check", dir.to_str().expect("utf8")],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    for name in [
        "pass",
        "fail",
        "fault",
        "bluegreen",
        "admin-faults",
        "uvicorn",
        "long",
        "upstream-fails",
    ] {
        assert!(
            out.stdout.contains(&format!("ok: {name} [base]")),
            "{name}: {}",
            out.all()
        );
    }
    // One bad file among good ones: exit 2, the good ones are still checked.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::copy(common::scenario("fail.toml"), tmp.path().join("a.toml")).expect("copy");
    std::fs::write(tmp.path().join("b.toml"), "duration = 3\n").expect("write");
    let out = common::proxylab(
        &["run", "--check", tmp.path().to_str().expect("utf8")],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stdout.contains("ok: fail [base]") && out.stderr.contains("b.toml:1"),
        "{}",
        out.all()
    );
}

#[test]
fn compare_needs_run_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().to_str().expect("utf8");
    let out = common::proxylab(&["compare", a, a], Duration::from_secs(30));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("summary.json") && out.stderr.contains("is this a run directory"),
        "{}",
        out.all()
    );
}

#[test]
fn bad_memory_limit_and_leak_name_their_keys() {
    let up = |extra: &str| {
        format!(
            "duration = \"3s\"\n[proxy]\nkind = \"none\"\n\n[[upstream]]\nname = \"api\"\n{extra}\n\n[[load]]\nname = \"web\"\nmodel = \"closed\"\nconnections = 1\n"
        )
    };
    let out = check(&up("memory_limit = \"-5MiB\""), None);
    assert!(
        out.stderr.contains("upstream[0].memory_limit"),
        "{}",
        out.all()
    );
    let out = check(&up("leak_per_request = \"lots\""), None);
    assert!(
        out.stderr.contains("upstream[0].leak_per_request"),
        "{}",
        out.all()
    );
    let out = check(
        &up("kind = \"uvicorn\"\nasgi = \"m:app\"\nleak_per_request = \"64KiB\""),
        None,
    );
    assert!(
        out.stderr.contains("upstream[0].leak_per_request"),
        "{}",
        out.all()
    );
    let text = format!(
        "duration = \"3s\"\n[proxy]\nkind = \"none\"{GOOD_TAIL}\n[[assert]]\nmetric = \"upstream.api.bogus\"\nop = \"<\"\nvalue = 1\n"
    );
    let out = check(&text, None);
    assert!(
        out.stderr.contains("assert[0].metric") && out.stderr.contains("crashes"),
        "{}",
        out.all()
    );
}

#[test]
fn bad_lock_table_and_statement_timeout_name_their_keys() {
    if proxylab_testkit::require("pg_ctlcluster", "apt-get install -y postgresql").is_none()
        || proxylab_testkit::require("redis-server", "apt-get install -y redis-server").is_none()
    {
        return;
    }
    let svc = |kind: &str, extra: &str, fault: &str| {
        format!(
            "duration = \"3s\"\n[proxy]\nkind = \"none\"\n[[service]]\nname = \"db\"\nkind = \"{kind}\"\n{extra}{GOOD_TAIL}{fault}"
        )
    };
    let lock = |table: &str| {
        format!("[[fault]]\nat = \"1s\"\naction = \"lock_table\"\ntarget = \"db\"\n{table}\n")
    };
    let cases = [
        (
            svc("redis", "statement_timeout = \"1s\"", ""),
            "service[0].statement_timeout",
        ),
        (
            svc("postgres", "statement_timeout = \"0s\"", ""),
            "service[0].statement_timeout",
        ),
        (
            svc("redis", "init_sql = \"SELECT 1\"", ""),
            "service[0].init_sql",
        ),
        (svc("postgres", "", &lock("")), "fault[0].table"),
        (
            svc("postgres", "", &lock("table = \"orders; DROP TABLE x\"")),
            "fault[0].table",
        ),
        (
            svc("redis", "", &lock("table = \"orders\"")),
            "fault[0].target",
        ),
        (
            svc(
                "postgres",
                "",
                "[[fault]]\nat = \"1s\"\naction = \"kill\"\ntarget = \"db\"\ntable = \"orders\"\n",
            ),
            "fault[0].table",
        ),
        (
            svc(
                "postgres",
                "",
                "[[fault]]\nat = \"1s\"\nfor = \"1s\"\naction = \"slow_query\"\ntarget = \"db\"\n",
            ),
            "fault[0].target",
        ),
        (
            svc(
                "redis",
                "",
                "[[fault]]\nat = \"1s\"\naction = \"slow_query\"\ntarget = \"db\"\n",
            ),
            "fault[0].for",
        ),
    ];
    for (text, key) in cases {
        let out = check(&text, None);
        assert!(out.stderr.contains(key), "{key}: {}", out.all());
    }
}
