//! `proxylab audit --quick` on the article's deployed config: the whole outage battery on our
//! proxy and on real nginx. Every probe either runs on both or says why it does not apply;
//! findings link to the probe run that shows them; the standard fixes are tried and change
//! the outcome (503 → 429, 502 → 200); a difference between the proxies is flagged as ours.
//! Both audits run four probe runs at a time (`--jobs 4`) to keep the test short: the
//! battery's runs only share the CPU.

mod common;

use common::audit::{audit, cache_control_lines, json, pop_status};
use std::path::{Path, PathBuf};

#[test]
fn quick_battery_on_both_proxies_with_evidence_and_fixes() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, dir, all) = audit(
        "tests/audit/article/nginx.conf",
        &["--quick", "--proxy", "both", "--jobs", "4"],
        tmp.path(),
        1200,
    );
    // The regex location that misses /.git/HEAD is a high finding: exit 1.
    assert_eq!(code, 1, "{all}");
    let probes = json(&dir.join("probes.json"));
    let probes = probes.as_array().expect("list");
    for p in probes {
        let name = p["name"].as_str().unwrap_or("");
        if let Some(why) = p["skipped"].as_str() {
            assert!(why.starts_with("not applicable: "), "{name}: {why}");
            continue;
        }
        for proxy in ["proxylab", "nginx"] {
            let runs: Vec<_> = p["runs"]
                .as_array()
                .expect("runs")
                .iter()
                .filter(|r| r["proxy"] == proxy && r["fix_of"].is_null())
                .collect();
            assert!(!runs.is_empty(), "{name} did not run on {proxy}");
            for r in runs {
                assert!(r["error"].is_null(), "{name} [{proxy}]: {}", r["error"]);
                let d = PathBuf::from(r["dir"].as_str().expect("dir"));
                assert!(
                    d.join("scenario.toml").is_file() && d.join("run/index.html").is_file(),
                    "{name}: {}",
                    d.display()
                );
            }
        }
    }
    let by_name = |n: &str| probes.iter().find(|p| p["name"] == n).expect(n);
    // Spike: 503 as deployed, 429 with the fix, on nginx.
    let spike = by_name("spike")["runs"].as_array().expect("runs");
    let before = spike
        .iter()
        .find(|r| r["proxy"] == "nginx" && r["fix_of"].is_null())
        .expect("spike nginx");
    let after = spike
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("spike fix tried");
    assert!(
        pop_status(before, "503") > 0 && pop_status(before, "429") == 0,
        "{before}"
    );
    assert!(
        pop_status(after, "429") > 0 && pop_status(after, "503") == 0,
        "{after}"
    );
    // Big upstream headers: 502 as deployed on both proxies, 200 with proxy_buffer_size 16k.
    let big = by_name("big-headers")["runs"].as_array().expect("runs");
    for r in big.iter().filter(|r| r["fix_of"].is_null()) {
        assert!(pop_status(r, "502") > 0 && pop_status(r, "200") == 0, "{r}");
    }
    let fixed = big
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("big-headers fix tried");
    assert!(
        pop_status(fixed, "200") > 0 && pop_status(fixed, "502") == 0,
        "{fixed}"
    );
    // Forwarded headers: /api/ (its own limit_req and client_max_body_size, no
    // proxy_set_header) reaches an app that needs X-Forwarded-For/-Proto without them: 412
    // on both proxies; with the headers repeated (the fix, tried) 200.
    let hd = by_name("headers")["runs"].as_array().expect("runs");
    let api = |r: &&serde_json::Value| r["label"] == "location /api/";
    for r in hd.iter().filter(api).filter(|r| r["fix_of"].is_null()) {
        assert!(pop_status(r, "412") > 0 && pop_status(r, "200") == 0, "{r}");
    }
    let fixed = hd
        .iter()
        .filter(api)
        .find(|r| !r["fix_of"].is_null())
        .expect("headers fix tried on /api/");
    assert!(
        pop_status(fixed, "200") > 0 && pop_status(fixed, "412") == 0,
        "{fixed}"
    );
    // expires 30d plus add_header Cache-Control on /static/: two Cache-Control lines in each
    // response on both proxies; with the lifetime written into the one header (the fix,
    // tried on nginx's run), one.
    let cc = by_name("cache-control")["runs"].as_array().expect("runs");
    let before: Vec<_> = cc.iter().filter(|r| r["fix_of"].is_null()).collect();
    assert_eq!(before.len(), 2, "{cc:?}");
    for r in before {
        assert_eq!(cache_control_lines(r), 2, "{r}");
    }
    let fixed = cc
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("cache-control fix tried");
    assert_eq!(cache_control_lines(fixed), 1, "{fixed}");
    // deny/return paths: /.git/HEAD reaches the app, /api/config is blocked, on both.
    for r in by_name("deny-paths")["runs"].as_array().expect("runs") {
        let last = r["verdict"]["lines"]
            .as_array()
            .and_then(|l| l.last())
            .and_then(|l| l.as_str())
            .unwrap_or("");
        assert!(
            last.contains("meant blocked: /.git/HEAD") && last.contains("/api/config"),
            "{last}"
        );
    }
    // WebSocket: the fake upstream echoes on every path, so /ws/ upgrades through the
    // location as configured, on both proxies, and stays open.
    for r in by_name("websocket-idle")["runs"].as_array().expect("runs") {
        assert!(pop_status(r, "101") > 0, "{r}");
        assert_eq!(r["verdict"]["bad"], false, "{r}");
    }
    // The keep-alive race, made reproducible: POSTs on connections Uvicorn has just closed
    // get 502 on nginx as deployed (keepalive 16 added, 60 s idle), none with the fix
    // (keepalive_timeout 4s).
    let race = by_name("keepalive-race")["runs"].as_array().expect("runs");
    for r in race.iter().filter(|r| r["fix_of"].is_null()) {
        assert!(pop_status(r, "502") > 0, "{r}");
    }
    let fixed = race
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("keepalive-race fix tried");
    assert!(
        pop_status(fixed, "502") == 0 && pop_status(fixed, "200") > 0,
        "{fixed}"
    );
    // One sick instance (503 to everything): its 503s reach GET clients as deployed
    // (proxy_next_upstream lacks http_503, so max_fails never counts them); with the fix
    // the GETs are retried on the healthy instances.
    let sick = by_name("sick-instance")["runs"].as_array().expect("runs");
    for r in sick.iter().filter(|r| r["fix_of"].is_null()) {
        assert!(
            r["pops"]["get"]["status"]["503"].as_u64().unwrap_or(0) > 0,
            "{r}"
        );
    }
    // POSTs (Poisson arrivals, so they meet the sick instance about as often as GETs) get its
    // 503 too on both proxies: a POST already sent is not retried, as nginx does.
    for r in sick.iter().filter(|r| r["fix_of"].is_null()) {
        assert!(
            r["pops"]["post"]["status"]["503"].as_u64().unwrap_or(0) > 0,
            "{r}"
        );
    }
    let fixed = sick
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("sick-instance fix tried");
    assert_eq!(
        fixed["pops"]["get"]["status"]["503"].as_u64().unwrap_or(0),
        0,
        "{fixed}"
    );
    // A slow instance under the article's least_conn: the balancer steers around it (less
    // than half its fair share), on both proxies.
    for r in by_name("slow-instance")["runs"].as_array().expect("runs") {
        assert_eq!(r["verdict"]["bad"], false, "{r}");
        assert!(r["served"]["uvicorn_servers.0"].as_u64().is_some(), "{r}");
    }
    // TLS versions as offered: TLSv1.2 TLSv1.3 configured, 1.0/1.1 refused, on both proxies.
    for r in by_name("tls-versions")["runs"].as_array().expect("runs") {
        assert_eq!(
            r["verdict"]["signature"], "1.0=refused 1.1=refused 1.2=offered 1.3=offered",
            "{r}"
        );
    }
    // Every WebSocket-less, keepalive-less... probe that cannot apply says so; the redirect
    // server answers 301.
    let redirect = &by_name("redirect")["runs"][0];
    assert!(pop_status(redirect, "301") > 0, "{redirect}");
    // Findings point at their evidence and at the fix run.
    let findings = json(&dir.join("findings.json"));
    let fidelity: Vec<_> = findings
        .as_array()
        .expect("list")
        .iter()
        .filter(|x| {
            x["check"]
                .as_str()
                .is_some_and(|c| ["fidelity-sick-instance", "fidelity-spike"].contains(&c))
        })
        .collect();
    assert!(fidelity.is_empty(), "{fidelity:?}");
    let f = |check: &str| {
        findings
            .as_array()
            .expect("list")
            .iter()
            .find(|x| x["check"] == check)
            .unwrap_or_else(|| panic!("no {check}"))
            .clone()
    };
    let lr = f("limit-req-503");
    assert!(
        lr["evidence"]
            .as_str()
            .is_some_and(|e| Path::new(e).join("status.png").is_file()),
        "{lr}"
    );
    assert!(lr["fix_evidence"].as_str().is_some(), "{lr}");
    assert!(f("regex-location")["evidence"].as_str().is_some());
    // The report: findings with before/after, junit with probes and findings.
    let html = std::fs::read_to_string(dir.join("audit.html")).expect("audit.html");
    assert!(
        html.contains("after the fix") && html.contains("limit_req_status 429;"),
        "audit.html"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("classname=\"audit.probe\" name=\"spike")
            && junit.contains("audit.finding.high"),
        "{junit}"
    );
}

