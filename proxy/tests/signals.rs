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

/// nginx's old workers close their idle keep-alive connections on a reload, and a connection
/// whose request is in flight closes after its response: no request is ever served by the old
/// generation once the new one is in place (a client idle across a blue-green switch must not
/// reach the retired pool). Judged against nginx.
#[test]
fn sighup_closes_idle_keepalive_connections_like_nginx() {
    let Some((nginx, ours)) = common::both(
        "keepalive_timeout 60s;\n\
         server { listen 127.0.0.1:{PORT}; location / { return 200 \"ok\"; } }",
    ) else {
        return;
    };
    let get_ka = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (name, addr, proc) in [
        ("nginx", nginx.addr(), nginx.proc()),
        ("ours", ours.addr(), &ours.proc),
    ] {
        let mut idle = common::Conn::open(addr);
        let r = idle.exchange(get_ka).expect("first response");
        assert_eq!(r.status, 200, "{name}");
        assert!(
            !eof_within(&mut idle, Duration::from_millis(300)),
            "{name}: keep-alive connection closed before the reload"
        );
        proc.signal(libc::SIGHUP);
        assert!(
            eof_within(&mut idle, Duration::from_secs(10)),
            "{name}: idle keep-alive connection still open after the reload"
        );
        assert!(
            wait_until(Duration::from_secs(10), || get(addr, "/").status == 200),
            "{name}: no service after the reload"
        );
    }
}

/// Whether the peer closed (EOF or reset) within `wait`; false when the read times out.
fn eof_within(c: &mut common::Conn, wait: Duration) -> bool {
    use std::io::Read;
    c.s.set_read_timeout(Some(wait)).expect("timeout");
    let mut tmp = [0u8; 16];
    match c.s.read(&mut tmp) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}
