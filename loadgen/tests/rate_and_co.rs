//! Open loop against real servers: rate accuracy (10 s at 2,000/s sends 20,000 ± 1 %, and the
//! server saw them all), and coordinated omission (a 1 s accept pause shows in the open-loop
//! p99 but not in a closed-loop run).

mod common;
use common::*;
use proxylab_testkit::{FakeUpstream, Nginx};
use std::time::Duration;

#[test]
fn ten_seconds_at_2000_per_second_sends_20000_and_nginx_saw_them() {
    let Some(nginx) = Nginx::start(
        "log_format n '$status $request_uri';\n\
         server { listen 127.0.0.1:{PORT}; access_log {DIR}/n.log n; location / { return 200 'ok'; } }",
    ) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", nginx.port());
    let (res, rows) = run_with_rows(&with(
        plan(&url, open(2000.0, 10), Duration::from_secs(11)),
        Default::default(),
        "/r/{seq}",
        false,
    ));
    let s = &res.summary.overall;
    let want = 20_000f64;
    assert!(
        (s.sent as f64 - want).abs() <= want * 0.01,
        "sent {}",
        s.sent
    );
    assert_eq!(s.completed, s.sent, "errors: {:?}", s.errors);
    assert_eq!(s.status.get("200"), Some(&s.completed));
    assert!(
        (s.achieved_rate - 2000.0).abs() < 40.0,
        "rate {}",
        s.achieved_rate
    );
    let log = std::fs::read_to_string(nginx.dir().join("n.log")).unwrap();
    assert_eq!(
        count_lines(&log, "200 /r/") as u64,
        s.completed,
        "nginx saw a different count"
    );
    // {seq} makes every path unique.
    let distinct: std::collections::HashSet<&str> = log.lines().collect();
    assert_eq!(distinct.len() as u64, s.completed);
    // The series adds up to the totals.
    let per_second: u64 = rows
        .iter()
        .filter(|r| r.pop == Some(0))
        .map(|r| r.sent)
        .sum();
    assert_eq!(per_second, s.sent);
}

/// Runs `load` for 6 s while the fake stops accepting from t=2 s to t=3 s.
fn run_with_accept_pause(
    load: proxylab_loadgen::plan::Load,
) -> proxylab_loadgen::engine::RunResult {
    let fake = FakeUpstream::start(&["--admin-port", "0", "--quiet"]);
    let admin_addr = fake.admin_addr().expect("admin port");
    let p = with(
        plan(&fake.url(), load, Duration::from_secs(6)),
        Default::default(),
        "/",
        true,
    );
    let pauser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        admin(admin_addr, "POST", "/faults/accept?state=stop");
        std::thread::sleep(Duration::from_secs(1));
        admin(admin_addr, "POST", "/faults/accept?state=resume");
    });
    let res = run(&p);
    pauser.join().unwrap();
    res
}

#[test]
fn an_accept_pause_shows_in_open_loop_p99_but_not_closed_loop() {
    let open_res = run_with_accept_pause(open(500.0, 6));
    let o = &open_res.summary.overall;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    // 500 of 3000 requests were caught by the 1 s pause: p99 sits high in that second.
    assert!(
        o.latency_us.p99 > 600_000,
        "open-loop p99 {} us: {o:?} {:?}",
        o.latency_us.p99,
        open_res.summary.details
    );
    assert!(
        o.latency_us.max > 800_000 && o.latency_us.max < 2_000_000,
        "max {}",
        o.latency_us.max
    );
    // The high p99 is the server's pause, not the generator falling behind (generous: the
    // test machine is shared).
    assert!(
        o.schedule_lag_us.p99 < o.latency_us.p99 / 3,
        "lag p99 {} vs latency p99 {}",
        o.schedule_lag_us.p99,
        o.latency_us.p99
    );
    let closed_res = run_with_accept_pause(closed(2));
    let c = &closed_res.summary.overall;
    // A closed loop just waits: one or two slow samples, the percentiles look healthy.
    assert!(
        c.latency_us.max > 600_000,
        "closed-loop max {}",
        c.latency_us.max
    );
    assert!(
        c.latency_us.p99 < 100_000,
        "closed-loop p99 {} us",
        c.latency_us.p99
    );
}
