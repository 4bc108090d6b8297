//! Active health checks (nginx Plus `health_check` / `match`) against real fake upstreams:
//! a peer whose `/health` fails is taken out after `fails` probes and brought back after
//! `passes`, passive `max_fails` keeps working beside it, a reload replaces the checkers,
//! and bad parameters are config errors with file:line.

mod common;

use common::{Ours, conf, get, request, wait_until};
use proxylab_testkit::{FakeUpstream, proxylab_bin};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn fake() -> FakeUpstream {
    FakeUpstream::start(&["--admin-port", "0"])
}

fn admin(u: &FakeUpstream, method: &str, path: &str) -> String {
    let a = u.admin_addr().expect("admin port");
    String::from_utf8_lossy(&request(a, method, path, "", b"").body).into_owned()
}

fn set_health(u: &FakeUpstream, healthy: bool) {
    let state = if healthy { "healthy" } else { "unhealthy" };
    admin(u, "POST", &format!("/faults/health?state={state}"));
    let want = if healthy { 200 } else { 503 };
    assert_eq!(get(u.addr(), "/health").status, want, "fault not applied");
}

/// `GET /health` probes the fake upstream has answered.
fn health_probes(u: &FakeUpstream) -> u64 {
    let c = admin(u, "GET", "/counters");
    let Some(i) = c.find("\"GET /health\":") else {
        return 0;
    };
    c[i + 14..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

/// Which upstream served each of `n` requests (`X-Up: $upstream_addr`).
fn served_by(proxy: SocketAddr, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let r = get(proxy, "/");
            assert_eq!(r.status, 200, "{r:?}");
            r.header("X-Up").unwrap_or("").to_string()
        })
        .collect()
}

fn two_peer_conf(upstream_extra: &str, loc_extra: &str, a: SocketAddr, b: SocketAddr) -> String {
    conf(&format!(
        "  {loc_match}\n  upstream app {{\n    server {a};\n    server {b};\n    {upstream_extra}\n  }}\n  \
         server {{\n    listen 127.0.0.1:{{PORT}};\n    location / {{\n      proxy_pass http://app;\n      \
         add_header X-Up $upstream_addr always;\n      {loc_extra}\n    }}\n  }}",
        loc_match = "match healthy { status 200-299; body ~ \"ok\"; }",
    ))
}

/// Waits until `n` requests in a row are served only by peers in `only`; returns the time.
fn wait_only(proxy: SocketAddr, only: &[String], timeout: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut ok = false;
    wait_until(timeout, || {
        ok = served_by(proxy, 6).iter().all(|s| only.contains(s));
        ok
    });
    ok.then(|| t0.elapsed())
}

fn check_out_and_back(ours: &Ours, a: &FakeUpstream, b: &FakeUpstream, fails: u32, ms: u64) {
    let (sa, sb) = (a.addr().to_string(), b.addr().to_string());
    let first = served_by(ours.addr(), 4);
    assert!(first.contains(&sa) && first.contains(&sb), "{first:?}");
    set_health(a, false);
    let out = wait_only(
        ours.addr(),
        std::slice::from_ref(&sb),
        Duration::from_secs(15),
    )
    .expect("peer with failing /health still served after 15 s");
    // `fails` consecutive failures need at least (fails - 1) intervals after the first one.
    let floor = Duration::from_millis(ms * u64::from(fails - 1) / 2);
    assert!(
        out >= floor,
        "taken out after {out:?}, before {fails} failed probes"
    );
    assert!(
        ours.error_log().contains("peer is unhealthy"),
        "{}",
        ours.error_log()
    );
    set_health(a, true);
    let mut back = false;
    wait_until(Duration::from_secs(15), || {
        back = served_by(ours.addr(), 4).contains(&sa);
        back
    });
    assert!(back, "healthy peer not brought back after 15 s");
    assert!(ours.error_log().contains("peer is healthy"));
}

#[test]
fn upstream_level_check_takes_peer_out_and_back() {
    let (a, b) = (fake(), fake());
    let c = two_peer_conf(
        "health_check interval=400ms fails=3 passes=2 uri=/health;",
        "",
        a.addr(),
        b.addr(),
    );
    let ours = Ours::start_full(&c);
    check_out_and_back(&ours, &a, &b, 3, 400);
}

