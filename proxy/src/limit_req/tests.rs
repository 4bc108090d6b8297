//! Unit tests of the limit_req state machine: one per rule of spec §1, times injected.

use super::*;

fn zone(rate: Rate) -> Arc<Zone> {
    Arc::new(Zone::new("one", 1 << 20, rate))
}

fn limit(z: &Arc<Zone>, burst: u32, delay: Delay) -> Limit {
    Limit {
        zone: z.clone(),
        burst,
        delay,
    }
}

fn status(l: &[Limit], key: &[u8], now: u64) -> Status {
    let keys = vec![key; l.len()];
    check(l, &keys, false, now).expect("applied").status
}

#[test]
fn burst_plus_one_back_to_back_nodelay() {
    let z = zone(Rate::per_second(10));
    let l = [limit(&z, 5, Delay::Never)];
    let got: Vec<Status> = (0..10).map(|_| status(&l, b"k", 1000)).collect();
    assert_eq!(got.iter().filter(|s| **s == Status::Passed).count(), 6);
    assert!(got[6..].iter().all(|s| *s == Status::Rejected));
    // excess: first 0, then +1000 each → 5000 stored
    assert_eq!(z.excess_of(b"k"), Some(5000));
}

#[test]
fn delay_mode_delays_by_excess_over_rate() {
    // burst=5 at 10 r/s, 10 at once: 1 passes, 5 delayed 100..500 ms, 4 rejected
    let z = zone(Rate::per_second(10));
    let l = [limit(&z, 5, Delay::After(0))];
    let d: Vec<Decision> = (0..10)
        .map(|_| check(&l, &[b"k"], false, 50).unwrap())
        .collect();
    assert_eq!(d[0].status, Status::Passed);
    for (i, x) in d[1..6].iter().enumerate() {
        assert_eq!(x.status, Status::Delayed);
        assert_eq!(x.delay, Duration::from_millis(100 * (i as u64 + 1)));
    }
    assert!(
        d[6..]
            .iter()
            .all(|x| x.status == Status::Rejected && x.delay.is_zero())
    );
    // the rejected one computed 5000 + 1000 (not stored)
    assert_eq!(
        d[6].log_line().unwrap(),
        "limiting requests, excess: 6.000 by zone \"one\""
    );
    assert_eq!(
        d[1].log_line().unwrap(),
        "delaying request, excess: 1.000, by zone \"one\""
    );
}

#[test]
fn delay_n_lets_first_n_excess_through() {
    // burst=10 delay=4, 14 at once: 5 pass, 6 delayed, 3 rejected
    let z = zone(Rate::per_second(10));
    let l = [limit(&z, 10, Delay::After(4))];
    let s: Vec<Status> = (0..14).map(|_| status(&l, b"k", 0)).collect();
    let count = |st| s.iter().filter(|x| **x == st).count();
    assert_eq!(
        (
            count(Status::Passed),
            count(Status::Delayed),
            count(Status::Rejected)
        ),
        (5, 6, 3)
    );
    assert!(s[..5].iter().all(|x| *x == Status::Passed));
}

#[test]
fn rejected_requests_are_not_charged() {
    // 1 r/s, no burst, every 300 ms: pass only ≥ 1000 ms after the last *accepted*
    let z = zone(Rate::per_second(1));
    let l = [limit(&z, 0, Delay::After(0))];
    let passed: Vec<u64> = (0..14u64)
        .map(|i| i * 300)
        .filter(|&t| status(&l, b"k", t) == Status::Passed)
        .collect();
    assert_eq!(passed, vec![0, 1200, 2400, 3600]);
}

#[test]
fn millisecond_granularity_and_integer_math() {
    // 3 r/s = 3000 m/s; 333 ms drains 999 → excess 1 after the second request
    let z = zone(Rate::per_second(3));
    let l = [limit(&z, 1, Delay::Never)];
    assert_eq!(status(&l, b"k", 0), Status::Passed);
    assert_eq!(status(&l, b"k", 333), Status::Passed);
    assert_eq!(z.excess_of(b"k"), Some(1));
    // 1r/m = 16 m/s: one request per 62.5 s
    let z = zone(Rate::per_minute(1));
    let l = [limit(&z, 0, Delay::After(0))];
    assert_eq!(status(&l, b"k", 0), Status::Passed);
    assert_eq!(status(&l, b"k", 62_000), Status::Rejected);
    assert_eq!(status(&l, b"k", 62_500), Status::Passed);
}

