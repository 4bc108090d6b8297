//! The metrics the claims ledger's newer rows rest on, end to end with real processes (our proxy,
//! a fake upstream, the loadgen): `log_lines` counts the proxy's access log by path (a location
//! with `access_log off` writes none), `ctx_switches` and the summary's `csw_avg` come from
//! procfs, and `outcome_count.closed_by_server` counts idle keep-alive connections the server
//! closed during a closed-loop client's pause (and none for clients that pause less than the
//! keep-alive timeout).

mod common;

fn assertion<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assertion {name}: {s}"))
}

#[test]
fn access_log_context_switches_and_server_closes_are_measured() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = common::run_ci(&common::scenario("metrics.toml"), &[], out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let dir = &common::run_dirs(out.path(), "metrics")[0];
    let s = common::summary(dir);
    // Every /api/ response is one line of the unbuffered log; /health has none.
    let api = s["populations"]["web"]["completed"].as_f64().expect("web");
    let lines = assertion(&s, "api lines")["actual"]
        .as_f64()
        .expect("lines");
    // (a request cut by the end of the load is logged but not counted as completed)
    assert!(
        lines >= api && lines <= api + 5.0,
        "one line per proxied /api/ request: {lines} lines, {api} responses"
    );
    let health = s["populations"]["health"]["completed"]
        .as_f64()
        .expect("health");
    assert!(health > 5.0, "health checks were sent: {s}");
    assert_eq!(assertion(&s, "no /health line")["actual"], 0.0);
    let log = std::fs::read_to_string(dir.join("proxy/access.log")).expect("access.log");
    assert!(!log.contains("/health"), "{log}");
    // Context switches: the metric and the summary's per-component mean.
    assert!(assertion(&s, "worker switches")["actual"].as_f64() > Some(0.0));
    assert!(
        s["components"]["api"]["csw_avg"].as_f64() > Some(0.0),
        "{s}"
    );
    // 2 clients pausing 1.5 s against a 1 s keep-alive timeout: closed before each later request.
    let closes = assertion(&s, "idle closes")["actual"]
        .as_f64()
        .expect("closes");
    let idle = s["populations"]["idle"]["completed"]
        .as_f64()
        .expect("idle");
    assert!(
        closes >= 2.0 && closes <= idle,
        "{closes} closes, {idle} requests"
    );
    assert_eq!(assertion(&s, "health closes")["actual"], 0.0);
}
