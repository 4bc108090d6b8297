//! Differential upstream tests: the same config in front of the same upstreams (the real fake
//! upstream, several instances, and tiny misbehaving servers) through nginx and through our
//! proxy. Which peer served each request comes from both access logs (`$upstream_addr`,
//! `$upstream_status`, `$status`), so the comparison covers balancer sequences, retries,
//! max_fails/fail_timeout over time, the 502/504 split and keepalive reuse.

mod common;

use common::servers::{Behaviour, TestServer};
use common::{Ours, both, get, log_lines, request};
use proxylab_testkit::{FakeUpstream, Nginx, free_port};
use std::net::SocketAddr;
use std::time::Duration;

/// Sends the same requests through nginx, then through ours; returns both access logs.
fn run_both(
    http: &str,
    reqs: &[(&str, &str, &[u8])],
    between: Option<(usize, Duration)>,
) -> Option<(Vec<String>, Vec<String>)> {
    let (nginx, ours) = both(http)?;
    let mut logs = Vec::new();
    for (addr, read) in [
        (
            nginx.addr(),
            Box::new(|| nginx.access_log()) as Box<dyn Fn() -> String>,
        ),
        (ours.addr(), Box::new(|| ours.access_log())),
    ] {
        for (i, (m, p, body)) in reqs.iter().enumerate() {
            if let Some((at, pause)) = between
                && i == at
            {
                std::thread::sleep(pause);
            }
            request(addr, m, p, "", body);
        }
        logs.push(log_lines(read, reqs.len()));
    }
    let o = logs.pop()?;
    let n = logs.pop()?;
    Some((n, o))
}

fn assert_same(n: &[String], o: &[String]) {
    assert_eq!(n, o, "\nnginx: {n:#?}\nours:  {o:#?}");
}

fn fakes(n: usize) -> Vec<FakeUpstream> {
    (0..n).map(|_| FakeUpstream::start(&[])).collect()
}

fn dead_addr() -> SocketAddr {
    ([127, 0, 0, 1], free_port()).into()
}

#[test]
fn round_robin_weights_give_nginx_sequence() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let f = fakes(3);
    let http = format!(
        "upstream u {{ server {} weight=5; server {}; server {}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ proxy_pass http://u; }} }}",
        f[0].addr(),
        f[1].addr(),
        f[2].addr()
    );
    let reqs: Vec<(&str, &str, &[u8])> = (0..14).map(|_| ("GET", "/", &b""[..])).collect();
    let Some((n, o)) = run_both(&http, &reqs, None) else {
        return;
    };
    assert_same(&n, &o);
    let a = f[0].addr().to_string();
    assert_eq!(n.iter().filter(|l| l.contains(&a)).count(), 10, "{n:#?}");
}

#[test]
fn hash_and_ip_hash_choices_match_nginx() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let f = fakes(3);
    let servers = format!(
        "server {}; server {}; server {} weight=2;",
        f[0].addr(),
        f[1].addr(),
        f[2].addr()
    );
    let http = format!(
        "upstream h {{ hash $arg_k; {servers} }}\n\
         upstream c {{ hash $arg_k consistent; {servers} }}\n\
         upstream i {{ ip_hash; {servers} }}\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location /h/ {{ proxy_pass http://h/; }}\n\
           location /c/ {{ proxy_pass http://c/; }}\n\
           location /i/ {{ proxy_pass http://i/; }} }}"
    );
    let keys = ["a", "b", "user-17", "42", "zz", "k9", "x", "long-key-value"];
    let paths: Vec<String> = keys
        .iter()
        .flat_map(|k| {
            [
                format!("/h/?k={k}"),
                format!("/c/?k={k}"),
                format!("/i/?k={k}"),
            ]
        })
        .collect();
    let reqs: Vec<(&str, &str, &[u8])> = paths
        .iter()
        .map(|p| ("GET", p.as_str(), &b""[..]))
        .collect();
    let Some((n, o)) = run_both(&http, &reqs, None) else {
        return;
    };
    assert_same(&n, &o);
}