#[test]
fn time_going_backwards_is_clamped() {
    let z = zone(Rate::per_second(1));
    let l = [limit(&z, 2, Delay::Never)];
    assert_eq!(status(&l, b"k", 10_000), Status::Passed);
    assert_eq!(status(&l, b"k", 9_000), Status::Passed); // ms < 0 → 0: +1000
    assert_eq!(z.excess_of(b"k"), Some(1000));
}

#[test]
fn empty_key_is_not_accounted() {
    let z = zone(Rate::per_second(1));
    let l = [limit(&z, 0, Delay::Never)];
    assert_eq!(check(&l, &[b""], false, 0), None);
    assert!(z.is_empty());
    let long = vec![b'x'; MAX_KEY_LEN + 1];
    assert_eq!(check(&l, &[&long], false, 0), None);
}

#[test]
fn dry_run_statuses_and_state_evolves() {
    let z = zone(Rate::per_second(1));
    let l = [limit(&z, 1, Delay::After(0))];
    let s: Vec<Decision> = (0..3)
        .map(|_| check(&l, &[b"k"], true, 0).unwrap())
        .collect();
    assert_eq!(s[0].status, Status::Passed);
    assert_eq!(s[1].status, Status::DelayedDryRun);
    assert!(s[1].delay.is_zero());
    assert_eq!(s[2].status, Status::RejectedDryRun);
    assert!(!s[2].rejects());
    assert_eq!(z.excess_of(b"k"), Some(1000));
    assert_eq!(
        s[2].log_line().unwrap(),
        "limiting requests, dry run, excess: 2.000 by zone \"one\""
    );
    assert_eq!(Status::DelayedDryRun.as_str(), "DELAYED_DRY_RUN");
    assert_eq!(z.stats.rejected_dry_run.load(Ordering::Relaxed), 1);
}

#[test]
fn later_limit_rejecting_rolls_back_earlier_ones() {
    let a = Arc::new(Zone::new("a", 1 << 20, Rate::per_minute(1)));
    let b = Arc::new(Zone::new("b", 1 << 20, Rate::per_second(1)));
    let l = [limit(&a, 5, Delay::Never), limit(&b, 0, Delay::Never)];
    let keys: [&[u8]; 2] = [b"k", b"k"];
    assert_eq!(check(&l, &keys, false, 0).unwrap().status, Status::Passed);
    // b (burst 0) rejects the next ones; a must not be charged by them
    for _ in 0..3 {
        let d = check(&l, &keys, false, 10).unwrap();
        assert_eq!((d.status, d.zone.as_str()), (Status::Rejected, "b"));
    }
    assert_eq!(a.excess_of(b"k"), Some(0));
    // an accepted request charges both: a (16 m/s) 0 - 16*1500/1000 + 1000
    assert_eq!(
        check(&l, &keys, false, 1500).unwrap().status,
        Status::Passed
    );
    assert_eq!(a.excess_of(b"k"), Some(976));
    assert_eq!(b.excess_of(b"k"), Some(0));
}

#[test]
fn multiple_limits_delay_is_the_maximum() {
    let a = Arc::new(Zone::new("a", 1 << 20, Rate::per_second(2)));
    let b = Arc::new(Zone::new("b", 1 << 20, Rate::per_second(10)));
    let l = [
        limit(&a, 10, Delay::After(0)),
        limit(&b, 10, Delay::After(0)),
    ];
    let keys: [&[u8]; 2] = [b"x", b"y"];
    assert_eq!(check(&l, &keys, false, 0).unwrap().status, Status::Passed);
    let d = check(&l, &keys, false, 0).unwrap();
    // a: 1000 excess at 2 r/s → 500 ms; b: 1000 at 10 r/s → 100 ms
    assert_eq!(
        (d.status, d.delay, d.zone.as_str()),
        (Status::Delayed, Duration::from_millis(500), "a")
    );
    assert_eq!(
        d.log_line().unwrap(),
        "delaying request, excess: 1.000, by zone \"a\""
    );
}

