//! Outage scenarios of `scenarios/` measured end to end: retry amplification at the
//! upstream when every upstream hangs (`hung-upstream-retries.toml`), read from the fake
//! upstreams' request counters against the requests the loadgen sent; the proxy out of file
//! descriptors or worker connections (`proxy-out-of-fds.toml`), read from the proxy's log.

mod common;

use common::{run_ci, run_dirs};
use std::path::{Path, PathBuf};

/// Runs `scenarios/NAME.toml --ci` with `variants`; its run directories.
fn run_scenario(name: &str, variants: &str, out: &Path) -> Vec<PathBuf> {
    let s = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let r = run_ci(&s, &["--no-compare", "--variant", variants], out);
    assert_eq!(r.code, 0, "{}", r.all());
    run_dirs(out, name)
}

/// The proxy's log of the run whose directory ends with `suffix`.
fn proxy_log(dirs: &[PathBuf], suffix: &str) -> String {
    let d = dirs
        .iter()
        .find(|d| d.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no run {suffix}: {dirs:?}"));
    std::fs::read_to_string(d.join("logs/proxy.log")).expect("proxy log")
}

/// (requests the upstreams received, requests the loadgen sent) of a run.
fn upstream_vs_sent(run: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(run.join("samples.csv")).expect("samples");
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let h = rd.headers().expect("header").clone();
    let col = h
        .iter()
        .position(|c| c == "up.api.requests")
        .expect("up.api.requests");
    let upstream = rd
        .records()
        .flatten()
        .filter_map(|r| r.get(col).and_then(|v| v.parse::<f64>().ok()))
        .fold(0.0, f64::max);
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("loadgen-summary.json")).expect("summary"),
    )
    .expect("json");
    let sent = s["overall"]["sent"].as_f64().expect("sent");
    (upstream, sent)
}

#[test]
fn hung_upstreams_with_retries_double_the_upstream_work() {
    let out = tempfile::tempdir().expect("tempdir");
    let dirs = run_scenario("hung-upstream-retries", "base,no-retry", out.path());
    let find = |suffix: &str| {
        dirs.iter()
            .find(|d| d.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no run {suffix}: {dirs:?}"))
    };
    // 50 req/s; the upstreams hang for 4 of 8 seconds (200 requests). With retries each of
    // those reaches both instances: 200 + 2 × 200 = 600 upstream requests for 400 sent.
    // Without: one each. ±5 % covers the requests at the fault's edges.
    let (up, sent) = upstream_vs_sent(find("Z-ci"));
    let amp = up / sent;
    assert!(
        (1.42..1.58).contains(&amp),
        "retries: {up} upstream / {sent} sent"
    );
    let (up, sent) = upstream_vs_sent(find("no-retry+ci"));
    let amp = up / sent;
    assert!(
        (0.97..1.03).contains(&amp),
        "no retry: {up} upstream / {sent} sent"
    );
}

#[test]
fn proxy_out_of_descriptors_logs_the_real_error_and_ends_cleanly() {
    let out = tempfile::tempdir().expect("tempdir");
    let dirs = run_scenario("proxy-out-of-fds", "base,worker-connections", out.path());
    let wc = proxy_log(&dirs, "worker-connections+ci");
    assert!(
        wc.lines()
            .any(|l| l.contains("[alert]") && l.contains("40 worker_connections are not enough")),
        "{wc}"
    );
    let ours = proxy_log(&dirs, "Z-ci");
    // nginx's line and level for a failed socket() (the run's status_count.500 > 0 holds too).
    assert!(
        ours.lines().any(|l| l.contains("[alert]")
            && l.contains(
                "socket() failed (24: Too many open files) while connecting to upstream"
            )),
        "{ours}"
    );
}

#[test]
fn nginx_out_of_descriptors_and_worker_connections_log_their_real_errors() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install -y nginx") else {
        return;
    };
    let out = tempfile::tempdir().expect("tempdir");
    let dirs = run_scenario(
        "proxy-out-of-fds",
        "nginx,worker-connections+nginx",
        out.path(),
    );
    let fds = proxy_log(&dirs, "Z-nginx+ci");
    assert!(
        fds.contains("accept4() failed (24: Too many open files)")
            || fds.contains("socket() failed (24: Too many open files)"),
        "{fds}"
    );
    let wc = proxy_log(&dirs, "worker-connections+nginx+ci");
    assert!(wc.contains("40 worker_connections are not enough"), "{wc}");
}

/// Uploads spill to a 1 MiB tmpfs in the proxy's own mount namespace: both proxies log their
/// real ENOSPC line, and the directory the runner made is empty afterwards (the tmpfs went
/// with the namespace).
#[test]
fn full_temp_directory_logs_no_space_left_and_leaves_nothing_behind() {
    let nginx = proxylab_testkit::require("nginx", "apt-get install -y nginx").is_some();
    let out = tempfile::tempdir().expect("tempdir");
    let variants = if nginx { "base,nginx" } else { "base" };
    let dirs = run_scenario("full-disk-uploads", variants, out.path());
    let mut suffixes = vec!["Z-ci"];
    if nginx {
        suffixes.push("Z-nginx+ci");
    }
    for suffix in suffixes {
        let log = proxy_log(&dirs, suffix);
        assert!(
            log.contains("failed (28: No space left on device)"),
            "{log}"
        );
        // The access log shares the tmpfs, but whether a log write meets it full is timing
        // (the unlinked body files free their pages as they close): not asserted here; the
        // alert itself is logs::access's unit test on /dev/full.
        let d = dirs
            .iter()
            .find(|d| d.to_string_lossy().ends_with(suffix))
            .expect("run");
        let left: Vec<_> = std::fs::read_dir(d.join("proxy/limited"))
            .expect("limited dir")
            .collect();
        assert!(left.is_empty(), "{suffix}: {left:?}");
    }
}
