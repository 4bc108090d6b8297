//! Operations on our proxy as a real process: the ready line, SIGHUP reload (new config
//! served, in-flight request finishes, a bad config is logged and the old one kept), SIGQUIT
//! graceful drain, SIGTERM fast exit, and `-t` exit codes.

mod common;

use common::{Ours, get, wait_until};
use proxylab_testkit::{FakeUpstream, proxylab_bin};
use std::time::Duration;

fn conf_with(body: &str, upstream: std::net::SocketAddr) -> String {
    common::conf(&format!(
        "server {{ listen 127.0.0.1:{{PORT}}; location / {{ return 200 \"{body}\"; }}\n\
         location /slow {{ proxy_pass http://{upstream}/sleep; }} }}"
    ))
}

#[test]
fn sighup_reloads_keeps_inflight_and_rejects_bad_config() {
    let f = FakeUpstream::start(&[]);
    let ours = Ours::start_full(&conf_with("v1", f.addr()));
    let addr = ours.addr();
    assert_eq!(get(addr, "/").body, b"v1");
    let slow = std::thread::spawn(move || get(addr, "/slow?ms=1500"));
    // Let the slow request reach the upstream before reloading.
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(ours.dir().join("access.log")).is_ok()
    }));
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&ours.conf_path)
        .expect("conf")
        .replace("v1", "v2");
    std::fs::write(&ours.conf_path, text).expect("write");
    ours.proc.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || get(addr, "/").body == b"v2"),
        "reload did not take effect"
    );
    let r = slow.join().expect("slow thread");
    assert_eq!(r.status, 200, "in-flight request across reload: {r:?}");
    std::fs::write(
        &ours.conf_path,
        "events {} http { server { listen 127.0.0.1:1; foo; } }",
    )
    .expect("write");
    ours.proc.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || ours
            .error_log()
            .contains("unknown directive \"foo\"")),
        "bad config not reported: {}",
        ours.error_log()
    );
    assert_eq!(
        get(addr, "/").body,
        b"v2",
        "old config kept after a bad reload"
    );
}

#[test]
fn sigquit_drains_inflight_then_exits() {
    let f = FakeUpstream::start(&[]);
    let mut ours = Ours::start_full(&conf_with("x", f.addr()));
    let addr = ours.addr();
    let slow = std::thread::spawn(move || get(addr, "/slow?ms=1500"));
    std::thread::sleep(Duration::from_millis(400));
    ours.proc.signal(libc::SIGQUIT);
    let r = slow.join().expect("slow thread");
    assert_eq!(
        r.status, 200,
        "in-flight request finished during drain: {r:?}"
    );
    let st = ours
        .proc
        .wait_exit(Duration::from_secs(10))
        .expect("exited after drain");
    assert!(st.success(), "{st:?}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed"
    );
}

#[test]
fn sigterm_exits_at_once() {
    let mut ours = Ours::start_full(&common::conf(
        "server { listen 127.0.0.1:{PORT}; return 200; }",
    ));
    ours.proc.signal(libc::SIGTERM);
    assert!(ours.proc.wait_exit(Duration::from_secs(5)).is_some());
}

#[test]
fn test_flag_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.conf");
    std::fs::write(
        &good,
        "events {}\nhttp { server { listen 127.0.0.1:8099; return 200; } }\n",
    )
    .expect("write");
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "events {}\nhttp {\n  bogus on;\n}\n").expect("write");
    let run = |p: &std::path::Path| {
        std::process::Command::new(proxylab_bin())
            .args(["proxy", "-t", "-c"])
            .arg(p)
            .output()
            .expect("run")
    };
    let o = run(&good);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("test is successful"));
    let o = run(&bad);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "unknown directive \"bogus\" in {}:3",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("test failed"), "{err}");
}
