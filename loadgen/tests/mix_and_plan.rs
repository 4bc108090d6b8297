//! A plan file with several populations run by the CLI, and the weighted request mix with
//! `{seq}` / `{rand}` and headers, as seen by nginx.

mod common;
use common::*;
use proxylab_loadgen::plan::RequestSpec;
use proxylab_testkit::Nginx;
use std::collections::BTreeMap;
use std::time::Duration;

fn nginx() -> Option<Nginx> {
    Nginx::start(
        "log_format m '$request_method $uri $args $http_x_client';\n\
         server { listen 127.0.0.1:{PORT}; access_log {DIR}/m.log m; location / { return 200 'ok'; } }",
    )
}

#[test]
fn weighted_mix_reaches_the_server_in_proportion() {
    let Some(n) = nginx() else { return };
    let mut p = plan(
        &format!("http://127.0.0.1:{}", n.port()),
        closed(4),
        Duration::from_secs(20),
    );
    p.populations[0].max_requests = Some(2000);
    p.populations[0].requests = vec![
        RequestSpec {
            weight: 3,
            path: "/a/{seq}".into(),
            headers: BTreeMap::from([("x-client".to_string(), "alpha".to_string())]),
            ..RequestSpec::default()
        },
        RequestSpec {
            weight: 1,
            method: "HEAD".into(),
            path: "/b?r={rand}".into(),
            ..RequestSpec::default()
        },
    ];
    let res = run(&p);
    assert_eq!(
        res.summary.overall.completed, 2000,
        "{:?}",
        res.summary.overall
    );
    let log = std::fs::read_to_string(n.dir().join("m.log")).unwrap();
    let a = count_lines(&log, "GET /a/");
    let b = count_lines(&log, "HEAD /b r=");
    assert_eq!(a + b, 2000);
    assert!((1400..1600).contains(&a), "a={a} b={b}");
    assert_eq!(
        count_lines(&log, " alpha"),
        a,
        "headers go with their entry"
    );
    let rands: std::collections::HashSet<&str> =
        log.lines().filter(|l| l.starts_with("HEAD")).collect();
    assert_eq!(rands.len(), b, "{{rand}} differs per request");
}

#[test]
fn a_plan_file_with_three_populations_runs_from_the_cli() {
    let Some(n) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let out = dir.path().join("out.json");
    std::fs::write(
        &plan,
        format!(
            r#"targets = ["http://127.0.0.1:{port}"]
duration = "3s"
[output]
summary_json = "{out}"
[[population]]
name = "steady"
load = {{ model = "open", stages = [{{ shape = "constant", rate = 100, duration = "3s" }}] }}
requests = [{{ path = "/steady" }}]
[[population]]
name = "burst"
start = "1s"
load = {{ model = "open", stages = [{{ shape = "spike", base = 0, height = 400, at = "0s", hold = "1s", duration = "1s" }}] }}
requests = [{{ path = "/burst" }}]
[[population]]
name = "fresh"
load = {{ model = "closed", connections = 1, think_time = "20ms" }}
connection = {{ mode = "per_request" }}
requests = [{{ path = "/fresh" }}]
"#,
            port = n.port(),
            out = out.display()
        ),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_proxylab-loadgen"))
        .args(["--plan", plan.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let log = std::fs::read_to_string(n.dir().join("m.log")).unwrap();
    let pops = &json["populations"];
    assert_eq!(pops["steady"]["sent"], 300);
    assert_eq!(pops["burst"]["sent"], 400);
    assert_eq!(pops["burst"]["duration_s"], 1.0);
    for (name, path) in [
        ("steady", "/steady"),
        ("burst", "/burst"),
        ("fresh", "/fresh"),
    ] {
        assert_eq!(
            pops[name]["completed"].as_u64().unwrap() as usize,
            count_lines(&log, path),
            "{name}"
        );
    }
    let fresh = &json["details"]["fresh"];
    assert_eq!(fresh["connections_opened"], pops["fresh"]["sent"]);
    assert_eq!(
        json["overall"]["sent"].as_u64().unwrap(),
        log.lines().count() as u64
    );
}
