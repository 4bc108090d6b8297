//! Many clients: `source_addresses` on a population makes every connection come from one of
//! N loopback addresses, and the proxy (ours and real nginx) sees them as distinct clients:
//! its access log lists them and `limit_req` keyed on `$binary_remote_addr` gives each its own
//! bucket (`scenarios/per-ip-limit.toml`).

mod common;

use common::{run_ci, run_dirs, summary};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scenario_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/per-ip-limit.toml")
}

/// Distinct `$remote_addr` values of a run's access log.
fn addresses(run: &Path) -> BTreeSet<String> {
    let log = std::fs::read_to_string(run.join("proxy/access.log"))
        .unwrap_or_else(|e| panic!("{}: {e}", run.display()));
    log.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn run_variants(variants: &str, out: &Path) {
    let r = run_ci(
        &scenario_file(),
        &["--no-compare", "--variant", variants],
        out,
    );
    assert_eq!(r.code, 0, "{}", r.all());
}

fn check_many(run: &Path) {
    let addrs = addresses(run);
    // 1,500 connections, each from one of 1,000 addresses drawn at random: about
    // 1000 × (1 − e^-1.5) ≈ 777 distinct ones; 600 is far below any plausible draw.
    assert!(addrs.len() >= 600, "{} distinct: {addrs:?}", addrs.len());
    assert!(addrs.len() <= 1000, "{}", addrs.len());
    for a in &addrs {
        let ip: std::net::Ipv4Addr = a.parse().unwrap_or_else(|_| panic!("address {a:?}"));
        assert!(
            ip.is_loopback() && ip != std::net::Ipv4Addr::LOCALHOST,
            "{ip}"
        );
    }
}

#[test]
fn source_addresses_reach_our_proxy_as_distinct_clients() {
    let out = tempfile::tempdir().expect("tempdir");
    run_variants("base,one-address", out.path());
    let dirs = run_dirs(out.path(), "per-ip-limit");
    let base = dirs.iter().find(|d| d.ends_with_ci()).expect("base run");
    check_many(base);
    let one = dirs
        .iter()
        .find(|d| d.to_string_lossy().ends_with("one-address+ci"))
        .expect("one-address run");
    assert_eq!(addresses(one).len(), 1, "one address");
    check_per_client(base, one);
}

/// The loadgen's per-address outcomes agree with the proxy's access log: as many addresses,
/// and the one-address run's single client got every 429 the run counted.
fn check_per_client(many: &Path, one: &Path) {
    let s = summary(many);
    let f = &s["clients"]["clients"];
    let logged = addresses(many).len() as u64;
    assert_eq!(f["addresses"].as_u64(), Some(logged), "{f}");
    assert!(f["max_requests"].as_u64().unwrap_or(0) >= 1, "{f}");
    assert!(f["max_by_outcome"].get("429").is_none(), "{f}");
    let s1 = summary(one);
    let f1 = &s1["clients"]["clients"];
    assert_eq!(f1["addresses"].as_u64(), Some(1), "{f1}");
    let total_429 = s1["total"]["status"]["429"].as_f64().unwrap_or(0.0);
    assert!(total_429 > 1000.0, "{}", s1["total"]);
    // The table counts the load window's seconds, the loadgen the whole run: near-equal.
    let one_client = f1["max_by_outcome"]["429"][1].as_f64().unwrap_or(0.0);
    assert!(
        (one_client - total_429).abs() <= total_429 * 0.02 + 5.0,
        "{one_client} vs {total_429}: {f1}"
    );
    for v in s1["assertions"].as_array().expect("assertions") {
        assert_eq!(v["passed"], true, "{v}");
    }
}

#[test]
fn source_addresses_reach_nginx_as_distinct_clients() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install -y nginx") else {
        return;
    };
    let out = tempfile::tempdir().expect("tempdir");
    run_variants("nginx", out.path());
    let dirs = run_dirs(out.path(), "per-ip-limit");
    check_many(&dirs[0]);
}

trait EndsWithCi {
    fn ends_with_ci(&self) -> bool;
}

impl EndsWithCi for PathBuf {
    /// The base run's directory is `<time>-ci`.
    fn ends_with_ci(&self) -> bool {
        self.to_string_lossy().ends_with("Z-ci")
    }
}
