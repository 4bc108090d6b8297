//! Real PostgreSQL and Redis as `[[service]]`s: they come up on free ports with throwaway data
//! directories, a real uvicorn app reaches them through the URLs the runner hands it, they
//! are sampled, and they go down with the run leaving no process and no file, also on Ctrl-C.
//! A service whose program is missing is exit 2 naming the install command.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The two runs below look for their own services' leftovers by name: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Everything a services test needs, or None after printing SKIPPED.
fn references() -> bool {
    proxylab_testkit::require("pg_ctlcluster", "apt-get install -y postgresql").is_some()
        && proxylab_testkit::require("redis-server", "apt-get install -y redis-server").is_some()
        && proxylab_testkit::require_python(
            &["uvicorn", "psycopg"],
            "pip install uvicorn 'psycopg[binary]'",
        )
        .is_some()
}

/// Data directories and processes of this test's services (`proxylab-db-*`,
/// `proxylab-cache-*` under the temp dir) still around.
fn leftovers(before: &[String]) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("proxylab-db-") || n.starts_with("proxylab-cache-"))
        .filter(|n| !before.contains(n))
        .collect();
    for (pid, _, _, _) in common::processes() {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if v.iter().any(|d| cmd.contains(d.as_str())) {
            v.push(format!("process {pid}: {cmd}"));
        }
    }
    v
}

fn snapshot() -> Vec<String> {
    leftovers(&[])
}

/// Runs `tests/scenarios/NAME.toml` with `extra` arguments (bounded by `limit`), asserts
/// exit 0, and returns the output directory and its run directories.
fn run_ok(name: &str, extra: &[&str], limit: Duration) -> (tempfile::TempDir, Vec<PathBuf>) {
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario(&format!("{name}.toml"));
    let mut args = vec!["run", s.to_str().expect("utf8")];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.path().to_str().expect("utf8")]);
    let r = common::proxylab(&args, limit);
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs = common::run_dirs(out.path(), name);
    (out, dirs)
}

/// The fault markers of a run summary: (label, carried out without an error).
fn markers(sm: &serde_json::Value) -> Vec<(String, bool)> {
    sm["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .map(|m| {
            let label = m["label"].as_str().unwrap_or("").to_string();
            (label, m["error"].is_null())
        })
        .collect()
}

#[test]
fn postgres_and_redis_serve_a_real_app_and_leave_nothing_behind() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("services.toml");
    let r = common::proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &common::run_dirs(out.path(), "services")[0];
    let samples = std::fs::read_to_string(d.join("samples.csv")).expect("samples");
    assert!(
        samples.contains("cpu.db") && samples.contains("rss.cache"),
        "sampled"
    );
    let pg = std::fs::read_to_string(d.join("logs/db.log")).expect("db log");
    assert!(pg.contains("ready to accept connections"), "{pg}");
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}

#[test]
fn ctrl_c_stops_the_services_and_removes_their_data() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("services.toml");
    let mut child = Command::new(common::bin())
        .args(["run", s.to_str().expect("utf8"), "--variant", "long"])
        .args(["--out", out.path().to_str().expect("utf8")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let runner = child.id();
    // Wait (bounded) for the loadgen: every component is up then.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = common::descendants(runner).iter().any(|(p, _)| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains("loadgen"))
        });
        if up {
            break;
        }
        if Instant::now() > deadline || child.try_wait().expect("try_wait").is_some() {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{runner}")])
                .status();
            panic!("the run did not reach its load phase");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !leftovers(&before).is_empty(),
        "services running before Ctrl-C"
    );
    let kill = Command::new("kill")
        .args(["-INT", &runner.to_string()])
        .status();
    assert!(kill.expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{runner}")])
                .status();
            panic!("runner did not exit within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}

#[test]
fn a_service_whose_program_is_missing_names_the_install_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("svc.toml");
    std::fs::write(
        &p,
        "duration = \"2s\"\n[proxy]\nkind = \"none\"\n[[service]]\nname = \"cache\"\nkind = \"redis\"\n[[upstream]]\nname = \"api\"\n[[load]]\nname = \"web\"\nmodel = \"closed\"\nconnections = 1\n",
    )
    .expect("write");
    // A PATH without redis-server: the file is valid (`--check`), the run stops before
    // starting anything, like every missing optional program (`proxylab doctor`'s table).
    let run = |extra: &[&str]| {
        Command::new(common::bin())
            .arg("run")
            .arg(&p)
            .args(extra)
            .env("PATH", dir.path())
            .output()
            .expect("run")
    };
    let out = run(&["--check"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["--out", dir.path().join("reports").to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "redis not installed (needed by service \"cache\", kind = \"redis\"; \
                      install: apt-get install redis-server)"
        ) && err.contains("nothing was started"),
        "{err}"
    );
    assert!(!dir.path().join("reports").exists(), "nothing started");
}

#[test]
fn a_killed_database_fails_queries_and_serves_again_after_its_restart() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let (_out, dirs) = run_ok("services-kill", &[], Duration::from_secs(120));
    let sm = common::summary(&dirs[0]);
    assert_eq!(
        markers(&sm),
        [
            ("kill db".to_string(), true),
            ("restart db".to_string(), true)
        ],
        "{sm}"
    );
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}

/// `hold_connections` takes every PostgreSQL connection for 1.5 s (the app's queries fail with
/// 500 meanwhile, then are answered again), and a latency toxic on `link:apps->db` slows every
/// request through the URL the app got.
#[test]
fn held_connections_and_a_slow_database_link_reach_the_app() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let extra = ["--variant", "base,slow", "--no-compare"];
    let (_out, dirs) = run_ok("services-limits", &extra, Duration::from_secs(150));
    let base = dirs
        .iter()
        .find(|d| !d.to_string_lossy().ends_with("slow"))
        .expect("base run");
    let sm = common::summary(base);
    let marker = &sm["faults"][0];
    assert_eq!(marker["label"], "hold_connections db", "{sm}");
    assert!(marker["error"].is_null(), "{marker}");
    let log = std::fs::read_to_string(base.join("logs/app.0.log")).unwrap_or_default();
    let pg = std::fs::read_to_string(base.join("logs/db.log")).unwrap_or_default();
    assert!(
        log.contains("too many clients") || pg.contains("too many clients"),
        "app log: {log}\ndb log: {pg}"
    );
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}

