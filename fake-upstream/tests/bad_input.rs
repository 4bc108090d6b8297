//! Bad input never panics: unknown flags, malformed or inconsistent route tables and bad flag
//! values give a clear message naming the flag or key, and exit code 2.

use std::io::Write;
use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_proxylab-upstream"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .output()
        .expect("run proxylab-upstream");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn with_table(toml: &str) -> (Option<i32>, String) {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(toml.as_bytes()).expect("write");
    run(&["--app", f.path().to_str().expect("utf-8 path")])
}

fn assert_usage_error(result: (Option<i32>, String), must_name: &str) {
    let (code, stderr) = result;
    assert_eq!(code, Some(2), "exit code; stderr:\n{stderr}");
    assert!(
        stderr.contains(must_name),
        "stderr does not name {must_name:?}:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
}

#[test]
fn unknown_flag_exits_2() {
    assert_usage_error(run(&["--no-such-flag"]), "--no-such-flag");
}

#[test]
fn bad_flag_values_exit_2() {
    assert_usage_error(run(&["--timeout-keep-alive", "-1"]), "--timeout-keep-alive");
    assert_usage_error(run(&["--limit-concurrency", "0"]), "--limit-concurrency");
    assert_usage_error(run(&["--pool-timeout", "1e300"]), "--pool-timeout");
    assert_usage_error(
        run(&["--timeout-graceful-shutdown", "nan"]),
        "--timeout-graceful-shutdown",
    );
    assert_usage_error(run(&["--workers", "0"]), "--workers");
    assert_usage_error(run(&["--supervisor", "systemd"]), "--supervisor");
}

#[test]
fn missing_route_file_exits_2() {
    assert_usage_error(
        run(&["--app", "/nonexistent/routes.toml"]),
        "/nonexistent/routes.toml",
    );
}

#[test]
fn malformed_toml_exits_2() {
    assert_usage_error(with_table("[[routes]\npath = \"/\""), "route table");
}

#[test]
fn negative_latency_names_the_key() {
    let t = "[[routes]]\npath = \"/a\"\nlatency = { dist = \"fixed\", ms = -5 }\n";
    assert_usage_error(with_table(t), "routes[0].latency.ms");
}

#[test]
fn p99_below_median_names_the_key() {
    let t = "[[routes]]\npath = \"/a\"\n\n[[routes]]\npath = \"/b\"\nlatency = { dist = \"lognormal\", median_ms = 50, p99_ms = 10 }\n";
    assert_usage_error(with_table(t), "routes[1].latency.p99_ms");
}

#[test]
fn unknown_kind_and_unknown_keys_are_named() {
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nkind = \"gpu\"\n"),
        "gpu",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nlatncy = 5\n"),
        "latncy",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nlatency = { dist = \"zipf\" }\n"),
        "zipf",
    );
}

#[test]
fn inconsistent_values_are_named() {
    assert_usage_error(
        with_table("[[routes]]\npath = \"no-slash\"\n"),
        "routes[0].path",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nstatus = 999\n"),
        "routes[0].status",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nfaults = { reset = 1.5 }\n"),
        "routes[0].faults.reset",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nfaults = { reset = 0.6, hang = 0.6 }\n"),
        "routes[0].faults",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nlatency = { dist = \"mixture\", parts = [] }\n"),
        "routes[0].latency.parts",
    );
    assert_usage_error(
        with_table("[[routes]]\npath = \"/a\"\nbody = \"x\"\nbody_bytes = 3\n"),
        "routes[0].body_bytes",
    );
}
