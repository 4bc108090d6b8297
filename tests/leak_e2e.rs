//! A leaking app under a memory limit (`scenarios/leaking-app.toml`): without
//! `--limit-max-requests` its workers die at the limit and the proxy answers 502; with it they
//! are recycled first. The limit is a memory cgroup where the kernel allows it (removed after
//! the run) or RLIMIT_DATA, and the run says which. And the thundering herd after every worker
//! crashed (`scenarios/thundering-herd.toml`).

mod common;

use common::{proxylab_env, run_dirs};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"))
}

/// Runs `scenarios/NAME.toml --ci --variant VARIANTS` with `env`; (stderr, run directories).
fn run(name: &str, variants: &str, env: &[(&str, &str)], out: &Path) -> (String, Vec<PathBuf>) {
    let file = scenario(name);
    let args = [
        "run",
        file.to_str().expect("utf8"),
        "--ci",
        "--no-compare",
        "--variant",
        variants,
        "--out",
        out.to_str().expect("utf8"),
    ];
    let r = proxylab_env(&args, env, Duration::from_secs(150));
    assert_eq!(r.code, 0, "{}", r.all());
    (r.stderr.clone(), run_dirs(out, name))
}

/// The cgroup directory the instance log names, if the limit was a cgroup.
fn cgroup_of(run: &Path) -> Option<PathBuf> {
    let log = std::fs::read_to_string(run.join("logs/api.0.log")).expect("instance log");
    let line = log.lines().find(|l| l.contains("memory_limit"))?;
    let start = line.find("(/sys/fs/cgroup")? + 1;
    let end = start + line[start..].find(')')?;
    Some(PathBuf::from(&line[start..end]))
}

/// The CI scenario run checks every variant's assertions; these check what it does not: the
/// cgroup (where the kernel allows one) counted OOM kills and is gone after the run, the
/// fallback says why and aborts the worker at its allocation, and real nginx sees the herd.
#[test]
fn leaking_workers_die_at_the_limit_and_the_cgroup_goes_with_the_run() {
    let out = tempfile::tempdir().expect("tempdir");
    let (stderr, dirs) = run("leaking-app", "base", &[], out.path());
    assert!(
        stderr.contains("upstream api.0: memory_limit 48.0 MiB via"),
        "{stderr}"
    );
    let Some(cg) = cgroup_of(&dirs[0]) else {
        eprintln!("no memory cgroup on this machine (RLIMIT_DATA used): {stderr}");
        return;
    };
    assert!(!cg.exists(), "cgroup {} left behind", cg.display());
    let kills = common::csv_column(&dirs[0].join("samples.csv"), "up.api.oom_kills");
    let most = kills.iter().flatten().copied().fold(0.0, f64::max);
    assert!(most >= 1.0, "no OOM kill sampled: {kills:?}");
}

#[test]
fn memory_limit_falls_back_to_rlimit_data_and_says_so() {
    let out = tempfile::tempdir().expect("tempdir");
    let env = [("PROXYLAB_MEMORY_LIMIT", "rlimit")];
    let (stderr, dirs) = run("leaking-app", "base", &env, out.path());
    assert!(
        stderr.contains("via RLIMIT_DATA on each process")
            && stderr.contains("PROXYLAB_MEMORY_LIMIT=rlimit"),
        "{stderr}"
    );
    let log = std::fs::read_to_string(dirs[0].join("logs/api.0.log")).expect("log");
    assert!(log.contains("memory allocation of"), "{log}");
}

#[test]
fn nginx_sees_the_returning_worker_refuse_the_herd() {
    if proxylab_testkit::require("nginx", "apt-get install -y nginx").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let (_, dirs) = run("thundering-herd", "nginx", &[], out.path());
    let s = common::summary(&dirs[0]);
    let n503 = s["total"]["status"]["503"].as_f64().unwrap_or(0.0);
    assert!(n503 > 200.0, "{}", s["total"]);
}
