//! Fake-only behaviour: the admin API (counters, runtime faults, crashing a worker), route-table
//! faults (500, reset, hang, truncated and trickled bodies), chunked routes, and the gunicorn
//! vs uvicorn supervisor timing.

mod common;

use common::*;
use proxylab_upstream::admin;
use std::io::Write;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn opts(args: &[&str]) -> Opts {
    Opts::args(args)
}

fn fake(args: &[&str]) -> Server {
    Server::start(Flavor::Fake, &opts(args)).expect("fake always starts")
}

fn fake_with_admin(args: &[&str]) -> (Server, SocketAddr) {
    let mut all = vec!["--admin-port", "0"];
    all.extend_from_slice(args);
    let s = fake(&all);
    let line = s
        .proc
        .wait_stdout_line(|l| l.contains(" admin "), T)
        .expect("ready line");
    let admin = line
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .expect("admin addr");
    (s, admin)
}

fn counters(admin: SocketAddr) -> serde_json::Value {
    let (status, body) = admin::request(admin, "GET", "/counters").expect("admin reachable");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json counters")
}

fn post(admin: SocketAddr, path: &str) -> u16 {
    admin::request(admin, "POST", path)
        .expect("admin reachable")
        .0
}

#[test]
fn admin_counts_requests_per_route() {
    let (s, admin) = fake_with_admin(&[]);
    for p in ["/", "/", "/nope", "/sleep?ms=1"] {
        fetch(s.addr, p, T).expect("response");
    }
    // The counters are updated right after the last byte is written: wait for in_flight 0.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut c = counters(admin);
    while c["in_flight"] != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        c = counters(admin);
    }
    assert_eq!(c["requests"], 4, "{c}");
    assert_eq!(c["routes"]["GET /"], 2, "{c}");
    assert_eq!(c["routes"]["404"], 1, "{c}");
    assert_eq!(c["routes"]["GET /sleep"], 1, "{c}");
    assert_eq!(c["in_flight"], 0, "{c}");
}

#[test]
fn admin_runtime_faults_health_latency_and_accept() {
    let (s, admin) = fake_with_admin(&[]);
    assert_eq!(post(admin, "/faults/health?state=unhealthy"), 200);
    assert_eq!(fetch(s.addr, "/health", T).expect("health").status, 503);
    assert_eq!(post(admin, "/faults/health?state=healthy"), 200);
    assert_eq!(fetch(s.addr, "/health", T).expect("health").status, 200);

    assert_eq!(post(admin, "/faults/latency?multiplier=5"), 200);
    let t = Instant::now();
    fetch(s.addr, "/sleep?ms=100", T).expect("slow");
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "multiplied latency {:?}",
        t.elapsed()
    );
    assert_eq!(
        post(admin, "/faults/latency?multiplier=-1"),
        400,
        "negative multiplier refused"
    );
    assert_eq!(post(admin, "/faults/latency?multiplier=1"), 200);

    assert_eq!(post(admin, "/faults/accept?state=stop"), 200);
    thread::sleep(Duration::from_millis(50));
    let mut c = s.connect(); // the kernel completes the handshake into the backlog
    send(&mut c, &get("/"));
    assert!(
        read_response(&mut c, Duration::from_millis(500)).is_err(),
        "served while not accepting"
    );
    assert_eq!(post(admin, "/faults/accept?state=resume"), 200);
    assert_eq!(
        read_response(&mut c, T)
            .expect("served after resume")
            .status,
        200
    );
}