#[test]
fn least_conn_with_overlapping_requests_matches_nginx() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let f = fakes(2);
    let http = format!(
        "upstream u {{ least_conn; server {} weight=2; server {}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ proxy_pass http://u; }} }}",
        f[0].addr(),
        f[1].addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut logs = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        // Five overlapping slow requests, started 100 ms apart: each choice sees the
        // previous ones still in flight.
        let handles: Vec<_> = (0..5)
            .map(|i| {
                std::thread::sleep(Duration::from_millis(if i == 0 { 0 } else { 100 }));
                std::thread::spawn(move || get(addr, "/sleep?ms=1500").status)
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread"), 200);
        }
    }
    for read in [&(|| nginx.access_log()) as &dyn Fn() -> String, &|| {
        ours.access_log()
    }] {
        let mut lines = log_lines(read, 5);
        // The log is in completion order; the choices are what matters: count per peer.
        lines.sort();
        logs.push(lines);
    }
    assert_same(&logs[0], &logs[1]);
}

#[test]
fn max_fails_and_fail_timeout_over_time_match_nginx() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let f = fakes(1);
    let dead = dead_addr();
    let http = format!(
        "upstream u {{ server {dead} max_fails=2 fail_timeout=3s; server {}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ proxy_pass http://u; }} }}",
        f[0].addr()
    );
    // 6 requests, a pause longer than fail_timeout, then 4 more (one probe of the dead peer).
    let reqs: Vec<(&str, &str, &[u8])> = (0..10).map(|_| ("GET", "/", &b""[..])).collect();
    let Some((n, o)) = run_both(&http, &reqs, Some((6, Duration::from_millis(4500)))) else {
        return;
    };
    assert_same(&n, &o);
    assert!(
        n.iter().filter(|l| l.contains(&dead.to_string())).count() >= 3,
        "{n:#?}"
    );
}

#[test]
fn get_retried_post_not_once_sent_and_no_live_upstreams() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let f = fakes(1);
    let closer = TestServer::start(Behaviour::CloseAfterRequest);
    let dead = dead_addr();
    let http = format!(
        "upstream sent {{ server {} max_fails=0; server {} max_fails=0; }}\n\
         upstream refused {{ server {dead} max_fails=0; server {} max_fails=0; }}\n\
         upstream onlydead {{ server {dead}; server {}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location /sent/ {{ proxy_pass http://sent/; }}\n\
           location /sent-ni/ {{ proxy_pass http://sent/; proxy_next_upstream error timeout non_idempotent; }}\n\
           location /refused/ {{ proxy_pass http://refused/; }}\n\
           location /off/ {{ proxy_pass http://refused/; proxy_next_upstream off; }}\n\
           location /tries1/ {{ proxy_pass http://refused/; proxy_next_upstream_tries 1; }} }}",
        closer.addr,
        f[0].addr(),
        f[0].addr(),
        dead_addr()
    );
    let body = &b"{\"x\":1}"[..];
    let reqs: Vec<(&str, &str, &[u8])> = vec![
        ("GET", "/sent/", b""),
        ("PUT", "/sent/echo", body),
        ("POST", "/sent/echo", body),
        ("PATCH", "/sent/echo", body),
        ("POST", "/sent-ni/echo", body),
        ("POST", "/refused/echo", body),
        ("GET", "/refused/", b""),
        ("GET", "/off/", b""),
        ("GET", "/off/", b""),
        ("GET", "/tries1/", b""),
        ("GET", "/tries1/", b""),
    ];
    let Some((n, o)) = run_both(&http, &reqs, None) else {
        return;
    };
    // Round robin over two peers: both proxies must agree request by request.
    assert_same(&n, &o);
    assert!(
        n[2].starts_with("502 "),
        "POST sent to a closing upstream is not retried: {n:#?}"
    );
}

