//! Unit tests of the balancers: nginx's known sequences, failure timelines with injected
//! time, least_conn; hashing methods in [`hashing`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

pub(super) fn addr(port: u16) -> PeerAddr {
    PeerAddr::Inet(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Servers `127.0.0.1:900N` with the given parameter strings.
pub(super) fn group(method: Method, lines: &[&str], t0: Instant) -> Arc<Upstream> {
    let servers = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let port = 9001 + i as u16;
            let a = format!("127.0.0.1:{port}");
            let mut args = vec![a.as_str()];
            args.extend(l.split_whitespace());
            let spec = ServerSpec::parse(&args, true).unwrap();
            ResolvedServer {
                spec,
                addrs: vec![addr(port)],
            }
        })
        .collect();
    Arc::new(Upstream::new("u", method, servers, t0).unwrap())
}

/// Letter of a peer: a = first primary, … (backups continue the alphabet after primaries).
pub(super) fn letter(s: &Selected) -> char {
    let PeerAddr::Inet(a) = &s.addr else { panic!() };
    (b'a' + (a.port() - 9001) as u8) as char
}

/// One request: select, finish Ok; returns the peer letter.
pub(super) fn one(u: &Arc<Upstream>, input: RequestInput<'_>, now: Instant) -> char {
    let mut a = u.begin(input);
    let s = a.next_peer(now).expect("a peer");
    a.finish(PeerOutcome::Ok, now);
    letter(&s)
}

pub(super) fn seq(u: &Arc<Upstream>, n: usize, now: Instant) -> String {
    (0..n)
        .map(|_| one(u, RequestInput::default(), now))
        .collect()
}

#[test]
fn smooth_wrr_5_1_1_is_nginx_sequence() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["weight=5", "", ""], t0);
    assert_eq!(seq(&u, 14, t0), "aabacaaaabacaa");
}

#[test]
fn smooth_wrr_equal_and_3_2() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["", "", ""], t0);
    assert_eq!(seq(&u, 6, t0), "abcabc");
    // hand-run of nginx's loop: cw (3,2) → a(-2,2) → b(1,-1)... = a b a b a
    let u = group(Method::RoundRobin, &["weight=3", "weight=2"], t0);
    assert_eq!(seq(&u, 10, t0), "ababaababa");
}

#[test]
fn down_and_backup() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["down", "", "backup"], t0);
    assert_eq!(u.tries(), 2);
    assert_eq!(seq(&u, 3, t0), "bbb");
    // primary b fails → same request goes to backup c
    let mut a = u.begin(RequestInput::default());
    assert_eq!(letter(&a.next_peer(t0).unwrap()), 'b');
    a.finish(PeerOutcome::Failed, t0);
    assert_eq!(a.tries_left(), 1);
    assert_eq!(letter(&a.next_peer(t0).unwrap()), 'c');
    a.finish(PeerOutcome::Ok, t0);
    assert_eq!(a.tries_left(), 0);
    // b is down for fail_timeout (10 s) → backup serves
    assert_eq!(
        one(&u, RequestInput::default(), t0 + Duration::from_secs(3)),
        'c'
    );
}

#[test]
fn all_down_is_no_live_upstreams() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["max_fails=1", ""], t0);
    for _ in 0..2 {
        let mut a = u.begin(RequestInput::default());
        a.next_peer(t0).unwrap();
        a.finish(PeerOutcome::Failed, t0);
    }
    let mut a = u.begin(RequestInput::default());
    assert_eq!(a.next_peer(t0).unwrap_err(), SelectError::NoLiveUpstreams);
}

#[test]
fn single_peer_never_marked_down_and_tries_zero() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["max_fails=1"], t0);
    for _ in 0..5 {
        let mut a = u.begin(RequestInput::default());
        assert_eq!(letter(&a.next_peer(t0).unwrap()), 'a');
        a.finish(PeerOutcome::Failed, t0);
        assert_eq!(a.tries_left(), 0);
    }
    let snap = u.snapshot(t0);
    assert_eq!(snap.peers[0].status, PeerStatus::Up);
    assert_eq!(snap.peers[0].fails, 0);
    assert_eq!(snap.peers[0].requests, 5);
}

