//! Differential test of the limit_req algorithm against real nginx 1.22.
//!
//! nginx runs `limit_req` in front of `empty_gif` (a content handler: `return` would bypass
//! PREACCESS) and logs `$limit_req_status` for every request. We send timed request
//! sequences (batches of simultaneous requests at planned offsets; each request on its own
//! connection so that delayed ones do not block the rest), then feed our [`check`] the same
//! sequence with the *measured* send times and require the same PASSED / DELAYED / REJECTED
//! counts in every batch. Batches are planned ≥ 40 ms away from any decision boundary, so
//! the comparison is insensitive to a few milliseconds of clock skew between nginx's cached
//! clock and ours. (Counts per batch rather than per request: within one batch nginx may
//! accept the simultaneous connections in any order.)
//!
//! The same harness will drive our proxy once it runs `limit_req` (issue 5's differential
//! test): only the target address changes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxylab_proxy::limit_req::{Delay, Limit, Rate, Status, Zone, check};
use proxylab_testkit::Nginx;

const CONF: &str = r#"
    log_format lr '$arg_k $arg_i $limit_req_status $status';
    access_log {DIR}/lr.log lr;
    limit_req_zone $arg_k zone=z10:1m rate=10r/s;
    limit_req_zone $arg_k zone=z5:1m rate=5r/s;
    limit_req_zone $arg_k zone=z2:1m rate=2r/s;
    limit_req_zone $arg_k zone=m30:1m rate=30r/m;
    limit_req_zone $arg_j zone=zj:1m rate=4r/s;
    server {
        listen 127.0.0.1:{PORT};
        location /nodelay { limit_req zone=z10 burst=5 nodelay; empty_gif; }
        location /delay   { limit_req zone=z5 burst=3; empty_gif; }
        location /delayn  { limit_req zone=z10 burst=6 delay=2; empty_gif; }
        location /noburst { limit_req zone=z2; empty_gif; }
        location /permin  { limit_req zone=m30 burst=1 nodelay; empty_gif; }
        location /two     { limit_req zone=z2 burst=3 nodelay; limit_req zone=zj burst=1 nodelay; empty_gif; }
        location /dry     { limit_req zone=z5 burst=1; limit_req_dry_run on; empty_gif; }
    }
"#;

/// One sequence: a location, its limits (our side), and batches `(offset ms, count)`.
struct Sequence {
    location: &'static str,
    batches: Vec<(u64, usize)>,
    /// (zone index into `zones`, burst, delay, key source: 'k' or 'j')
    limits: Vec<(usize, u32, Delay, char)>,
    dry_run: bool,
}

fn zones() -> Vec<Arc<Zone>> {
    vec![
        Arc::new(Zone::new("z10", 1 << 20, Rate::per_second(10))),
        Arc::new(Zone::new("z5", 1 << 20, Rate::per_second(5))),
        Arc::new(Zone::new("z2", 1 << 20, Rate::per_second(2))),
        Arc::new(Zone::new("m30", 1 << 20, Rate::per_minute(30))),
        Arc::new(Zone::new("zj", 1 << 20, Rate::per_second(4))),
    ]
}

fn sequences() -> Vec<Sequence> {
    vec![
        // 10 r/s burst 5 nodelay: 6 of 10 pass; +250 ms refills 2.5 → 2 of 5; +700 ms: 4 of 4
        Sequence {
            location: "nodelay",
            batches: vec![(0, 10), (250, 5), (950, 4)],
            limits: vec![(0, 5, Delay::Never, 'k')],
            dry_run: false,
        },
        // 5 r/s burst 3 (delay): 1 pass, 3 delayed, 2 rejected; then at 550 ms more
        Sequence {
            location: "delay",
            batches: vec![(0, 6), (550, 3), (1450, 2)],
            limits: vec![(1, 3, Delay::Never, 'k')]
                .into_iter()
                .map(|(z, b, _, k)| (z, b, Delay::After(0), k))
                .collect(),
            dry_run: false,
        },
        // 10 r/s burst 6 delay=2: 3 pass, 4 delayed, 2 rejected
        Sequence {
            location: "delayn",
            batches: vec![(0, 9), (450, 4)],
            limits: vec![(0, 6, Delay::After(2), 'k')],
            dry_run: false,
        },
        // 2 r/s, no burst: one request every 150 ms; passes ≥ 500 ms after the last accepted
        Sequence {
            location: "noburst",
            batches: (0..12).map(|i| (i * 150 + 20, 1)).collect(),
            limits: vec![(2, 0, Delay::After(0), 'k')],
            dry_run: false,
        },
        // 30 r/m = 500 m/s, burst 1 nodelay
        Sequence {
            location: "permin",
            batches: vec![(0, 3), (1000, 2), (2100, 2)],
            limits: vec![(3, 1, Delay::Never, 'k')],
            dry_run: false,
        },
        // two limits, the second (zj) rejects first: z2 must not be charged by rejections
        Sequence {
            location: "two",
            batches: vec![(0, 4), (300, 3), (560, 3), (1100, 4)],
            limits: vec![(2, 3, Delay::Never, 'k'), (4, 1, Delay::Never, 'j')],
            dry_run: false,
        },
        Sequence {
            location: "dry",
            batches: vec![(0, 4), (250, 2)],
            limits: vec![(1, 1, Delay::After(0), 'k')],
            dry_run: true,
        },
    ]
}