#[test]
fn timeouts_and_status_retries_give_nginx_statuses() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let f = fakes(2);
    let http = format!(
        "upstream two {{ server {} max_fails=1 fail_timeout=30s; server {} max_fails=1 fail_timeout=30s; }}\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location /slow/ {{ proxy_pass http://{}/; proxy_read_timeout 1s; }}\n\
           location /refused/ {{ proxy_pass http://{}/; }}\n\
           location /s500/ {{ proxy_pass http://two/; proxy_next_upstream error timeout http_500; }}\n\
           location /s502/ {{ proxy_pass http://{}/; }} }}",
        f[0].addr(),
        f[1].addr(),
        f[0].addr(),
        dead_addr(),
        f[1].addr()
    );
    let reqs: Vec<(&str, &str, &[u8])> = vec![
        ("GET", "/slow/sleep?ms=3000", b""),
        ("GET", "/refused/", b""),
        ("GET", "/s502/status/502", b""),
        ("GET", "/s500/status/500", b""),
        ("GET", "/s500/status/500", b""),
        ("GET", "/s500/status/500", b""),
    ];
    let Some((n, o)) = run_both(&http, &reqs, None) else {
        return;
    };
    assert_same(&n, &o);
    assert!(n[0].starts_with("504 "), "{n:#?}");
    assert!(n[1].starts_with("502 "), "{n:#?}");
}

/// nginx's `ngx_http_upstream_test_next`: a status listed in `proxy_next_upstream` sends a
/// GET or PUT to the next server, but a POST or PATCH (already sent) only with
/// `non_idempotent`; the POST gets the upstream's own 503.
#[test]
fn status_retry_of_post_needs_non_idempotent() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let app = dir.path().join("sick.toml");
    std::fs::write(
        &app,
        "include_default_routes = false\n[[routes]]\nmethod = \"*\"\npath = \"/{x}\"\nstatus = 503\nheaders = { \"x-sick\" = \"1\" }\n",
    )
    .expect("write app");
    let sick = FakeUpstream::start(&["--app", app.to_str().expect("utf8")]);
    let ok = dir.path().join("ok.toml");
    std::fs::write(
        &ok,
        "include_default_routes = false\n[[routes]]\nmethod = \"*\"\npath = \"/{x}\"\nstatus = 200\n",
    )
    .expect("write app");
    let f = [FakeUpstream::start(&["--app", ok.to_str().expect("utf8")])];
    let http = format!(
        "upstream two {{ server {} max_fails=0; server {} max_fails=0; }}\n\
         upstream sicks {{ server {} max_fails=0; server {} max_fails=0; }}\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location /s503/ {{ proxy_pass http://two/; proxy_next_upstream error timeout http_503; }}\n\
           location /sicks/ {{ proxy_pass http://sicks/; proxy_next_upstream error timeout http_503; }}\n\
           location /ni/ {{ proxy_pass http://two/; proxy_next_upstream error timeout http_503 non_idempotent; }} }}",
        sick.addr(),
        f[0].addr(),
        sick.addr(),
        sick.addr()
    );
    let body = &b"{\"x\":1}"[..];
    // Round robin starts on the sick server for each request pair: each line's first try
    // meets the 503.
    let reqs: Vec<(&str, &str, &[u8])> = vec![
        ("GET", "/s503/echo", b""),
        ("GET", "/s503/echo", b""),
        ("POST", "/s503/echo", body),
        ("POST", "/s503/echo", body),
        ("PATCH", "/s503/echo", body),
        ("PATCH", "/s503/echo", body),
        ("PUT", "/s503/echo", body),
        ("PUT", "/s503/echo", body),
        ("POST", "/ni/echo", body),
        ("POST", "/ni/echo", body),
    ];
    let Some((n, o)) = run_both(&http, &reqs, None) else {
        return;
    };
    assert_same(&n, &o);
    let sick_first = |m: &str, p: &str| {
        n.iter()
            .find(|l| l.contains(&format!("\"{m} {p}")) && l.contains(", "))
            .cloned()
            .unwrap_or_default()
    };
    for m in ["POST", "PATCH"] {
        let lines: Vec<_> = n
            .iter()
            .filter(|l| l.contains(&format!("\"{m} /s503/")))
            .collect();
        assert!(
            lines.iter().all(|l| !l.contains(", ")) && lines.iter().any(|l| l.starts_with("503 ")),
            "{m} not passed over without non_idempotent: {n:#?}"
        );
    }
    assert!(sick_first("GET", "/s503/").starts_with("200 "), "{n:#?}");
    assert!(sick_first("POST", "/ni/").starts_with("200 "), "{n:#?}");
    // The POST that is not passed over gets the upstream's own 503 (its header), not a 503
    // page of the proxy's, on both.
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    for (who, addr) in [("nginx", nginx.addr()), ("ours", ours.addr())] {
        let r = request(addr, "POST", "/sicks/echo", "", body);
        assert_eq!(r.status, 503, "{who}: {r:?}");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-sick") && v == "1"),
            "{who}: the upstream's 503 expected: {r:?}"
        );
    }
}

