//! `proxylab audit` with the user's own upstream: `--app module:attr --app-dir DIR` (a plain
//! ASGI app under real uvicorn) and `--upstream-app FILE` (the fake Uvicorn with the user's
//! route table), on a small deployed config (`tests/audit/app/`). The probes that judge by
//! what the app answers run on the user's app (its own status shows it answered); the ones
//! that need a known answer or behaviour run the fake, and the mapping and every probe run
//! say which ran.

mod common;

use common::audit::{audit, json, pop_status};

/// The runs of probe `name`, as deployed (no fix).
fn runs(probes: &serde_json::Value, name: &str) -> Vec<serde_json::Value> {
    probes
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["runs"].as_array())
        .unwrap_or_else(|| panic!("no runs of {name}: {probes}"))
        .iter()
        .filter(|r| r["fix_of"].is_null())
        .cloned()
        .collect()
}

/// The mapping's `ran` column, one string.
fn mapping(dir: &std::path::Path) -> String {
    json(&dir.join("mapping.json"))["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{} | {}\n", r["written"], r["ran"]))
        .collect()
}

#[test]
fn own_asgi_app_under_real_uvicorn() {
    let Some(_) = proxylab_testkit::require_python(&["uvicorn"], "pip install uvicorn") else {
        return;
    };
    let app_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit/app");
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, dir, all) = audit(
        "tests/audit/app/nginx.conf",
        &[
            "--quick",
            "--proxy",
            "proxylab",
            "--probe",
            "baseline,crash,slow-instance,big-headers",
            "--jobs",
            "4",
            "--fail-on",
            "none",
            "--app",
            "app:app",
            "--app-dir",
            app_dir.to_str().expect("utf8"),
        ],
        tmp.path(),
        300,
    );
    assert_eq!(code, 0, "{all}");
    let m = mapping(&dir);
    assert!(
        m.contains("--app app:app --app-dir")
            && m.contains("real uvicorn running your app app:app (--app-dir")
            && m.contains("instance app_servers.1 on a free loopback port"),
        "{m}"
    );
    let probes = json(&dir.join("probes.json"));
    // The app answered (its 203) in every probe that runs it, including with one instance
    // killed and one slow.
    for name in ["baseline", "crash", "slow-instance"] {
        for r in runs(&probes, name) {
            assert!(r["error"].is_null(), "{name}: {r}");
            assert!(
                r["upstream"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("real uvicorn running your app app:app")),
                "{name}: {r}"
            );
            assert!(pop_status(&r, "203") > 0, "{name}: {r}");
        }
    }
    // The 6 KiB upstream header needs the fake: it ran there, and the default 4k buffer gave 502.
    for r in runs(&probes, "big-headers") {
        assert_eq!(r["upstream"], "fake Uvicorn", "{r}");
        assert!(
            pop_status(&r, "502") > 0 && pop_status(&r, "203") == 0,
            "{r}"
        );
    }
    // The generated scenario runs the app under uvicorn, so a user can rerun it.
    let r = &runs(&probes, "baseline")[0];
    let toml = std::fs::read_to_string(
        std::path::Path::new(r["dir"].as_str().expect("dir")).join("scenario.toml"),
    )
    .expect("scenario.toml");
    assert!(
        toml.contains("kind = \"uvicorn\"") && toml.contains("asgi = \"app:app\""),
        "{toml}"
    );
}

#[test]
fn own_route_table_in_the_fake_upstream() {
    let routes =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit/app/routes.toml");
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, dir, all) = audit(
        "tests/audit/app/nginx.conf",
        &[
            "--quick",
            "--proxy",
            "proxylab",
            "--probe",
            "baseline,body-size",
            "--fail-on",
            "none",
            "--upstream-app",
            routes.to_str().expect("utf8"),
        ],
        tmp.path(),
        300,
    );
    assert_eq!(code, 0, "{all}");
    let m = mapping(&dir);
    assert!(
        m.contains("--upstream-app") && m.contains("fake Uvicorn with your route table"),
        "{m}"
    );
    let probes = json(&dir.join("probes.json"));
    for r in runs(&probes, "baseline") {
        assert!(r["error"].is_null(), "{r}");
        assert!(
            r["upstream"]
                .as_str()
                .is_some_and(|u| u.starts_with("fake Uvicorn with your route table")),
            "{r}"
        );
        assert!(
            pop_status(&r, "202") > 0 && pop_status(&r, "200") == 0,
            "{r}"
        );
    }
    // Bodies around client_max_body_size are judged on the catch-all fake (200 under the
    // limit), not on what the table answers to a POST.
    for r in runs(&probes, "body-size") {
        assert_eq!(r["upstream"], "fake Uvicorn", "{r}");
        assert!(
            pop_status(&r, "413") > 0 && pop_status(&r, "200") > 0,
            "{r}"
        );
    }
}
