//! Helpers of the audit's end-to-end tests: run `proxylab audit` and read its report files.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A JSON file of the report.
pub fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json")
}

/// Responses with status `code` in every population of a probe run.
pub fn pop_status(run: &serde_json::Value, code: &str) -> u64 {
    run["pops"]
        .as_object()
        .map(|o| {
            o.values()
                .map(|p| p["status"][code].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// `proxylab audit CONF ARGS… --ci --out TMP`: the exit code and the report directory.
pub fn audit(conf: &str, args: &[&str], tmp: &Path, limit: u64) -> (i32, PathBuf, String) {
    let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(conf);
    let mut all = vec!["audit", conf.to_str().expect("utf8")];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--ci", "--out", tmp.to_str().expect("utf8")]);
    let out = super::proxylab(&all, Duration::from_secs(limit));
    let page = out
        .stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("audit report: "))
        .unwrap_or_else(|| panic!("last line names audit.html: {}", out.all()));
    let dir = Path::new(page).parent().expect("dir").to_path_buf();
    (out.code, dir, out.all())
}

/// Cache-Control header lines per response of a `cache-control` run (every response alike).
pub fn cache_control_lines(run: &serde_json::Value) -> u64 {
    let get = &run["pops"]["get"];
    let ok = get["status"]["200"].as_u64().unwrap_or(0);
    let lines: u64 = get["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(k, _)| k.starts_with("cache-control: "))
                .map(|(_, n)| n.as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    assert!(ok > 0, "no 200: {run}");
    assert_eq!(lines % ok, 0, "not the same on every response: {run}");
    lines / ok
}
