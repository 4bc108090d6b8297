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
//! The second test runs the same sequences through real nginx and through our proxy
//! (`proxylab proxy`, same config, `proxy_pass` to a local backend as the content handler)
//! and requires the same per-batch decisions, and delays of the same size for the DELAYED
//! requests (generous tolerance: the machine is shared).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxylab_proxy::limit_req::{Delay, Limit, Rate, Status, Zone, check};
use proxylab_testkit::Nginx;

mod common;

const CONF: &str = r#"
    log_format lr '$arg_k $arg_i $limit_req_status $status';
    access_log {DIR}/lr.log lr;
    limit_req_zone $arg_k zone=z10:1m rate=10r/s;
    limit_req_zone $arg_k zone=z5:1m rate=5r/s;
    limit_req_zone $arg_k zone=z2:1m rate=2r/s;
    limit_req_zone $arg_k zone=m30:1m rate=30r/m;
    limit_req_zone $arg_j zone=zj:1m rate=1r/s;
    server {
        listen 127.0.0.1:{PORT};
        location /nodelay { limit_req zone=z2 burst=5 nodelay; empty_gif; }
        location /delay   { limit_req zone=z2 burst=3; empty_gif; }
        location /delayn  { limit_req zone=z2 burst=6 delay=2; empty_gif; }
        location /noburst { limit_req zone=z2; empty_gif; }
        location /permin  { limit_req zone=m30 burst=1 nodelay; empty_gif; }
        location /two     { limit_req zone=z2 burst=3 nodelay; limit_req zone=zj burst=1 nodelay; empty_gif; }
        location /fast    { limit_req zone=z10 burst=4; empty_gif; }
        location /dry     { limit_req zone=z2 burst=1; limit_req_dry_run on; empty_gif; }
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
        Arc::new(Zone::new("zj", 1 << 20, Rate::per_second(1))),
    ]
}