fn accepted(f: &FakeUpstream) -> u64 {
    let admin = f.admin_addr().expect("admin");
    let r = get(admin, "/counters");
    let text = String::from_utf8_lossy(&r.body).to_string();
    let i = text.find("\"accepted\":").expect("accepted counter");
    text[i + 11..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("number")
}

#[test]
fn upstream_keepalive_reuse_and_reused_connection_failure_match_nginx() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let f = FakeUpstream::start(&["--admin-port", "0"]);
    let flaky = TestServer::start(Behaviour::CloseOnSecondRequest);
    let http = format!(
        "upstream ka {{ server {}; keepalive 4; }}\n\
         upstream noka {{ server {}; }}\n\
         upstream flaky {{ server {}; keepalive 4; }}\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location /ka/ {{ proxy_pass http://ka/; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n\
           location /noka/ {{ proxy_pass http://noka/; }}\n\
           location /flaky/ {{ proxy_pass http://flaky/; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}",
        f.addr(),
        f.addr(),
        flaky.addr
    );
    let c = common::conf(&http);
    let mut deltas = Vec::new();
    let mut flaky_logs = Vec::new();
    for which in ["nginx", "ours"] {
        let (addr, read): (SocketAddr, Box<dyn Fn() -> String>) = if which == "nginx" {
            let n = Nginx::start_full(&c).expect("nginx");
            let a = n.addr();
            (a, Box::new(move || n.access_log()))
        } else {
            let o = Ours::start_full(&c);
            let a = o.addr();
            (a, Box::new(move || o.access_log()))
        };
        let before = accepted(&f);
        for _ in 0..5 {
            assert_eq!(get(addr, "/ka/").status, 200);
        }
        let mid = accepted(&f);
        for _ in 0..5 {
            assert_eq!(get(addr, "/noka/").status, 200);
        }
        let after = accepted(&f);
        deltas.push((mid - before, after - mid));
        let s1 = get(addr, "/flaky/").status;
        let s2 = get(addr, "/flaky/").status;
        flaky_logs.push((
            s1,
            s2,
            log_lines(&*read, 12).last().cloned().unwrap_or_default(),
        ));
    }
    assert_eq!(
        deltas[0], deltas[1],
        "nginx vs ours upstream connections (keepalive, none)"
    );
    assert_eq!(deltas[1], (1, 5));
    assert_eq!(
        flaky_logs[0], flaky_logs[1],
        "a failure on a reused connection does not use up the try"
    );
    assert_eq!(flaky_logs[1].1, 200);
}

#[test]
fn upstream_idle_close_before_reuse_is_not_an_error() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    // uvicorn-style keep-alive timeout of 1 s upstream vs the proxy's 60 s pool: the
    // upstream closes the idle cached connection; the next request must not see an error.
    let f = FakeUpstream::start(&["--timeout-keep-alive", "1"]);
    let http = format!(
        "upstream ka {{ server {}; keepalive 8; }}\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_pass http://ka; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}",
        f.addr()
    );
    let reqs: Vec<(&str, &str, &[u8])> = (0..4).map(|_| ("GET", "/", &b""[..])).collect();
    let Some((n, o)) = run_both(&http, &reqs, Some((2, Duration::from_millis(1800)))) else {
        return;
    };
    assert_same(&n, &o);
    assert!(
        o.iter().all(|l| l.starts_with("200 ") && !l.contains(", ")),
        "{o:#?}"
    );
}
