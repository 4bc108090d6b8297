//! End-to-end fault runs with real processes: an upstream instance paused (SIGSTOP) and
//! resumed (SIGCONT) behind our proxy, and the proxy itself killed and restarted; the effect is
//! read back from the run's `timeseries.csv`, `summary.json` and logs.

mod common;

use common::{Out, csv_column, proxylab, run_ci, run_dirs, scenario, summary};
use std::path::Path;
use std::time::Duration;

fn run(file: &str, out: &Path) -> Out {
    run_ci(&scenario(file), &[], out)
}

/// (label, applied without error) of every fault marker.
fn markers(s: &serde_json::Value) -> Vec<(String, bool)> {
    s["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .map(|m| {
            (
                m["label"].as_str().unwrap_or("").to_string(),
                m["error"].is_null(),
            )
        })
        .collect()
}

fn at(v: &[Option<f64>], sec: usize) -> f64 {
    v.get(sec).copied().flatten().unwrap_or(0.0)
}

#[test]
fn paused_upstream_stalls_into_504s_and_recovers_on_resume() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("pause.toml", out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "pause")[0];
    assert_eq!(
        markers(&summary(d)),
        [
            ("pause api.0".to_string(), true),
            ("end of pause api.0".to_string(), true)
        ]
    );
    let ts = d.join("timeseries.csv");
    let s504 = csv_column(&ts, "all.status_504");
    let s200 = csv_column(&ts, "all.status_200");
    let max = csv_column(&ts, "all.max_ms");
    let p99 = csv_column(&ts, "all.p99_ms");
    // Before the pause: answered quickly, no 504.
    for sec in 0..2 {
        assert_eq!(at(&s504, sec), 0.0, "second {sec}: {s504:?}");
        assert!(at(&s200, sec) > 50.0, "second {sec}: {s200:?}");
        assert!(at(&max, sec) < 300.0, "second {sec}: {max:?}");
    }
    // Paused (2 s .. 4 s): requests stall until proxy_read_timeout (500 ms), then 504.
    assert!(at(&s504, 3) > 50.0, "504s while paused: {s504:?}");
    assert_eq!(at(&s200, 3), 0.0, "nothing served while paused: {s200:?}");
    assert!(at(&max, 3) >= 450.0, "latency spike while paused: {max:?}");
    // Resumed at 4 s: served again, fast.
    assert_eq!(at(&s504, 5), 0.0, "no 504 after the resume: {s504:?}");
    assert!(at(&s200, 5) > 50.0, "served after the resume: {s200:?}");
    assert!(at(&p99, 5) < 450.0, "no stall after the resume: {p99:?}");
    // The paused instance was skipped by the counters sampling, not killed: one start only.
    let log = std::fs::read_to_string(d.join("logs/api.0.log")).expect("log");
    assert_eq!(
        log.matches("=== proxylab: starting api.0").count(),
        1,
        "{log}"
    );
}

#[test]
fn killed_proxy_refuses_connections_and_recovers_after_restart() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("proxy-kill.toml", out.path());
    // Exit 0: the runner did not take the proxy's exits for deaths (that would be exit 3),
    // and the scenario's own assertions (connect_refused while down) held.
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "proxy-kill")[0];
    let s = summary(d);
    assert_eq!(
        markers(&s),
        [
            ("kill proxy".to_string(), true),
            ("restart proxy".to_string(), true),
            ("kill proxy".to_string(), true),
            ("restart proxy".to_string(), true),
        ],
        "{s}"
    );
    let ts = d.join("timeseries.csv");
    let failed = csv_column(&ts, "all.failed");
    let ok = csv_column(&ts, "all.status_200");
    // Up, down (SIGKILL at 1 s), up (restarted at 2.5 s), down (SIGTERM at 4 s), up (5.5 s).
    for (sec, up) in [(0, true), (1, false), (3, true), (4, false), (6, true)] {
        if up {
            assert_eq!(at(&failed, sec), 0.0, "second {sec}: {failed:?}");
            assert!(at(&ok, sec) > 50.0, "second {sec}: {ok:?}");
        } else {
            // (a response finishing within the few ms between the kill and the second's
            // start on the loadgen's clock counts in this second)
            assert!(at(&failed, sec) > 50.0, "second {sec}: {failed:?}");
            assert!(at(&ok, sec) <= 5.0, "second {sec}: {ok:?}");
        }
    }
    let down1 = s["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|p| p["name"] == "down1")
        .expect("phase down1");
    assert!(
        down1["errors"]["connect_refused"].as_f64().unwrap_or(0.0) > 50.0,
        "connect_refused while down: {down1}"
    );
    // Started three times, on the same ports (the expanded config was not rewritten).
    let log = std::fs::read_to_string(d.join("logs/proxy.log")).expect("log");
    assert_eq!(
        log.matches("=== proxylab: starting proxy").count(),
        3,
        "{log}"
    );
    assert!(!d.join("proxy/proxy.conf.0").exists());
}

#[test]
fn proxy_kill_in_a_run_without_proxy_is_a_marked_error_not_a_crash() {
    let out = tempfile::tempdir().expect("tempdir");
    let s = scenario("proxy-kill.toml");
    let r = proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--proxy",
            "none",
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        Duration::from_secs(120),
    );
    // The load hits the instance directly: nothing is refused, so the "down" assertions fail.
    assert_eq!(r.code, 1, "{}", r.all());
    let s = summary(&run_dirs(out.path(), "proxy-kill")[0]);
    let m = s["faults"].as_array().expect("faults");
    assert_eq!(m.len(), 3, "{s}");
    for f in m {
        assert_eq!(f["error"], "no proxy in this run", "{s}");
    }
}