fn sequences() -> Vec<Sequence> {
    // Offsets keep every decision ≥ 100 ms (most ≥ 200 ms) away from a boundary, so that
    // the scheduling lag of a loaded machine cannot flip a decision.
    let seq = |location, batches: Vec<(u64, usize)>, limits, dry_run| Sequence {
        location,
        batches,
        limits,
        dry_run,
    };
    vec![
        // 2 r/s burst 5 nodelay: 6 of 8 pass; +1250 ms: 2 of 4; +1500 ms: 3 of 3
        seq(
            "nodelay",
            vec![(0, 8), (1250, 4), (2750, 3)],
            vec![(2, 5, Delay::Never, 'k')],
            false,
        ),
        // 2 r/s burst 3: 1 passes, 3 delayed, 2 rejected; then 2 delayed + 1 rejected; then
        // drained: 1 passes, 1 delayed
        seq(
            "delay",
            vec![(0, 6), (1250, 3), (3250, 2)],
            vec![(2, 3, Delay::After(0), 'k')],
            false,
        ),
        // 2 r/s burst 6 delay=2: 3 pass, 4 delayed, 2 rejected; then 2 delayed, 2 rejected
        seq(
            "delayn",
            vec![(0, 9), (1250, 4)],
            vec![(2, 6, Delay::After(2), 'k')],
            false,
        ),
        // 2 r/s, no burst, one request every 350 ms: every other one passes (≥ 500 ms after
        // the last *accepted* one)
        seq(
            "noburst",
            (0..10).map(|i| (i * 350, 1)).collect(),
            vec![(2, 0, Delay::After(0), 'k')],
            false,
        ),
        // 30 r/m = 500 m/s, burst 1 nodelay
        seq(
            "permin",
            vec![(0, 3), (1000, 2), (2400, 2)],
            vec![(3, 1, Delay::Never, 'k')],
            false,
        ),
        // two limits; the second (1 r/s, burst 1) rejects first: the first must not be charged
        seq(
            "two",
            vec![(0, 4), (300, 3), (1300, 3), (2800, 4)],
            vec![(2, 3, Delay::Never, 'k'), (4, 1, Delay::Never, 'j')],
            false,
        ),
        // 10 r/s burst 4, a single burst (no timing dependence): 1 pass, 4 delayed, 3 rejected
        seq(
            "fast",
            vec![(0, 8)],
            vec![(0, 4, Delay::After(0), 'k')],
            false,
        ),
        seq(
            "dry",
            vec![(0, 4), (1250, 2)],
            vec![(2, 1, Delay::After(0), 'k')],
            true,
        ),
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

/// Sends one sequence; returns per request (batch, measured send offset in ms, HTTP status,
/// latency in ms, request index).
fn run(addr: SocketAddr, seq: &Sequence, key: &str) -> Vec<(usize, u64, u16, u64, usize)> {
    let t0 = Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    let mut idx = 0;
    for (b, &(off, n)) in seq.batches.iter().enumerate() {
        let at = t0 + Duration::from_millis(off);
        let wait = at.saturating_duration_since(Instant::now());
        std::thread::sleep(wait); // pacing a planned schedule, not waiting for readiness
        for _ in 0..n {
            let path = format!("/{}?k={key}&j={key}j&i={idx}", seq.location);
            let i = idx;
            idx += 1;
            let start = Instant::now();
            let sent = start.saturating_duration_since(t0).as_millis() as u64;
            handles.push(std::thread::spawn(move || {
                let code = send(addr, &path);
                (b, sent, code, start.elapsed().as_millis() as u64, i)
            }));
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

/// One request's record: (batch, send offset ms, HTTP status, latency ms, $limit_req_status).
type Rec = (usize, u64, u16, u64, String);

/// Sends `seq` to `addr` and reads the decisions from the access log at `log`.
fn record(addr: SocketAddr, log: &std::path::Path, seq: &Sequence, key: &str) -> Vec<Rec> {
    let sends = run(addr, seq, key);
    let deadline = Instant::now() + Duration::from_secs(10);
    let logged: BTreeMap<usize, String> = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: BTreeMap<usize, String> = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                if f.len() == 4 && f[0] == key {
                    Some((f[1].parse().ok()?, f[2].to_string()))
                } else {
                    None
                }
            })
            .collect();
        if lines.len() >= sends.len() || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        logged.len(),
        sends.len(),
        "{}: access log lines",
        seq.location
    );
    sends
        .iter()
        .map(|&(b, sent, code, lat, idx)| (b, sent, code, lat, logged[&idx].clone()))
        .collect()
}

fn tally_of(recs: &[Rec]) -> BTreeMap<(usize, String), usize> {
    tally(recs.iter().map(|r| (r.0, r.4.clone())))
}

#[test]
fn limit_req_decisions_match_nginx() {
    let Some(ngx) = Nginx::start(CONF) else {
        return;
    };
    let zones = zones();
    let log = ngx.dir().join("lr.log");
    let mut total = 0;
    for (si, seq) in sequences().iter().enumerate() {
        let key = format!("s{si}");
        let recs = record(ngx.addr(), &log, seq, &key);
        total += recs.len();
        let sends: Vec<(usize, u64, u16)> = recs.iter().map(|r| (r.0, r.1, r.2)).collect();
        let mine = ours(seq, &zones, &key, &sends);
        let our_tally = tally(
            recs.iter()
                .zip(&mine)
                .map(|(r, st)| (r.0, st.as_str().to_string())),
        );
        assert_eq!(
            our_tally,
            tally_of(&recs),
            "{}: sends {sends:?}",
            seq.location
        );
        // HTTP status agrees with the decision: 503 exactly for REJECTED
        let rejected = mine.iter().filter(|s| **s == Status::Rejected).count();
        assert_eq!(
            recs.iter().filter(|r| r.2 == 503).count(),
            rejected,
            "{}",
            seq.location
        );
    }
    assert!(total > 50);
}

/// Answers every request with a small 200 (the content handler behind both proxies).
fn backend(until: Instant) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        while Instant::now() < until {
            match l.accept() {
                Ok((mut s, _)) => {
                    std::thread::spawn(move || {
                        s.set_nonblocking(false).ok();
                        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 2048];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let _ = s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)), // bounded accept poll
            }
        }
    });
    port
}

#[test]
fn our_proxy_limits_like_nginx() {
    let until = Instant::now() + Duration::from_secs(120);
    let be = backend(until);
    let body = CONF.replace("empty_gif;", &format!("proxy_pass http://127.0.0.1:{be};"));
    let conf = common::conf(&body);
    let Some(ngx) = Nginx::start_full(&conf) else {
        return;
    };
    let ours = common::Ours::start_full(&conf);
    for (si, seq) in sequences().iter().enumerate() {
        let key = format!("p{si}");
        let theirs = record(ngx.addr(), &ngx.dir().join("lr.log"), seq, &key);
        let mine = record(ours.addr(), &ours.dir().join("lr.log"), seq, &key);
        assert_eq!(
            tally_of(&mine),
            tally_of(&theirs),
            "{}: nginx {theirs:?}\nours {mine:?}",
            seq.location
        );
        for (r, label) in [(&theirs, "nginx"), (&mine, "ours")] {
            for x in r.iter() {
                assert_eq!(
                    x.2 == 503,
                    x.4 == "REJECTED",
                    "{label} {}: {x:?}",
                    seq.location
                );
            }
        }
        // delayed requests really wait, as long as nginx's do (per batch, sorted)
        for b in 0..seq.batches.len() {
            let delays = |r: &[Rec]| {
                let mut v: Vec<u64> = r
                    .iter()
                    .filter(|x| x.0 == b && x.4 == "DELAYED")
                    .map(|x| x.3)
                    .collect();
                v.sort_unstable();
                v
            };
            for (t, m) in delays(&theirs).iter().zip(delays(&mine)) {
                assert!(
                    t.abs_diff(m) <= 250,
                    "{} batch {b}: delay nginx {t} ms vs ours {m} ms",
                    seq.location
                );
            }
        }
    }
}
