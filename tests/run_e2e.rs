//! End-to-end runs of small scenarios with real processes: the runner binary starts the fake
//! upstreams, real nginx (when installed) and the loadgen; exit codes, run directories, faults
//! in the series, variant comparison, and the HTML report in headless Chromium.

mod common;

use common::{Out, proxylab, run_dirs, scenario, summary};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn run(file: &str, extra: &[&str], out: &Path) -> Out {
    let s = scenario(file);
    let mut args = vec![
        "run",
        s.to_str().expect("utf8"),
        "--ci",
        "--out",
        out.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    proxylab(&args, LIMIT)
}

/// `proxylab proxy` is usable once `-t` stops reporting "not implemented". Flip the tests that
/// use our proxy by changing only this function.
fn our_proxy_ready() -> bool {
    let conf = scenario("pass.conf");
    let out = proxylab(
        &["proxy", "-t", "-c", conf.to_str().expect("utf8")],
        Duration::from_secs(30),
    );
    !(out.stderr.contains("not implemented") || out.stdout.contains("not implemented"))
}

#[test]
fn passing_scenario_exits_0_and_writes_every_report_file() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("pass.toml", &["--variant", "base"], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs = run_dirs(out.path(), "pass");
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let d = &dirs[0];
    for f in [
        "index.html",
        "summary.json",
        "junit.xml",
        "timeseries.csv",
        "loadgen.hlog",
        "scenario.toml",
        "plan.toml",
        "status.png",
        "status.svg",
        "latency.png",
        "latency.svg",
        "cpu.png",
        "cpu.svg",
        "connections.png",
        "connections.svg",
        "distribution.png",
        "distribution.svg",
        "logs/api.0.log",
        "logs/api.1.log",
        "logs/loadgen.log",
    ] {
        assert!(d.join(f).is_file(), "missing {f} in {}", d.display());
    }
    let s = summary(d);
    assert_eq!(s["passed"], true, "{s}");
    let completed = s["total"]["completed"].as_f64().expect("completed");
    assert!(completed > 200.0, "{s}");
    assert!(
        r.stdout.contains("report: ") && r.stdout.contains("index.html"),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains(&format!("{completed:.0}")),
        "terminal table holds the run's numbers: {}",
        r.all()
    );
    // CPU of each component was sampled every second.
    let cpu = common::csv_column(&d.join("timeseries.csv"), "cpu.api.0");
    assert!(cpu.iter().filter(|v| v.is_some()).count() >= 2, "{cpu:?}");
    let junit = std::fs::read_to_string(d.join("junit.xml")).expect("junit");
    assert_eq!(junit.matches("<testcase").count(), 3, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
}

#[test]
fn failing_assertion_exits_1() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("fail.toml", &[], out.path());
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains("FAIL") && r.stdout.contains("no 503"),
        "{}",
        r.all()
    );
    let d = &run_dirs(out.path(), "fail")[0];
    let s = summary(d);
    let a = s["assertions"].as_array().expect("assertions");
    assert_eq!(a[0]["passed"], false, "{s}");
    assert!(
        a[0]["actual"].as_f64().is_some_and(|n| n >= 50.0),
        "about half of 150 requests got 503: {s}"
    );
    assert_eq!(a[2]["passed"], true, "no transport errors: {s}");
    let junit = std::fs::read_to_string(d.join("junit.xml")).expect("junit");
    assert!(junit.contains("<testcase classname=\"proxylab.fail[base]\" name=\"no 503\" time=\"0\">\n      <failure"), "{junit}");
}

#[test]
fn latency_assertion_sees_the_upstream_latency() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("fail.toml", &[], out.path());
    assert_eq!(r.code, 1, "{}", r.all());
    let s = summary(&run_dirs(out.path(), "fail")[0]);
    let a = &s["assertions"][1];
    assert_eq!(a["name"], "median under 5 ms");
    // Half the requests wait 50 ms, half answer at once: the median is one or the other.
    let p50 = a["actual"].as_f64().expect("p50 measured");
    let p99 = s["populations"]["web"]["latency_ms"]["p99"]
        .as_f64()
        .expect("p99");
    assert!(p99 >= 45.0, "p99 reflects the 50 ms route: {s}");
    assert!(p50 <= p99, "{s}");
}