#[test]
fn first_limit_key_empty_second_applies_and_vice_versa() {
    let a = Arc::new(Zone::new("a", 1 << 20, Rate::per_second(1)));
    let b = Arc::new(Zone::new("b", 1 << 20, Rate::per_second(1)));
    let l = [limit(&a, 0, Delay::Never), limit(&b, 0, Delay::Never)];
    assert_eq!(
        check(&l, &[b"", b"k"], false, 0).unwrap().status,
        Status::Passed
    );
    assert_eq!(
        check(&l, &[b"", b"k"], false, 0).unwrap().status,
        Status::Rejected
    );
    // last key empty: the earlier limit is still accounted (nginx's AGAIN path)
    assert_eq!(
        check(&l, &[b"q", b""], false, 0).unwrap().status,
        Status::Passed
    );
    let d = check(&l, &[b"q", b""], false, 0).unwrap();
    assert_eq!((d.status, d.zone.as_str()), (Status::Rejected, "a"));
}

#[test]
fn zone_capacity_lru_eviction_and_expiry() {
    // 32k holds 191 $binary_remote_addr (4-byte) states
    let z = Arc::new(Zone::new("small", 32 * 1024, Rate::per_second(1)));
    let l = [limit(&z, 0, Delay::Never)];
    for i in 0..191u32 {
        assert_eq!(status(&l, &i.to_be_bytes(), 0), Status::Passed);
    }
    assert_eq!(z.len(), 191);
    // key 0 is the LRU tail; touch it so key 1 becomes the tail
    assert_eq!(status(&l, &0u32.to_be_bytes(), 10), Status::Rejected);
    // a new key within 60 s: nothing stale → force-evict the tail (key 1)
    assert_eq!(status(&l, &1000u32.to_be_bytes(), 20), Status::Passed);
    assert_eq!(z.len(), 191);
    assert_eq!(z.excess_of(&1u32.to_be_bytes()), None);
    assert!(z.excess_of(&0u32.to_be_bytes()).is_some());
    // after 60 s idle and drained, a new key first expires up to two stale tail nodes
    assert_eq!(status(&l, &2000u32.to_be_bytes(), 70_000), Status::Passed);
    assert_eq!(z.len(), 190);
}

#[test]
fn bigger_key_than_evicted_slot_gets_zone_full() {
    let z = Arc::new(Zone::new("small", 32 * 1024, Rate::per_second(1)));
    let l = [limit(&z, 0, Delay::Never)];
    for i in 0..191u32 {
        status(&l, &i.to_be_bytes(), 0);
    }
    let big = vec![b'k'; 300];
    let d = check(&l, &[&big], false, 5).unwrap();
    assert_eq!((d.status, d.zone_full), (Status::Rejected, true));
    assert_eq!(
        d.log_line().unwrap(),
        "could not allocate node in limit_req zone \"small\""
    );
}

#[test]
fn ten_megabytes_hold_81375_ipv4_keys() {
    let z = Arc::new(Zone::new("ten", 10 << 20, Rate::per_second(1)));
    let l = [limit(&z, 0, Delay::Never)];
    for i in 0..81_376u32 {
        status(&l, &i.to_be_bytes(), 0);
    }
    // the 81,376th key evicted the oldest one
    assert_eq!(z.len(), 81_375);
    assert_eq!(z.excess_of(&0u32.to_be_bytes()), None);
    assert!(z.excess_of(&1u32.to_be_bytes()).is_some());
}

#[test]
fn pinned_nodes_are_not_evicted() {
    // while an earlier limit's node is pinned and is the LRU tail, the second limit on the
    // same small zone cannot force-evict it (nginx stops at a pinned tail)
    let z = Arc::new(Zone::new("small", 32 * 1024, Rate::per_second(1)));
    let l = [limit(&z, 0, Delay::Never)];
    for i in 0..191u32 {
        status(&l, &i.to_be_bytes(), 0);
    }
    let mut g = z.lock();
    let mut e = 0;
    // pin key 0 (the tail) as a non-final lookup would
    let r = z.lookup(
        &mut g,
        &0u32.to_be_bytes(),
        10_000,
        false,
        CLOCK_OFFSET_MS,
        &mut e,
    );
    assert!(matches!(r, zone::Lookup::Again(_)));
    drop(g);
    // key 0 moved to the head; the tail is key 1 (unpinned) → a new key evicts it
    assert_eq!(status(&l, &5000u32.to_be_bytes(), 1), Status::Passed);
    assert_eq!(z.excess_of(&1u32.to_be_bytes()), None);
}
