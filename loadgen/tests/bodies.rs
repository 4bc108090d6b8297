//! Body checksums: responses with `x-body-sha256` are verified; a truncating upstream is
//! counted as `truncated`, never as success; request bodies carry their own checksum.

mod common;
use common::*;
use proxylab_testkit::{FakeUpstream, Nginx};
use std::time::Duration;

#[test]
fn verified_bodies_and_truncated_bodies_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.toml");
    std::fs::write(
        &app,
        "[[routes]]\npath = \"/cut\"\nbody_bytes = 20000\nfaults = { truncate = 1.0 }\n",
    )
    .unwrap();
    let fake = FakeUpstream::start(&["--app", app.to_str().unwrap(), "--quiet"]);
    let mut ok = with(
        plan(&fake.url(), closed(2), Duration::from_secs(5)),
        Default::default(),
        "/bytes/5000",
        false,
    );
    ok.populations[0].max_requests = Some(200);
    let res = run(&ok);
    let s = &res.summary.overall;
    assert_eq!(
        (s.completed, s.status.get("200").copied()),
        (200, Some(200)),
        "{s:?}"
    );
    assert_eq!(res.summary.details["p"].bodies_verified, 200);

    let mut cut = with(
        plan(&fake.url(), closed(2), Duration::from_secs(5)),
        Default::default(),
        "/cut",
        false,
    );
    cut.populations[0].max_requests = Some(50);
    let res = run(&cut);
    let s = &res.summary.overall;
    assert_eq!(s.completed, 0, "{s:?}");
    assert_eq!(s.errors.get("truncated").copied(), Some(50), "{s:?}");
}

#[test]
fn request_bodies_carry_their_checksum() {
    let Some(n) = Nginx::start(
        "log_format b '$request_length $http_x_body_sha256';\n\
         server { listen 127.0.0.1:{PORT}; access_log {DIR}/b.log b; location / { proxy_pass http://127.0.0.1:{PORT2}; } }\n\
         server { listen 127.0.0.1:{PORT2}; access_log off; location / { return 200; } }",
    ) else {
        return;
    };
    let mut p = with(
        plan(
            &format!("http://127.0.0.1:{}", n.port()),
            closed(1),
            Duration::from_secs(5),
        ),
        Default::default(),
        "/post",
        false,
    );
    p.populations[0].requests[0].method = "POST".into();
    p.populations[0].requests[0].body_size = Some(1000);
    p.populations[0].max_requests = Some(5);
    let res = run(&p);
    assert_eq!(res.summary.overall.completed, 5);
    let log = std::fs::read_to_string(n.dir().join("b.log")).unwrap();
    let body = proxylab_loadgen::request::Body::pattern(1000);
    assert_eq!(count_lines(&log, &body.sha256), 5, "{log}");
}