#[test]
fn upstream_that_cannot_start_exits_3_naming_it_with_its_log() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("upstream-fails.toml", &[], out.path());
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(r.stderr.contains("app.0 did not start"), "{}", r.all());
    assert!(
        r.stderr.contains("proxylab_no_such_module") || r.stderr.contains("No module named"),
        "log tail shown: {}",
        r.all()
    );
}

#[test]
fn kill_and_restart_are_visible_in_the_series() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("fault.toml", &[], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "fault")[0];
    let s = summary(d);
    let faults: Vec<(String, bool)> = s["faults"]
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
    assert!(
        faults.contains(&("kill api.0".to_string(), true)),
        "{faults:?}"
    );
    assert!(
        faults.contains(&("restart api.0".to_string(), true)),
        "{faults:?}"
    );
    let failed = common::csv_column(&d.join("timeseries.csv"), "all.failed");
    let f = |s: usize| failed.get(s).copied().flatten().unwrap_or(0.0);
    assert_eq!(f(0), 0.0, "{failed:?}");
    assert!(f(2) > 0.0, "failures while api.0 is down: {failed:?}");
    assert_eq!(f(4), 0.0, "no failures after the restart: {failed:?}");
    let log = std::fs::read_to_string(d.join("logs/api.0.log")).expect("log");
    assert_eq!(
        log.matches("=== proxylab: starting api.0 on CPUs [0]")
            .count(),
        2,
        "{log}"
    );
}

#[test]
fn nginx_variant_samples_stub_status() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("pass.toml", &["--variant", "nginx"], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "pass")[0];
    let s = summary(d);
    assert_eq!(s["proxy"], "nginx", "{s}");
    assert!(
        s["components"]["proxy"]["rss_max_mib"]
            .as_f64()
            .is_some_and(|m| m > 0.0),
        "{s}"
    );
    let active = common::csv_column(&d.join("timeseries.csv"), "proxy.active");
    assert!(
        active.iter().flatten().any(|v| *v >= 1.0),
        "stub_status sampled: {active:?}"
    );
    let conf = std::fs::read_to_string(d.join("proxy/proxy.conf")).expect("conf");
    assert!(!conf.contains("{{"), "placeholders expanded: {conf}");
}

/// `cache_status_path`: the runner samples our proxy's `proxylab_cache_status` page into
/// `proxy.cache.*` columns (responses per second by `$upstream_cache_status`) and the report
/// stacks them; nginx runs the same template (`{{proxylab_only ...}}` dropped), unsampled.
#[test]
fn our_proxy_cache_counters_are_sampled_per_second() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("cache-counters.toml", &["--variant", "base"], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "cache-counters")[0];
    let csv = d.join("timeseries.csv");
    let sum = |col: &str| -> f64 { common::csv_column(&csv, col).iter().flatten().sum() };
    let (hit, miss) = (sum("proxy.cache.HIT"), sum("proxy.cache.MISS"));
    let expired = sum("proxy.cache.EXPIRED");
    assert!(hit > 100.0, "mostly HITs at ~100 req/s: {hit}");
    assert!(
        miss + expired >= 2.0,
        "each page fetched: {miss} + {expired}"
    );
    assert!(hit > 5.0 * (miss + expired), "{hit} vs {miss} + {expired}");
    let keys = common::csv_column(&csv, "proxy.cache.keys");
    assert!(keys.iter().flatten().any(|k| *k == 2.0), "{keys:?}");
    let chart = "status-by-proxy-cache-counters";
    assert!(d.join(format!("{chart}.png")).is_file(), "{chart}.png");
    let html = std::fs::read_to_string(d.join("index.html")).expect("index");
    assert!(
        html.contains(&format!("{chart}.svg")),
        "the chart is on the page"
    );
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("cache-counters.toml", &["--variant", "nginx"], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "cache-counters")[0];
    let conf = std::fs::read_to_string(d.join("proxy/proxy.conf")).expect("conf");
    assert!(!conf.contains("proxylab_cache_status"), "{conf}");
    let text = std::fs::read_to_string(d.join("timeseries.csv")).expect("csv");
    assert!(!text.contains("proxy.cache."), "nothing sampled from nginx");
}