#[test]
fn admin_crash_kills_a_worker_and_gunicorn_replaces_it_quickly() {
    let (s, admin) = fake_with_admin(&["--workers", "2", "--supervisor", "gunicorn"]);
    assert_eq!(counters(admin)["workers"], 2);
    assert_eq!(post(admin, "/faults/crash?worker=1"), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while counters(admin)["restarts"] != 1 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let c = counters(admin);
    assert_eq!(
        (c["restarts"].as_u64(), c["workers"].as_u64()),
        (Some(1), Some(2)),
        "{c}"
    );
    assert_eq!(fetch(s.addr, "/", T).expect("still serving").status, 200);
    assert_eq!(post(admin, "/faults/crash?worker=9"), 400);
}

#[test]
fn supervisor_gunicorn_restarts_fast_uvicorn_stalls_for_the_healthcheck() {
    for (sup, min_stall, max_stall) in [("gunicorn", 0.0, 1.5), ("uvicorn", 2.5, 8.0)] {
        let s = fake(&[
            "--workers",
            "2",
            "--supervisor",
            sup,
            "--limit-max-requests",
            "3",
            "--timeout-worker-healthcheck",
            "3",
        ]);
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            // Pace the client (≈30 req/s) so that the 0.1 s max-requests tick sees the limit.
            thread::sleep(Duration::from_millis(30));
            let t = Instant::now();
            let r = fetch(s.addr, "/", Duration::from_secs(15));
            worst = worst.max(t.elapsed());
            if let Ok(r) = r {
                assert_eq!(r.status, 200);
            }
        }
        let w = worst.as_secs_f64();
        assert!(
            w >= min_stall && w <= max_stall,
            "{sup}: worst request took {w:.2}s"
        );
    }
}

#[test]
fn gunicorn_keep_alive_defaults_to_two_seconds() {
    let s = fake(&["--supervisor", "gunicorn"]);
    let mut c = s.connect();
    send(&mut c, &get("/"));
    read_response(&mut c, T).expect("response");
    let (end, after) = wait_end(&mut c, Duration::from_secs(5));
    assert_eq!(end, End::Eof(0));
    assert!(
        after >= Duration::from_millis(1800) && after < Duration::from_millis(3000),
        "closed after {after:?}"
    );
}

fn table(toml: &str) -> (Server, tempfile::NamedTempFile) {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(toml.as_bytes()).expect("write");
    let s = fake(&["--app", f.path().to_str().expect("utf-8")]);
    (s, f)
}

const FAULTS: &str = r#"
[[routes]]
path = "/boom"
faults = { error_500 = 1.0 }

[[routes]]
path = "/reset"
faults = { reset = 1.0 }

[[routes]]
path = "/hang"
faults = { hang = 1.0 }

[[routes]]
path = "/cut"
body_bytes = 1000
faults = { truncate = 1.0 }

[[routes]]
path = "/drip"
body = "abcdef"
faults = { trickle = 1.0, trickle_bytes = 2, trickle_interval_ms = 100 }

[[routes]]
method = "*"
path = "/items/{id}"
status = 201
chunked = true
body = "streamed"
content_type = "text/plain"
headers = { "X-App" = "demo" }
latency = { dist = "uniform", min_ms = 50, max_ms = 60 }
"#;

#[test]
fn route_table_faults_behave_as_named() {
    let (s, _f) = table(FAULTS);
    let mut c = s.connect();
    send(&mut c, &get("/boom"));
    let r = read_response(&mut c, T).expect("500");
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("connection")),
        (500, &b"Internal Server Error"[..], None)
    );
    assert_eq!(
        wait_end(&mut c, Duration::from_secs(2)).0,
        End::Eof(0),
        "exception → FIN"
    );

    let mut c = s.connect();
    send(&mut c, &get("/reset"));
    assert_eq!(wait_end(&mut c, Duration::from_secs(2)).0, End::Reset);

    let mut c = s.connect();
    send(&mut c, &get("/hang"));
    assert_eq!(wait_end(&mut c, Duration::from_millis(600)).0, End::Open);

    let mut c = s.connect();
    send(&mut c, &get("/cut"));
    match wait_end(&mut c, Duration::from_secs(2)).0 {
        End::Eof(n) => assert!(n > 500 && n < 1000 + 200, "truncated after {n} bytes"),
        other => panic!("truncate ended with {other:?}"),
    }

    let mut c = s.connect();
    let t = Instant::now();
    send(&mut c, &get("/drip"));
    let r = read_response(&mut c, T).expect("trickled");
    assert_eq!(r.body, b"abcdef");
    assert!(
        t.elapsed() >= Duration::from_millis(280),
        "trickled in {:?}",
        t.elapsed()
    );

    let mut c = s.connect();
    let t = Instant::now();
    send(&mut c, "DELETE /items/42 HTTP/1.1\r\nhost: t\r\n\r\n");
    let r = read_response(&mut c, T).expect("chunked");
    assert!(t.elapsed() >= Duration::from_millis(45));
    assert_eq!((r.status, r.body.as_slice()), (201, &b"streamed"[..]));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("x-app"), Some("demo"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    // Default routes are still served after the table's.
    assert_eq!(fetch(s.addr, "/health", T).expect("health").status, 200);
}

