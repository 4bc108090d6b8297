//! Balancer state per worker: without `zone` each worker keeps its own round-robin position
//! and `max_fails` counters (as nginx's worker processes do); with `zone` one state is
//! shared.

use super::{Live, set_worker_index};
use crate::balance::{PeerOutcome, PeerStatus, RequestInput};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

fn live(zone: &str) -> Live {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  \
         upstream app {{ {zone} server 127.0.0.1:9001 max_fails=1 fail_timeout=30s; \
         server 127.0.0.1:9002 max_fails=1 fail_timeout=30s; }}\n  \
         server {{ listen 127.0.0.1:9000; location / {{ proxy_pass http://app; }} }}\n}}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).expect("write");
    let loaded = crate::conf::load(&path, Some(dir.path())).expect("config loads");
    Live::build(Arc::new(loaded.config), 2, 1, Instant::now()).expect("live")
}

/// The first peer the current worker's balancer chooses, finishing the try with `outcome`.
fn pick(l: &Live, outcome: PeerOutcome) -> String {
    let now = Instant::now();
    let mut a = l.upstreams[0].group().begin(RequestInput {
        client_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        hash_key: b"",
    });
    let s = a.next_peer(now).expect("a peer");
    a.finish(outcome, now);
    s.name.to_string()
}

#[test]
fn without_zone_each_worker_keeps_its_own_balancer_state() {
    let l = live("");
    assert_eq!(l.upstreams[0].groups.len(), 2);
    set_worker_index(0);
    // Worker 0's first try fails: :9001 is out for fail_timeout in worker 0 only.
    assert_eq!(pick(&l, PeerOutcome::Failed), "127.0.0.1:9001");
    assert_eq!(pick(&l, PeerOutcome::Ok), "127.0.0.1:9002");
    assert_eq!(pick(&l, PeerOutcome::Ok), "127.0.0.1:9002");
    // Worker 1 starts its own round robin at :9001 and has seen no failure.
    set_worker_index(1);
    assert_eq!(pick(&l, PeerOutcome::Ok), "127.0.0.1:9001");
    assert_eq!(pick(&l, PeerOutcome::Ok), "127.0.0.1:9002");
    let w1 = l.upstreams[0].group().snapshot(Instant::now());
    assert_eq!(w1.peers[0].status, PeerStatus::Up);
    set_worker_index(0);
    // The metrics merge both: 5 tries, :9001 unavailable in one worker.
    let all = l.upstreams[0].snapshot(Instant::now());
    assert_eq!(all.peers[0].status, PeerStatus::Unavailable);
    assert_eq!(all.peers[0].requests + all.peers[1].requests, 5);
    assert_eq!(all.peers[0].total_fails, 1);
}

#[test]
fn with_zone_every_worker_shares_one_state() {
    let l = live("zone app 64k;");
    assert_eq!(l.upstreams[0].groups.len(), 1);
    set_worker_index(0);
    assert_eq!(pick(&l, PeerOutcome::Failed), "127.0.0.1:9001");
    // Worker 1 sees the failure: :9002 only.
    set_worker_index(1);
    assert_eq!(pick(&l, PeerOutcome::Ok), "127.0.0.1:9002");
    assert_eq!(pick(&l, PeerOutcome::Ok), "127.0.0.1:9002");
    set_worker_index(0);
    let all = l.upstreams[0].snapshot(Instant::now());
    assert_eq!(all.peers[0].status, PeerStatus::Unavailable);
    assert_eq!(all.peers[0].requests + all.peers[1].requests, 3);
}
