//! WebSocket behaviours against the real fake upstream's `/ws` echo route.

mod common;
use common::*;
use proxylab_loadgen::plan::{Behaviour, Dur};
use proxylab_testkit::FakeUpstream;
use std::time::Duration;

#[test]
fn chatty_websockets_measure_the_echo_round_trip() {
    let fake = FakeUpstream::start(&["--admin-port", "0", "--quiet"]);
    let b = Behaviour::WsChatty {
        messages_per_sec: 20.0,
        message_bytes: 100,
        hold: Dur::secs(2),
    };
    let mut p = with(
        plan(&fake.url(), closed(3), Duration::from_secs(5)),
        b,
        "/ws",
        false,
    );
    p.populations[0].max_requests = Some(3);
    let res = run(&p);
    let s = &res.summary.populations["p"];
    let d = &res.summary.details["p"];
    assert_eq!(s.status.get("101").copied(), Some(3), "{s:?} {d:?}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(
        d.ws_rtt_us.p50 > 0 && d.ws_rtt_us.p99 < 500_000,
        "{:?}",
        d.ws_rtt_us
    );
    assert_eq!(
        d.outcomes.get("held_to_end").copied(),
        Some(3),
        "{:?}",
        d.outcomes
    );
    let hdr = proxylab_loadgen::merge::with_histograms(&res);
    assert!(hdr.details["p"].hdr.contains_key("ws_rtt"));
    // The server counted the handshakes.
    let c = counters(fake.admin_addr().unwrap());
    let ws = c["routes"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.contains("/ws"))
        .map(|(_, v)| v.as_u64().unwrap());
    assert_eq!(ws, Some(3), "{c}");
}

#[test]
fn idle_websockets_record_how_the_server_closed_them() {
    let mut fake = FakeUpstream::start(&["--quiet"]);
    let b = Behaviour::WsIdle {
        hold: Dur::secs(30),
    };
    let p = with(
        plan(&fake.url(), closed(5), Duration::from_secs(4)),
        b,
        "/ws",
        false,
    );
    let pid = fake.proc().pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        // SIGTERM: uvicorn's shutdown closes WebSockets (close frame 1012, or the connection).
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    });
    let res = run(&p);
    killer.join().unwrap();
    let _ = fake.proc_mut().wait_exit(Duration::from_secs(5));
    let d = &res.summary.details["p"];
    let s = &res.summary.populations["p"];
    assert_eq!(s.status.get("101").copied(), Some(5), "{s:?}");
    let ended_by_server: u64 = d
        .outcomes
        .iter()
        .filter(|(k, _)| k.starts_with("ws_close_") || *k == "closed_by_server" || *k == "reset")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(ended_by_server, 5, "{:?}", d.outcomes);
    // They were held until the shutdown, about 1.5 s after they opened.
    assert!(
        d.held_us.p50 > 1_000_000 && d.held_us.p50 < 3_500_000,
        "{:?}",
        d.held_us
    );
}
