//! Probes of what static locations serve, run end to end: the article's `/static/` sends two
//! Cache-Control lines (`expires` plus `add_header`) and one with the fix, here on our proxy
//! (`audit_probes.rs` runs it on both as part of the battery and tries the fix on nginx); the
//! Django shape's `location /static` over `alias …/static/` serves a file one directory up
//! and back on both proxies, and its `/media/` (an add_header of its own) drops the server's
//! security headers until the fix repeats them; its clean twin has nothing to probe.

mod common;

use common::audit::{audit, cache_control_lines, json, pop_status};

/// The duplicate Cache-Control of the article's `/static/` on our proxy alone: two lines as
/// deployed, one with the fix tried on our proxy (the battery above tries it on nginx).
#[test]
fn cache_control_fix_on_our_proxy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, dir, all) = audit(
        "tests/audit/article/nginx.conf",
        &[
            "--quick",
            "--probe",
            "cache-control",
            "--proxy",
            "proxylab",
            "--fail-on",
            "none",
        ],
        tmp.path(),
        300,
    );
    assert_eq!(code, 0, "{all}");
    let probes = json(&dir.join("probes.json"));
    let runs = probes
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "cache-control")
        .and_then(|p| p["runs"].as_array())
        .expect("cache-control runs");
    let before = runs.iter().find(|r| r["fix_of"].is_null()).expect("run");
    let after = runs
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("fix run");
    assert_eq!(before["proxy"], "proxylab");
    assert_eq!(cache_control_lines(before), 2, "{before}");
    assert_eq!(cache_control_lines(after), 1, "{after}");
    assert!(
        after["pops"]["get"]["headers"]
            .as_object()
            .is_some_and(|h| h.contains_key("cache-control: public, max-age=2592000, immutable")),
        "{after}"
    );
    let findings = json(&dir.join("findings.json"));
    let f = findings
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["check"] == "expires-cache-control")
        .expect("expires-cache-control");
    assert_eq!(f["probe"], "cache-control", "{f}");
    assert!(f["fix_evidence"].as_str().is_some(), "{f}");
    assert!(
        f["fix"].as_str().is_some_and(|x| x.contains("expires 30d;")
            && x.contains("add_header Cache-Control \"public, max-age=2592000, immutable\";")),
        "{f}"
    );
    let html = std::fs::read_to_string(dir.join("audit.html")).expect("audit.html");
    assert!(html.contains("after the fix"), "audit.html");
}

#[test]
fn alias_traversal_and_dropped_headers_on_both_proxies() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let args = [
        "--quick",
        "--probe",
        "alias-traversal,response-headers",
        "--proxy",
        "both",
        "--fail-on",
        "none",
    ];
    let (code, dir, all) = audit(
        "tests/audit/shapes/django/nginx.conf",
        &args,
        tmp.path(),
        300,
    );
    assert_eq!(code, 0, "{all}");
    let probes = json(&dir.join("probes.json"));
    let p = probes
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "alias-traversal")
        .expect("alias-traversal");
    let runs = p["runs"].as_array().expect("runs");
    for proxy in ["proxylab", "nginx"] {
        let r = runs
            .iter()
            .find(|r| r["proxy"] == proxy)
            .unwrap_or_else(|| panic!("no {proxy} run: {p}"));
        assert!(r["error"].is_null(), "{r}");
        assert!(pop_status(r, "200") > 0, "{proxy}: {r}");
        assert_eq!(r["verdict"]["bad"], true, "{r}");
    }
    // /media/: X-Frame-Options and Strict-Transport-Security missing on both proxies, there
    // with the fix (tried on nginx's run).
    let rh = probes
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "response-headers")
        .and_then(|p| p["runs"].as_array())
        .expect("response-headers runs");
    for r in rh.iter().filter(|r| r["fix_of"].is_null()) {
        assert_eq!(r["verdict"]["bad"], true, "{r}");
        assert!(pop_status(r, "200") > 0, "{r}");
        assert!(
            r["pops"]["get"]["headers"]["x-frame-options: DENY"].is_null(),
            "{r}"
        );
    }
    assert_eq!(rh.iter().filter(|r| r["fix_of"].is_null()).count(), 2);
    let fixed = rh
        .iter()
        .find(|r| !r["fix_of"].is_null())
        .expect("fix tried");
    assert_eq!(fixed["verdict"]["bad"], false, "{fixed}");
    assert!(
        fixed["pops"]["get"]["headers"]["x-frame-options: DENY"].as_u64() > Some(0),
        "{fixed}"
    );
    let findings = json(&dir.join("findings.json"));
    let f = findings
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["check"] == "alias-traversal")
        .expect("alias-traversal finding");
    assert!(f["evidence"].as_str().is_some(), "{f}");
    assert!(
        !findings
            .as_array()
            .expect("list")
            .iter()
            .any(|f| f["fidelity"] == true),
        "{findings}"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, dir, all) = audit(
        "tests/audit/shapes/django-clean/nginx.conf",
        &args,
        tmp.path(),
        120,
    );
    assert_eq!(code, 0, "{all}");
    let probes = json(&dir.join("probes.json"));
    for name in ["alias-traversal", "response-headers"] {
        let p = probes
            .as_array()
            .expect("list")
            .iter()
            .find(|p| p["name"] == name)
            .expect(name);
        assert!(
            p["skipped"]
                .as_str()
                .is_some_and(|s| s.starts_with("not applicable")),
            "{p}"
        );
    }
}
