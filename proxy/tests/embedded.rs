//! The proxy as a library: `Server::start` serves in this process and its `Handle` reports the
//! bound addresses, reloads (new config served, an in-flight request finishes, a config that
//! does not load is returned as an error and logged while the old one stays), drains (the
//! request in flight finishes, then no connection is left) and stops (the port is free again).

mod common;

use common::{Embedded, get, wait_until};
use proxylab_testkit::FakeUpstream;
use std::time::Duration;

fn conf_with(body: &str, upstream: std::net::SocketAddr) -> String {
    common::conf(&format!(
        "server {{ listen 127.0.0.1:{{PORT}}; location / {{ return 200 \"{body}\"; }}\n\
         location /slow {{ proxy_pass http://{upstream}/sleep; }} }}"
    ))
}

/// Requests being processed (stub_status "Writing").
fn writing(ours: &mut Embedded) -> u64 {
    ours.handle()
        .stats()
        .writing
        .load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn reload_serves_the_new_config_and_keeps_the_old_one_when_the_new_one_fails() {
    let f = FakeUpstream::start(&[]);
    let mut ours = Embedded::start_full(&conf_with("v1", f.addr()));
    let addr = ours.addr();
    assert_eq!(ours.handle().addresses(), [addr]);
    assert_eq!(ours.handle().urls(), [format!("http://{addr}")]);
    assert_eq!(get(addr, "/").body, b"v1");
    let slow = std::thread::spawn(move || get(addr, "/slow?ms=1000"));
    assert!(wait_until(Duration::from_secs(5), || writing(&mut ours) > 0));
    let text = std::fs::read_to_string(&ours.conf_path).expect("conf");
    std::fs::write(&ours.conf_path, text.replace("v1", "v2")).expect("write");
    ours.handle().reload().expect("reload");
    assert_eq!(get(addr, "/").body, b"v2");
    let r = slow.join().expect("slow thread");
    assert_eq!(r.status, 200, "in-flight request across reload: {r:?}");
    std::fs::write(&ours.conf_path, "events {} http { server { foo; } }").expect("write");
    let e = ours.handle().reload().expect_err("bad config refused");
    assert!(e.contains("unknown directive \"foo\""), "{e}");
    assert!(ours.error_log().contains("unknown directive \"foo\""));
    assert_eq!(
        get(addr, "/").body,
        b"v2",
        "old config kept after a bad reload"
    );
}

#[test]
fn drain_finishes_the_request_in_flight_and_stop_frees_the_port() {
    let f = FakeUpstream::start(&[]);
    let mut ours = Embedded::start_full(&conf_with("x", f.addr()));
    let addr = ours.addr();
    let slow = std::thread::spawn(move || get(addr, "/slow?ms=800"));
    assert!(wait_until(Duration::from_secs(5), || writing(&mut ours) > 0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let drained = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), ours.handle().drained()).await
    });
    assert!(drained.is_ok(), "connections left after 10 s of draining");
    let r = slow.join().expect("slow thread");
    assert_eq!(
        r.status, 200,
        "in-flight request finished during drain: {r:?}"
    );
    ours.handle.take().expect("running").stop();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed"
    );
    std::net::TcpListener::bind(addr).expect("the port is free after stop");
}
