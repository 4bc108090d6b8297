//! `proxylab doctor` on this machine, and `run`'s check of optional programs: a scenario whose
//! program is missing (nginx, hidden by a `PATH` without it) stops before anything starts with
//! exit 2 and the install hint; `--skip-missing` skips that variant and runs the rest.

mod common;

use std::time::Duration;

#[test]
fn doctor_lists_every_optional_program_and_exits_0() {
    let r = common::proxylab(&["doctor"], Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.all());
    for p in proxylab::doctor::PROGRAMS {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{:<11} ", p.name)))
            .unwrap_or_else(|| panic!("a line for {}: {}", p.name, r.all()));
        assert!(
            line.contains("found ") || line.contains(p.install),
            "{line}: found, or the install command"
        );
        assert!(r.stdout.contains(p.enables), "what {} enables", p.name);
    }
    // The repository's scenarios and variants are listed under the program they need.
    let nginx_users = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("needed by (scenarios):") && l.contains("[nginx]"))
        .unwrap_or_else(|| panic!("who needs nginx: {}", r.stdout));
    assert!(nginx_users.contains("quickstart [nginx]"), "{nginx_users}");
    // Services are optional programs too.
    let pg_users = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("postgresql "))
        .find(|l| l.trim_start().starts_with("needed by (scenarios):"))
        .unwrap_or_else(|| panic!("who needs postgresql: {}", r.stdout));
    assert!(pg_users.contains("pg-max-connections [base]"), "{pg_users}");
    // nginx is found here exactly when the testkit finds it, with the version nginx prints.
    if let Some(nginx) = proxylab_testkit::require_listed("nginx") {
        let out = std::process::Command::new(nginx)
            .arg("-v")
            .output()
            .expect("nginx -v");
        let banner = String::from_utf8_lossy(&out.stderr).to_string();
        let version = proxylab::doctor::programs::version_in(&banner).expect("a version");
        assert!(
            r.stdout.contains(&format!("nginx       found {version} (")),
            "{banner} in {}",
            r.stdout
        );
    }
}

#[test]
fn doctor_markdown_is_the_readme_table() {
    let r = common::proxylab(&["doctor", "--markdown"], Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.all());
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(&format!("\n\n{}\n", r.stdout)),
        "README.md's requirements table is `proxylab doctor --markdown`, blank lines around:\n{}",
        r.stdout
    );
}

/// A directory holding nothing, for a `PATH` without nginx (the runner needs nothing else).
fn empty_path() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn run_without_nginx_stops_before_starting_with_exit_2_and_the_hint() {
    let path = empty_path();
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("pass.toml");
    let r = common::proxylab_env(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--variant",
            "base,nginx",
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        &[("PATH", path.path().to_str().expect("utf8"))],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(
            "nginx not installed (needed by proxy nginx; install: apt-get install nginx)"
        ),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("nothing was started"), "{}", r.all());
    assert!(
        common::run_dirs(out.path(), "pass").is_empty(),
        "no run directory: nothing started"
    );
    assert!(!r.stderr.contains("component"), "{}", r.all());
}

#[test]
fn skip_missing_skips_the_nginx_variant_and_runs_the_rest() {
    let path = empty_path();
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("pass.toml");
    let r = common::proxylab_env(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--variant",
            "base,nginx",
            "--skip-missing",
            "--no-compare",
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        &[("PATH", path.path().to_str().expect("utf8"))],
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("skipped: pass [nginx]: nginx not installed")
            && r.stdout.contains("apt-get install nginx"),
        "{}",
        r.all()
    );
    let dirs = common::run_dirs(out.path(), "pass");
    assert_eq!(
        dirs.len(),
        1,
        "the base ran, the nginx variant did not: {dirs:?}"
    );
    assert!(dirs[0].to_string_lossy().ends_with("-base"), "{dirs:?}");
    assert_eq!(common::summary(&dirs[0])["passed"], true);
}

/// Real services are optional programs like the others: with `redis-server` (and `python3` for
/// the real uvicorn app) off `PATH`, a scenario with `[[service]] kind = "redis"` stops before
/// starting with exit 2 and the table's install commands; in a directory run with
/// `--skip-missing`, it is skipped with a `skipped:` line and the other file runs.
#[test]
fn a_missing_service_program_is_exit_2_or_skipped() {
    let path = empty_path();
    let env = [("PATH", path.path().to_str().expect("utf8"))];
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("services.toml");
    let args = ["run", s.to_str().expect("utf8"), "--ci", "--out"];
    let out_arg = out.path().to_str().expect("utf8");
    let r = common::proxylab_env(
        &[&args[..], &[out_arg]].concat(),
        &env,
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 2, "{}", r.all());
    let want = "redis not installed (needed by service \"cache\", kind = \"redis\"; \
                install: apt-get install redis-server)";
    assert!(r.stderr.contains(want), "{want}: {}", r.all());
    assert!(r.stderr.contains("nothing was started"), "{}", r.all());
    assert!(common::run_dirs(out.path(), "services").is_empty());

    // A directory: the services scenario is skipped, pass.toml runs.
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["services.toml", "pass.toml", "pass.conf"] {
        std::fs::copy(common::scenario(f), dir.path().join(f)).expect("copy");
    }
    let r = common::proxylab_env(
        &[
            "run",
            dir.path().to_str().expect("utf8"),
            "--ci",
            "--skip-missing",
            "--out",
            out_arg,
        ],
        &env,
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("skipped: services [base]: redis not installed"),
        "{}",
        r.all()
    );
    assert!(common::run_dirs(out.path(), "services").is_empty());
    assert_eq!(common::run_dirs(out.path(), "pass").len(), 1, "{}", r.all());
}

/// A real Uvicorn app whose own import is missing (here a module no one has): `run` stops
/// before starting with exit 2 and `pip install MODULE`, or skips it with `--skip-missing`;
/// never a component that dies at start.
#[test]
fn an_app_import_that_is_missing_is_exit_2_or_skipped() {
    if proxylab_testkit::require_listed("uvicorn").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("apps")).expect("apps");
    std::fs::write(
        dir.path().join("apps/needs_more.py"),
        "import proxylab_no_such_module\nfrom fastapi import FastAPI\napp = FastAPI()\n",
    )
    .expect("app");
    let text = std::fs::read_to_string(common::scenario("uvicorn.toml")).expect("uvicorn.toml");
    let file = dir.path().join("app.toml");
    std::fs::write(&file, text.replace("\"hello:app\"", "\"needs_more:app\"")).expect("write");
    let out = tempfile::tempdir().expect("tempdir");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", file.to_str().expect("utf8"), "--ci", "--out"];
        args.push(out.path().to_str().expect("utf8"));
        args.extend(extra);
        common::proxylab(&args, Duration::from_secs(120))
    };
    let want = "python module proxylab_no_such_module not installed (needed by upstream \"app\", \
                asgi = \"needs_more:app\"; install: pip install proxylab_no_such_module)";
    let r = run(&[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains(want), "{want}: {}", r.all());
    assert!(r.stderr.contains("nothing was started"), "{}", r.all());
    let r = run(&["--skip-missing"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("skipped: uvicorn [base]: python module"),
        "{}",
        r.all()
    );
    assert!(
        common::run_dirs(out.path(), "uvicorn").is_empty(),
        "nothing ran"
    );
}
