//! Unit tests of ip_hash, hash, consistent hash and random: formulas and distributions.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use super::super::*;
use super::{group, letter, one, seq};

#[test]
fn ip_hash_same_24_same_peer_and_matches_formula() {
    let t0 = Instant::now();
    let u = group(Method::IpHash, &["", "", ""], t0);
    let ip = |a, b, c, d| RequestInput {
        client_ip: Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
        hash_key: b"",
    };
    let p1 = one(&u, ip(10, 1, 2, 3), t0);
    for d in [4, 100, 255] {
        assert_eq!(one(&u, ip(10, 1, 2, d), t0), p1);
    }
    // formula: h=89; h=(h*113+b)%6271 for 10,1,2; h % 3
    let mut h: u64 = 89;
    for b in [10u64, 1, 2] {
        h = (h * 113 + b) % 6271;
    }
    assert_eq!(p1, (b'a' + (h % 3) as u8) as char);
    // distribution over many /24s roughly even
    let mut counts = [0; 3];
    for x in 0..=255u8 {
        for y in 0..8u8 {
            counts[(one(&u, ip(10, y, x, 1), t0) as u8 - b'a') as usize] += 1;
        }
    }
    assert!(counts.iter().all(|&c| c > 500), "{counts:?}");
}

#[test]
fn ip_hash_rehashes_past_failed_peer() {
    let t0 = Instant::now();
    let u = group(Method::IpHash, &["", "", ""], t0);
    let input = RequestInput {
        client_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 168, 7, 9))),
        hash_key: b"",
    };
    let mut a = u.begin(input);
    let first = letter(&a.next_peer(t0).unwrap());
    a.finish(PeerOutcome::Failed, t0);
    let second = letter(&a.next_peer(t0).unwrap());
    assert_ne!(first, second);
    // the formula continues from the stored hash
    let mut h: u64 = 89;
    let mut picks = Vec::new();
    for _ in 0..2 {
        for b in [192u64, 168, 7] {
            h = (h * 113 + b) % 6271;
        }
        picks.push((b'a' + (h % 3) as u8) as char);
    }
    assert_eq!(first, picks[0]);
    if picks[1] != picks[0] {
        assert_eq!(second, picks[1]);
    }
}

#[test]
fn crc32_known_values() {
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414f_a339
    );
}

#[test]
fn plain_hash_matches_formula() {
    let t0 = Instant::now();
    let u = group(
        Method::Hash {
            key: "$arg_k".into(),
            consistent: false,
        },
        &["", "weight=2", ""],
        t0,
    );
    for k in ["a", "b", "user42", "/x/y?z"] {
        let expect = ((crc32(k.as_bytes()) >> 16) & 0x7fff) % 4;
        let expect = match expect {
            0 => 'a',
            1 | 2 => 'b',
            _ => 'c',
        };
        let got = one(
            &u,
            RequestInput {
                client_ip: None,
                hash_key: k.as_bytes(),
            },
            t0,
        );
        assert_eq!(got, expect, "key {k}");
    }
    // empty key → round robin (weights 1,2,1: b a c b)
    assert_eq!(seq(&u, 4, t0), "bacb");
}

#[test]
fn consistent_hash_ring_and_stability() {
    let t0 = Instant::now();
    let lines = ["", "", "", ""];
    let u = group(
        Method::Hash {
            key: "$arg_k".into(),
            consistent: true,
        },
        &lines,
        t0,
    );
    let keys: Vec<String> = (0..2000).map(|i| format!("key-{i}")).collect();
    let before: Vec<char> = keys
        .iter()
        .map(|k| {
            one(
                &u,
                RequestInput {
                    client_ip: None,
                    hash_key: k.as_bytes(),
                },
                t0,
            )
        })
        .collect();
    let mut counts = [0; 4];
    for c in &before {
        counts[(*c as u8 - b'a') as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c > 300), "{counts:?}");
    // removing d (as config) only moves d's keys
    let u3 = group(
        Method::Hash {
            key: "$arg_k".into(),
            consistent: true,
        },
        &lines[..3],
        t0,
    );
    for (k, b) in keys.iter().zip(&before) {
        let a = one(
            &u3,
            RequestInput {
                client_ip: None,
                hash_key: k.as_bytes(),
            },
            t0,
        );
        if *b != 'd' {
            assert_eq!(a, *b, "key {k} moved");
        }
    }
}

#[test]
fn consistent_hash_point_formula() {
    // one weight-1 server per ring: 160 points, the first = crc32(host \0 port LE32(0)),
    // the next chained on the previous point
    let t0 = Instant::now();
    let u = group(
        Method::Hash {
            key: "$arg_k".into(),
            consistent: true,
        },
        &["", ""],
        t0,
    );
    let point = |prev: u32| {
        let mut d = b"127.0.0.1\x009001".to_vec();
        d.extend_from_slice(&prev.to_le_bytes());
        crc32(&d)
    };
    let p0 = point(0);
    let p1 = point(p0);
    // a key's crc32 just at/below a's points lands on a; search keys whose crc32 falls in
    // (p - 2^20, p] for a's first two points, and check they map to a (no b point between,
    // unless b happens to own a closer point: then that b point is the successor).
    let ring = ConsistentHash::new(&u.lock().primary);
    assert_eq!(ring.len(), 320);
    for p in [p0, p1] {
        let mut found = 0;
        for i in 0..200_000u32 {
            let k = format!("k{i}");
            let c = crc32(k.as_bytes());
            if c <= p && p - c < (1 << 22) {
                let got = one(
                    &u,
                    RequestInput {
                        client_ip: None,
                        hash_key: k.as_bytes(),
                    },
                    t0,
                );
                let successor_is_a = ring.successor_server(c).as_ref() == "127.0.0.1:9001";
                assert_eq!(got == 'a', successor_is_a, "key {k}");
                found += 1;
            }
        }
        assert!(found > 0);
    }
}

#[test]
fn random_distribution_and_two() {
    let t0 = Instant::now();
    let u = Arc::new(
        Arc::try_unwrap(group(Method::Random { two: false }, &["weight=3", ""], t0))
            .unwrap()
            .with_seed(7),
    );
    let s = seq(&u, 4000, t0);
    let a = s.chars().filter(|&c| c == 'a').count();
    assert!((2700..3300).contains(&a), "a picked {a}/4000");
    // two: with a loaded, the idle b wins whenever both are drawn
    let u = group(Method::Random { two: true }, &["", ""], t0);
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut h = u.begin(RequestInput::default());
        let s = h.next_peer(t0).unwrap();
        busy.push((letter(&s), h));
    }
    // with two peers both draws are always the two peers: the first request ties (0/0) and
    // goes to the second draw; the second must go to the idle peer; the third ties again
    assert_ne!(
        busy[0].0, busy[1].0,
        "second request must pick the idle peer"
    );
}