/// Runs wrk with `clients` keep-alive connections for 2 s; returns (requests, non-2xx).
fn wrk(wrk: &std::path::Path, s: &Server, clients: u32) -> (u64, u64) {
    let out = std::process::Command::new(wrk)
        .args([
            "-t2",
            &format!("-c{clients}"),
            "-d2s",
            &format!("http://{}/", s.addr),
        ])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let num = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| {
                l.trim().strip_prefix(prefix).map(|r| {
                    r.split_whitespace()
                        .next()
                        .unwrap_or("0")
                        .parse()
                        .unwrap_or(0)
                })
            })
            .unwrap_or(0)
    };
    let requests = text
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .and_then(|(n, _)| n.parse().ok())
        })
        .unwrap_or(0);
    (requests, num("Non-2xx or 3xx responses:"))
}

#[test]
fn concurrency_mode_exact_is_a_cliff_uvloop_refuses_below_the_limit() {
    let Some(wrk_bin) = proxylab_testkit::require("wrk", "apt-get install -y wrk") else {
        return;
    };
    let exact = fake(&[
        "--limit-concurrency",
        "10",
        "--concurrency-mode",
        "exact",
        "--quiet",
    ]);
    let (n, refused) = wrk(&wrk_bin, &exact, 8);
    assert!(n > 1000, "only {n} responses");
    assert_eq!(refused, 0, "exact: 8 clients < 10 never get 503");
    let (_, refused) = wrk(&wrk_bin, &exact, 12);
    assert!(refused > 0, "exact: 12 clients ≥ 10 get 503s");
    let uvloop = fake(&[
        "--limit-concurrency",
        "10",
        "--concurrency-mode",
        "uvloop",
        "--quiet",
    ]);
    let (n, refused) = wrk(&wrk_bin, &uvloop, 8);
    eprintln!("uvloop mode, 8 clients: {refused}/{n} 503s");
    assert!(
        refused > 0,
        "uvloop: requests span loop iterations and linger, so 8 clients see 503s"
    );
}

#[test]
fn gunicorn_kills_a_worker_whose_loop_is_blocked_past_timeout() {
    let (s, admin) = fake_with_admin(&["--supervisor", "gunicorn", "--timeout", "2"]);
    let mut blocked = s.connect();
    let t = Instant::now();
    send(&mut blocked, &get("/block?ms=10000"));
    let (end, _) = wait_end(&mut blocked, Duration::from_secs(8));
    let lost_after = t.elapsed();
    assert_ne!(end, End::Open, "the blocked worker was not killed");
    assert!(
        lost_after >= Duration::from_millis(900) && lost_after < Duration::from_secs(6),
        "killed after {lost_after:?}"
    );
    assert_eq!(
        fetch(s.addr, "/", T).expect("replacement serves").status,
        200
    );
    assert_eq!(counters(admin)["restarts"], 1);
    assert!(s.proc.stderr_log().contains("WORKER TIMEOUT"));
}