/// `lock_table`: another session holds ACCESS EXCLUSIVE on the app's table for 1.5 s; the
/// app's queries wait inside PostgreSQL (none fails, the slowest waits > 1 s), and with the
/// server's `statement_timeout` (variant `timeout`) they are cancelled instead: 500 in < 1 s,
/// with PostgreSQL's own "canceling statement due to statement timeout" in its log. The fake
/// Uvicorn's `db` model of the same faults (variants `fake`, `fake-timeout`: a table lock
/// through its admin API, `--statement-timeout`) agrees with each real run ([`fake_agrees`]).
#[test]
fn a_locked_table_makes_queries_wait_and_statement_timeout_cancels_them() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let extra = [
        "--variant",
        "base,timeout,fake,fake-timeout",
        "--no-compare",
    ];
    let (_out, dirs) = run_ok("services-lock", &extra, Duration::from_secs(200));
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    let mut runs = std::collections::BTreeMap::new();
    for d in &dirs {
        let sm = common::summary(d);
        let variant = sm["variant"].as_str().unwrap_or("base").to_string();
        let label = if variant.starts_with("fake") {
            "lock_table app"
        } else {
            "lock_table db"
        };
        let marker = &sm["faults"][0];
        assert_eq!(marker["label"], label, "{sm}");
        assert!(marker["error"].is_null(), "{marker}");
        let pg = std::fs::read_to_string(d.join("logs/db.log")).unwrap_or_default();
        let cancelled = pg.contains("canceling statement due to statement timeout");
        assert_eq!(cancelled, variant == "timeout", "{}: {pg}", d.display());
        runs.insert(variant, sm);
    }
    let run = |v: &str| {
        runs.get(v)
            .unwrap_or_else(|| panic!("no run {v}: {runs:?}"))
    };
    fake_agrees(run("base"), run("fake"), 0.0);
    fake_agrees(run("timeout"), run("fake-timeout"), 2.0);
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}

/// The fake's run agrees with the real one: the same count of 500s within `count_tol` and
/// the same slowest request within 250 ms. The load is 10 req/s on one schedule (same seed),
/// so both see the same arrivals; a request arriving within 100 ms of the lock's start or of
/// its last cancellable moment can land on the other side in one of them (the real lock is
/// taken by a SQL round trip, the fake's by an admin request): that is the count tolerance
/// (±2 with statement_timeout; 0 without, nothing fails either way). The slowest request
/// waits the lock out (or the 300 ms timeout) in both; 250 ms covers the 100 ms arrival
/// spacing plus the real app's own time per request (a new PostgreSQL connection each, a
/// thread pool of 6 against the fake's 40).
fn fake_agrees(real: &serde_json::Value, fake: &serde_json::Value, count_tol: f64) {
    let n500 = |s: &serde_json::Value| s["total"]["status"]["500"].as_f64().unwrap_or(0.0);
    let max = |s: &serde_json::Value| {
        s["total"]["latency_ms"]["max"]
            .as_f64()
            .expect("latency max")
    };
    assert!(
        (n500(real) - n500(fake)).abs() <= count_tol,
        "500s: real {} fake {}",
        n500(real),
        n500(fake)
    );
    assert!(
        (max(real) - max(fake)).abs() <= 250.0,
        "slowest: real {} ms, fake {} ms",
        max(real),
        max(fake)
    );
}

/// Redis under its three faults in one run (services-redis.toml): a slow command
/// (`slow_query`, DEBUG SLEEP 1 s) makes every PING wait without failing; all `maxclients`
/// connections held (`hold_connections`) makes Redis refuse new ones (the app's 500); a kill
/// with a restart fails requests until Redis is back. The scenario's assertions carry the
/// effects (exit 0); here, every fault was carried out and nothing is left behind.
#[test]
fn redis_slow_command_maxclients_and_restart_reach_the_app() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let (_out, dirs) = run_ok("services-redis", &[], Duration::from_secs(120));
    let sm = common::summary(&dirs[0]);
    let markers = markers(&sm);
    let want = [
        "slow_query cache",
        "end of slow_query cache",
        "hold_connections cache",
        "end of hold_connections cache",
        "kill cache",
        "restart cache",
    ];
    let labels: Vec<&str> = markers.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, want, "{sm}");
    assert!(markers.iter().all(|(_, ok)| *ok), "{markers:?}");
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}