#[test]
fn location_level_check_with_match_block() {
    let (a, b) = (fake(), fake());
    let c = two_peer_conf(
        "",
        "health_check interval=200ms fails=1 passes=1 uri=/health match=healthy;",
        a.addr(),
        b.addr(),
    );
    let ours = Ours::start_full(&c);
    check_out_and_back(&ours, &a, &b, 1, 200);
}

#[test]
fn passive_max_fails_still_works_beside_active_checks() {
    let b = fake();
    let dead = proxylab_testkit::free_port();
    // Probes go to b's port (`port=`), so the active check finds the dead peer healthy:
    // only passive max_fails can take it out.
    let c = conf(&format!(
        "  upstream app {{\n    server 127.0.0.1:{dead} max_fails=1 fail_timeout=30s;\n    \
         server {};\n    health_check interval=200ms uri=/health port={};\n  }}\n  server {{\n    \
         listen 127.0.0.1:{{PORT}};\n    location / {{ proxy_pass http://app; \
         add_header X-Up $upstream_addr always; }}\n  }}",
        b.addr(),
        b.addr().port()
    ));
    let ours = Ours::start_full(&c);
    std::thread::sleep(Duration::from_millis(600));
    let got = served_by(ours.addr(), 8);
    let sb = b.addr().to_string();
    let dead_s = format!("127.0.0.1:{dead}");
    assert!(
        got[0].starts_with(&dead_s) || got[1].starts_with(&dead_s),
        "{got:?}"
    );
    assert_eq!(
        got.iter().filter(|s| s.contains(&dead_s)).count(),
        1,
        "{got:?}"
    );
    assert!(got.iter().all(|s| s.ends_with(&sb)), "{got:?}");
    assert!(
        !ours.error_log().contains("peer is unhealthy"),
        "{}",
        ours.error_log()
    );
}

#[test]
fn reload_replaces_checkers() {
    let (a, b) = (fake(), fake());
    let fast = two_peer_conf(
        "health_check interval=100ms uri=/health;",
        "",
        a.addr(),
        b.addr(),
    );
    let ours = Ours::start_full(&fast);
    assert!(
        wait_until(Duration::from_secs(10), || health_probes(&a) >= 5),
        "no probes"
    );
    let slow = fast.replace("interval=100ms", "interval=60s");
    std::fs::write(&ours.conf_path, common::fill(&slow, ours.ports, ours.dir()))
        .expect("write conf");
    ours.proc.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || ours
            .error_log()
            .contains("reconfiguring")),
        "no reload"
    );
    std::thread::sleep(Duration::from_millis(300));
    let before = health_probes(&a);
    std::thread::sleep(Duration::from_millis(1500));
    let after = health_probes(&a);
    // The new checker probes once per 60 s; a leaked 100 ms checker would add ~15.
    assert!(
        after - before <= 1,
        "old checker still probing: {before} -> {after}"
    );
}

#[test]
fn bad_parameters_are_config_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("health_check fails=0;", "invalid parameter \"fails=0\"", 4),
        ("health_check match=nope;", "match \"nope\" not found", 4),
        (
            "health_check interval=fast;",
            "invalid parameter \"interval=fast\"",
            4,
        ),
    ];
    for (dir_text, want, line) in cases {
        let p = dir.path().join("hc.conf");
        let text = format!(
            "events {{}}\nhttp {{\n  upstream u {{ server 127.0.0.1:9;\n    {dir_text} }}\n  \
             server {{ listen 127.0.0.1:8099; location / {{ proxy_pass http://u; }} }}\n}}\n"
        );
        std::fs::write(&p, text).expect("write");
        let o = std::process::Command::new(proxylab_bin())
            .args(["proxy", "-t", "-c"])
            .arg(&p)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{dir_text}: {err}");
        assert!(
            err.contains(&format!("{want} in {}:{line}", p.display())),
            "{dir_text}: {err}"
        );
    }
    let p = dir.path().join("match.conf");
    std::fs::write(
        &p,
        "events {}\nhttp {\n  match m {\n    status 2xx;\n  }\n}\n",
    )
    .expect("write");
    let o = std::process::Command::new(proxylab_bin())
        .args(["proxy", "-t", "-c"])
        .arg(&p)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("invalid status \"2xx\" in {}:4", p.display())),
        "{err}"
    );
}