#[test]
fn variants_are_run_and_compared() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("pass.toml", &["--variant", "base,nginx"], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs = run_dirs(out.path(), "pass");
    assert_eq!(dirs.len(), 3, "base, nginx, compare: {dirs:?}");
    let cmp = dirs
        .iter()
        .find(|d| d.to_string_lossy().ends_with("-compare"))
        .expect("compare dir");
    let html = std::fs::read_to_string(cmp.join("index.html")).expect("compare index");
    assert!(
        html.contains("pass [base]") && html.contains("pass [nginx]"),
        "{html}"
    );
    assert!(
        html.contains("id=\"deltas\"") && html.contains("Δ vs pass [base]"),
        "{html}"
    );
    for stem in ["distribution", "p99", "rate", "errors"] {
        assert!(
            cmp.join(format!("{stem}.png")).is_file() && cmp.join(format!("{stem}.svg")).is_file(),
            "{stem}"
        );
    }
    // `proxylab compare` on the same two runs.
    let runs: Vec<String> = dirs
        .iter()
        .filter(|d| !d.to_string_lossy().ends_with("-compare"))
        .map(|d| d.display().to_string())
        .collect();
    let again = out.path().join("again");
    let c = proxylab(
        &[
            "compare",
            &runs[0],
            &runs[1],
            "--out",
            again.to_str().expect("utf8"),
        ],
        LIMIT,
    );
    assert_eq!(c.code, 0, "{}", c.all());
    assert!(again.join("index.html").is_file());
}

#[test]
fn our_proxy_runs_a_scenario() {
    if !our_proxy_ready() {
        println!(
            "SKIPPED: `proxylab proxy -t` reports \"not implemented\"; this test runs once our proxy works"
        );
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        "pass.toml",
        &["--variant", "base", "--proxy", "proxylab"],
        out.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        summary(&run_dirs(out.path(), "pass")[0])["proxy"],
        "proxylab"
    );
}

#[test]
fn reload_switches_pools_under_load() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("bluegreen.toml", &[], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "bluegreen")[0];
    let s = summary(d);
    let f = &s["faults"][0];
    assert_eq!(f["label"], "switch to green", "{s}");
    assert!(f["error"].is_null(), "{s}");
    let ts = d.join("timeseries.csv");
    let blue = common::csv_column(&ts, "up.blue.requests");
    let green = common::csv_column(&ts, "up.green.requests");
    let at = |v: &[Option<f64>], i: usize| v.get(i).copied().flatten().unwrap_or(0.0);
    assert_eq!(
        at(&green, 1),
        0.0,
        "green idle before the switch: {green:?}"
    );
    assert!(at(&blue, 1) > 0.0, "blue served before: {blue:?}");
    assert!(at(&green, 3) > 0.0, "green serves after: {green:?}");
    assert_eq!(
        at(&blue, 3),
        at(&blue, 4).max(at(&blue, 3)),
        "blue stops growing: {blue:?}"
    );
    assert!(
        d.join("proxy/proxy.conf.0").is_file(),
        "the config before the reload is kept"
    );
}

#[test]
fn admin_faults_change_the_upstream_under_load() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("admin-faults.toml", &[], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let s = summary(&run_dirs(out.path(), "admin-faults")[0]);
    let labels: Vec<&str> = s["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .filter_map(|m| m["label"].as_str())
        .collect();
    assert_eq!(labels, ["unhealthy api", "end of unhealthy api"], "{s}");
    assert!(
        s["faults"]
            .as_array()
            .expect("faults")
            .iter()
            .all(|m| m["error"].is_null()),
        "{s}"
    );
}

#[test]
fn real_uvicorn_pool_is_started_sampled_and_stopped() {
    if proxylab_testkit::require_python(&["uvicorn"], "pip install 'uvicorn[standard]'").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("uvicorn.toml", &[], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "uvicorn")[0];
    // Supervisor + 2 workers, all in the instance's process group, sampled together.
    let procs = common::csv_column(&d.join("timeseries.csv"), "procs.app.0");
    assert!(procs.iter().flatten().any(|n| *n >= 3.0), "{procs:?}");
    let log = std::fs::read_to_string(d.join("logs/app.0.log")).expect("log");
    assert!(
        log.contains("Uvicorn running on http://127.0.0.1:"),
        "{log}"
    );
}