#[test]
fn failure_timeline_fail_timeout_and_probe() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    let u = group(Method::RoundRobin, &["max_fails=2 fail_timeout=3s", ""], t0);
    // a fails at t=0 and t=5: fails never decay by time → disabled at the second
    let mut req = u.begin(RequestInput::default());
    assert_eq!(letter(&req.next_peer(s(0)).unwrap()), 'a');
    assert!(!req.finish(PeerOutcome::Failed, s(0)).temporarily_disabled);
    drop(req);
    assert_eq!(one(&u, RequestInput::default(), s(1)), 'b');
    let mut req = u.begin(RequestInput::default());
    assert_eq!(letter(&req.next_peer(s(5)).unwrap()), 'a');
    assert!(req.finish(PeerOutcome::Failed, s(5)).temporarily_disabled);
    drop(req);
    assert_eq!(u.snapshot(s(5)).peers[0].status, PeerStatus::Unavailable);
    // down for fail_timeout: `now - checked <= 3` → t=6,7,8 all go to b
    for t in 6..=8 {
        assert_eq!(one(&u, RequestInput::default(), s(t)), 'b', "t={t}");
    }
    // t=9: a eligible again; the probe holds it (checked=9) → others skip it while in flight
    let mut probe = u.begin(RequestInput::default());
    let mut got = letter(&probe.next_peer(s(9)).unwrap());
    if got != 'a' {
        probe.finish(PeerOutcome::Ok, s(9));
        probe = u.begin(RequestInput::default());
        got = letter(&probe.next_peer(s(9)).unwrap());
    }
    assert_eq!(got, 'a');
    assert_eq!(one(&u, RequestInput::default(), s(9)), 'b');
    // probe succeeds → fails cleared (accessed=5 < checked=9)
    probe.finish(PeerOutcome::Ok, s(9));
    let snap = u.snapshot(s(9));
    assert_eq!(
        (snap.peers[0].fails, snap.peers[0].status),
        (0, PeerStatus::Up)
    );
    assert_eq!(snap.peers[0].downtime_secs, 4);
    assert_eq!(snap.peers[0].total_fails, 2);
}

#[test]
fn success_within_fail_timeout_does_not_clear_fails() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    let u = group(Method::RoundRobin, &["max_fails=3", ""], t0);
    let mut req = u.begin(RequestInput::default());
    req.next_peer(s(0)).unwrap();
    req.finish(PeerOutcome::Failed, s(0));
    drop(req);
    // selected again at t=2 (checked stays 0+... = 0 since 2 - 0 <= 10) → success keeps fails
    for t in [1, 2, 3] {
        one(&u, RequestInput::default(), s(t));
    }
    assert_eq!(u.snapshot(s(3)).peers[0].fails, 1);
    // a selection after fail_timeout sets checked → the success clears
    for t in [12, 12] {
        one(&u, RequestInput::default(), s(t));
    }
    assert_eq!(u.snapshot(s(12)).peers[0].fails, 0);
}

#[test]
fn failure_lowers_effective_weight_then_recovers() {
    let t0 = Instant::now();
    let u = group(
        Method::RoundRobin,
        &["weight=4 max_fails=2", "weight=4"],
        t0,
    );
    let mut req = u.begin(RequestInput::default());
    assert_eq!(letter(&req.next_peer(t0).unwrap()), 'a');
    req.finish(PeerOutcome::Failed, t0);
    drop(req);
    assert_eq!(u.snapshot(t0).peers[0].effective_weight, 2);
    one(&u, RequestInput::default(), t0);
    assert_eq!(u.snapshot(t0).peers[0].effective_weight, 3);
}

#[test]
fn give_back_try_on_keepalive_failure() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["", ""], t0);
    let mut a = u.begin(RequestInput::default());
    a.limit_tries(5);
    assert_eq!(a.tries_left(), 2);
    a.next_peer(t0).unwrap();
    a.finish(PeerOutcome::Failed, t0);
    a.give_back_try();
    assert_eq!(a.tries_left(), 2);
    assert_eq!(u.snapshot(t0).peers[0].total_fails, 1);
    a.limit_tries(1);
    assert_eq!(a.tries_left(), 1);
}

#[test]
fn max_conns_and_drop_releases() {
    let t0 = Instant::now();
    let u = group(Method::RoundRobin, &["max_conns=1", "max_conns=1"], t0);
    let mut a = u.begin(RequestInput::default());
    let mut b = u.begin(RequestInput::default());
    let mut c = u.begin(RequestInput::default());
    a.next_peer(t0).unwrap();
    b.next_peer(t0).unwrap();
    assert_eq!(c.next_peer(t0).unwrap_err(), SelectError::NoLiveUpstreams);
    assert_eq!(u.snapshot(t0).peers[0].status, PeerStatus::Full);
    drop(a);
    assert!(c.next_peer(t0).is_ok());
}

#[test]
fn least_conn_weights_2_1_overlapping() {
    // nginx verified: weights 2:1, five overlapping requests → a b a b a
    let t0 = Instant::now();
    let u = group(Method::LeastConn, &["weight=2", ""], t0);
    let mut held = Vec::new();
    let mut got = String::new();
    for _ in 0..5 {
        let mut a = u.begin(RequestInput::default());
        got.push(letter(&a.next_peer(t0).unwrap()));
        held.push(a);
    }
    assert_eq!(got, "ababa");
}

#[test]
fn least_conn_prefers_idle_and_ties_by_wrr() {
    let t0 = Instant::now();
    let u = group(Method::LeastConn, &["", "", ""], t0);
    let mut busy = u.begin(RequestInput::default());
    assert_eq!(letter(&busy.next_peer(t0).unwrap()), 'a');
    // a has 1 conn; b and c tie at 0 → WRR among them, sequential requests alternate
    assert_eq!(seq(&u, 4, t0), "bcbc");
    drop(busy);
    // hand-run of nginx's loop: cw after the four = a -2, b 1, c 1; all tie now:
    // (-1,2,2) → b; (0,0,3) → c; (1,1,1)... → a
    assert_eq!(seq(&u, 3, t0), "bca");
}

mod hashing;
