//! End-to-end fault runs with real processes: an upstream instance paused (SIGSTOP) and
//! resumed (SIGCONT) behind our proxy; the effect is read back from the run's
//! `timeseries.csv`, `summary.json` and logs.

mod common;

use common::{Out, csv_column, proxylab, run_dirs, scenario, summary};
use std::path::Path;
use std::time::Duration;

fn run(file: &str, out: &Path) -> Out {
    let s = scenario(file);
    proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--out",
            out.to_str().expect("utf8"),
        ],
        Duration::from_secs(120),
    )
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
    assert!(at(&p99, 5) < 300.0, "fast after the resume: {p99:?}");
    // The paused instance was skipped by the counters sampling, not killed: one start only.
    let log = std::fs::read_to_string(d.join("logs/api.0.log")).expect("log");
    assert_eq!(
        log.matches("=== proxylab: starting api.0").count(),
        1,
        "{log}"
    );
}
