//! Real PostgreSQL and Redis as `[[service]]`s: they come up on free ports with throwaway data
//! directories, a real uvicorn app reaches them through the URLs the runner hands it, they
//! are sampled, and they go down with the run leaving no process and no file, also on Ctrl-C.
//! A service whose program is missing is exit 2 naming the install command.

mod common;

use std::os::unix::process::CommandExt;
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
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("services-kill.toml");
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
    let sm = common::summary(&common::run_dirs(out.path(), "services-kill")[0]);
    let labels: Vec<(String, bool)> = sm["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .map(|m| {
            (
                m["label"].as_str().unwrap_or("").to_string(),
                m["error"].is_null(),
            )
        })
        .collect();
    assert_eq!(
        labels,
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
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("services-limits.toml");
    let r = common::proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--variant",
            "base,slow",
            "--no-compare",
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        Duration::from_secs(150),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs = common::run_dirs(out.path(), "services-limits");
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
/// with PostgreSQL's own "canceling statement due to statement timeout" in its log.
#[test]
fn a_locked_table_makes_queries_wait_and_statement_timeout_cancels_them() {
    if !references() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("services-lock.toml");
    let r = common::proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--variant",
            "base,timeout",
            "--no-compare",
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        Duration::from_secs(150),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs = common::run_dirs(out.path(), "services-lock");
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for d in &dirs {
        let sm = common::summary(d);
        let marker = &sm["faults"][0];
        assert_eq!(marker["label"], "lock_table db", "{sm}");
        assert!(marker["error"].is_null(), "{marker}");
        let pg = std::fs::read_to_string(d.join("logs/db.log")).unwrap_or_default();
        let cancelled = pg.contains("canceling statement due to statement timeout");
        let timeout_run = d.to_string_lossy().ends_with("timeout");
        assert_eq!(cancelled, timeout_run, "{}: {pg}", d.display());
    }
    assert!(leftovers(&before).is_empty(), "{:?}", leftovers(&before));
}