fn send(addr: SocketAddr, path: &str) -> u16 {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").expect("write");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let head = String::from_utf8_lossy(&resp[..resp.len().min(12)]).to_string();
    head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Sends one sequence; returns per request (batch, measured send offset in ms, HTTP status).
fn run(addr: SocketAddr, seq: &Sequence, key: &str) -> Vec<(usize, u64, u16)> {
    let t0 = Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    let mut idx = 0;
    for (b, &(off, n)) in seq.batches.iter().enumerate() {
        let at = t0 + Duration::from_millis(off);
        let wait = at.saturating_duration_since(Instant::now());
        std::thread::sleep(wait); // pacing a planned schedule, not waiting for readiness
        for _ in 0..n {
            let path = format!("/{}?k={key}&j={key}j&i={idx}", seq.location);
            idx += 1;
            let sent = Instant::now().saturating_duration_since(t0).as_millis() as u64;
            handles.push(std::thread::spawn(move || (b, sent, send(addr, &path))));
        }
    }
    handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect()
}

fn ours(
    seq: &Sequence,
    zones: &[Arc<Zone>],
    key: &str,
    sends: &[(usize, u64, u16)],
) -> Vec<Status> {
    let limits: Vec<Limit> = seq
        .limits
        .iter()
        .map(|&(z, burst, delay, _)| Limit {
            zone: zones[z].clone(),
            burst,
            delay,
        })
        .collect();
    let kj = format!("{key}j");
    let keys: Vec<&[u8]> = seq
        .limits
        .iter()
        .map(|&(_, _, _, src)| {
            if src == 'k' {
                key.as_bytes()
            } else {
                kj.as_bytes()
            }
        })
        .collect();
    // base far from zero, as a monotonic clock would be
    sends
        .iter()
        .map(|&(_, t, _)| {
            check(&limits, &keys, seq.dry_run, 1_000_000 + t)
                .expect("applied")
                .status
        })
        .collect()
}

fn tally(statuses: impl Iterator<Item = (usize, String)>) -> BTreeMap<(usize, String), usize> {
    let mut m = BTreeMap::new();
    for k in statuses {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[test]
fn limit_req_decisions_match_nginx() {
    let Some(ngx) = Nginx::start(CONF) else {
        return;
    };
    let addr = ngx.addr();
    let zones = zones();
    let log = ngx.dir().join("lr.log");
    let mut total = 0;
    for (si, seq) in sequences().iter().enumerate() {
        let key = format!("s{si}");
        let sends = run(addr, seq, &key);
        total += sends.len();
        // nginx's decisions from the access log ($limit_req_status per request index)
        let deadline = Instant::now() + Duration::from_secs(10);
        let theirs: Vec<(String, String)> = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<(String, String)> = text
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    (f.len() == 4 && f[0] == key).then(|| (f[1].to_string(), f[2].to_string()))
                })
                .collect();
            if lines.len() >= sends.len() || Instant::now() > deadline {
                break lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            theirs.len(),
            sends.len(),
            "{}: access log lines",
            seq.location
        );
        // map request index → batch
        let mut batch_of = Vec::new();
        for (b, &(_, n)) in seq.batches.iter().enumerate() {
            batch_of.extend(std::iter::repeat_n(b, n));
        }
        let nginx_tally = tally(theirs.iter().map(|(i, st)| {
            let i: usize = i.parse().expect("index");
            (batch_of[i], st.clone())
        }));
        let mine = ours(seq, &zones, &key, &sends);
        let our_tally = tally(
            sends
                .iter()
                .zip(&mine)
                .map(|(s, st)| (s.0, st.as_str().to_string())),
        );
        assert_eq!(our_tally, nginx_tally, "{}: sends {sends:?}", seq.location);
        // HTTP status agrees with the decision: 503 exactly for REJECTED
        let rejected = mine.iter().filter(|s| **s == Status::Rejected).count();
        assert_eq!(
            sends.iter().filter(|s| s.2 == 503).count(),
            rejected,
            "{}",
            seq.location
        );
    }
    assert!(total > 50);
}