/// The TLS-only API shape (round robin over two servers): what nginx does with `ssl_protocols
/// TLSv1 TLSv1.1 TLSv1.2` next to our proxy (each version and cipher class asked for with one
/// ClientHello on both), and a slow instance that round robin keeps sending half the users
/// to, until the fix (`least_conn`) is tried.
#[test]
fn tls_versions_and_slow_instance_on_both_proxies() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, dir, all) = audit(
        "tests/audit/shapes/tls-api/nginx.conf",
        &[
            "--quick",
            "--probe",
            "tls-versions,slow-instance",
            "--jobs",
            "4",
            "--fail-on",
            "none",
        ],
        tmp.path(),
        300,
    );
    assert_eq!(code, 0, "{all}");
    let probes = json(&dir.join("probes.json"));
    let p = probes
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "tls-versions")
        .expect("tls-versions");
    let runs = p["runs"].as_array().expect("runs");
    for proxy in ["proxylab", "nginx"] {
        let r = runs
            .iter()
            .find(|r| r["proxy"] == proxy)
            .unwrap_or_else(|| panic!("no {proxy} run"));
        assert!(r["error"].is_null(), "{r}");
        let sig = r["verdict"]["signature"].as_str().expect("signature");
        // Whatever the TLS library allows, TLS 1.2 is answered with a ServerHello, and
        // every hello got an answer (accepted or refused), none a connection failure.
        assert!(sig.contains("1.2=offered"), "{proxy}: {sig}");
        for (name, pop) in r["pops"].as_object().expect("pops") {
            let o = pop["outcomes"].as_object().expect("outcomes");
            assert!(
                o.keys()
                    .any(|k| k.starts_with("accepted_") || k.starts_with("refused_")),
                "{proxy} {name}: {o:?}"
            );
        }
        let last = r["verdict"]["lines"]
            .as_array()
            .and_then(|l| l.last())
            .and_then(|l| l.as_str())
            .unwrap_or("");
        assert!(last.contains("configured: TLSv1 TLSv1.1 TLSv1.2"), "{last}");
    }
    // The static finding links the scan as its evidence.
    let findings = json(&dir.join("findings.json"));
    let f = findings
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["check"] == "tls-old-protocols")
        .expect("tls-old-protocols");
    assert_eq!(f["probe"], "tls-versions", "{f}");
    assert!(f["evidence"].as_str().is_some(), "{f}");
    // Round robin gives the slow instance half the requests on both proxies; least_conn,
    // tried as the fix on nginx, less than a quarter.
    let slow = probes
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "slow-instance")
        .expect("slow-instance");
    let share = |r: &serde_json::Value| {
        let s = |k: &str| r["served"][k].as_u64().unwrap_or(0) as f64;
        s("api.0") / (s("api.0") + s("api.1")).max(1.0)
    };
    let runs = slow["runs"].as_array().expect("runs");
    for r in runs.iter().filter(|r| r["fix_of"].is_null()) {
        assert_eq!(r["verdict"]["bad"], true, "{r}");
        assert!(share(r) >= 0.3, "{r}");
    }
    let fixed = runs
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("least_conn tried");
    assert!(share(fixed) < 0.25, "{fixed}");
    let f = findings
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["check"] == "probe-slow-instance")
        .expect("probe-slow-instance");
    assert!(
        f["fix"].as_str().is_some_and(|x| x.contains("least_conn;")),
        "{f}"
    );
}
