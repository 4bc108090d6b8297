//! Differential test of the balancers against real nginx 1.22: the same upstream blocks, the
//! same request keys / client addresses, the same sequence of chosen backends.
//!
//! One nginx runs three backends (each answers its letter) and a front with one location per
//! balancing method; our [`Upstream`] is built from the same `server` lines (same address
//! text, so consistent-hash rings are identical) and fed the same inputs.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxylab_proxy::balance::{
    Method, PeerAddr, PeerOutcome, RequestInput, ResolvedServer, ServerSpec, Upstream,
};
use proxylab_testkit::{Nginx, free_port};

const CONF: &str = r#"
    server { listen 127.0.0.1:{PORT2}; location / { return 200 "a"; } }
    server { listen 127.0.0.1:{PORT3}; location / { return 200 "b"; } }
    server { listen 127.0.0.1:PORTC; location / { return 200 "c"; } }
    upstream rr   { server 127.0.0.1:{PORT2} weight=5; server 127.0.0.1:{PORT3}; server 127.0.0.1:PORTC; }
    upstream rr32 { server 127.0.0.1:{PORT2} weight=3; server 127.0.0.1:{PORT3} weight=2; server 127.0.0.1:PORTC; }
    upstream h    { hash $arg_k; server 127.0.0.1:{PORT2}; server 127.0.0.1:{PORT3} weight=2; server 127.0.0.1:PORTC; }
    upstream ch   { hash $arg_k consistent; server 127.0.0.1:{PORT2}; server 127.0.0.1:{PORT3} weight=2; server 127.0.0.1:PORTC; }
    upstream iph  { ip_hash; server 127.0.0.1:{PORT2}; server 127.0.0.1:{PORT3}; server 127.0.0.1:PORTC weight=3; }
    server {
        listen 127.0.0.1:{PORT};
        location /rr/   { proxy_pass http://rr/; }
        location /rr32/ { proxy_pass http://rr32/; }
        location /h/    { proxy_pass http://h/; }
        location /ch/   { proxy_pass http://ch/; }
        location /iph/  { proxy_pass http://iph/; }
    }
"#;

/// GET `path` from `front` (optionally from source address `src`), returns the body.
fn get(front: SocketAddr, path: &str, src: Option<Ipv4Addr>) -> String {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(ip) = src {
        sock.bind(&SocketAddr::new(IpAddr::V4(ip), 0).into())
            .unwrap();
    }
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.connect_timeout(&front.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: std::net::TcpStream = sock.into();
    write!(s, "GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Our group for the same lines; peers are named after the backend letter by port order.
fn ours(method: Method, lines: &[(u16, &str)]) -> Arc<Upstream> {
    let servers = lines
        .iter()
        .map(|(port, params)| {
            let a = format!("127.0.0.1:{port}");
            let mut args = vec![a.as_str()];
            args.extend(params.split_whitespace());
            ResolvedServer {
                spec: ServerSpec::parse(&args, true).unwrap(),
                addrs: vec![PeerAddr::Inet(SocketAddr::from(([127, 0, 0, 1], *port)))],
            }
        })
        .collect();
    Arc::new(Upstream::new("u", method, servers, Instant::now()).unwrap())
}

fn pick(u: &Arc<Upstream>, input: RequestInput<'_>, letters: &[(u16, char)]) -> String {
    let now = Instant::now();
    let mut a = u.begin(input);
    let s = a.next_peer(now).unwrap();
    a.finish(PeerOutcome::Ok, now);
    let PeerAddr::Inet(sa) = s.addr else {
        panic!("inet")
    };
    letters
        .iter()
        .find(|(p, _)| *p == sa.port())
        .map(|(_, c)| c.to_string())
        .unwrap()
}

#[test]
fn balancers_choose_like_nginx() {
    let pc = free_port();
    let Some(ngx) = Nginx::start(&CONF.replace("PORTC", &pc.to_string())) else {
        return;
    };
    let [_, pa, pb] = ngx.ports();
    let front = ngx.addr();
    let letters = [(pa, 'a'), (pb, 'b'), (pc, 'c')];

    // smooth weighted round robin, sequential requests
    for (loc, w) in [
        ("rr", ["weight=5", "", ""]),
        ("rr32", ["weight=3", "weight=2", ""]),
    ] {
        let u = ours(Method::RoundRobin, &[(pa, w[0]), (pb, w[1]), (pc, w[2])]);
        let theirs: String = (0..21)
            .map(|_| get(front, &format!("/{loc}/"), None))
            .collect();
        let mine: String = (0..21)
            .map(|_| pick(&u, RequestInput::default(), &letters))
            .collect();
        assert_eq!(mine, theirs, "round robin {loc}");
        if loc == "rr" {
            assert_eq!(&theirs[..7], "aabacaa");
        }
    }

    // hash $arg_k and hash $arg_k consistent over 60 keys
    for (loc, consistent) in [("h", false), ("ch", true)] {
        let method = Method::Hash {
            key: "$arg_k".into(),
            consistent,
        };
        let u = ours(method, &[(pa, ""), (pb, "weight=2"), (pc, "")]);
        let keys: Vec<String> = (0..60)
            .map(|i| format!("user{i}x%2F{}", i * 7919))
            .collect();
        let theirs: Vec<String> = keys
            .iter()
            .map(|k| get(front, &format!("/{loc}/?k={k}"), None))
            .collect();
        let mine: Vec<String> = keys
            .iter()
            .map(|k| {
                pick(
                    &u,
                    RequestInput {
                        client_ip: None,
                        hash_key: k.as_bytes(),
                    },
                    &letters,
                )
            })
            .collect();
        assert_eq!(mine, theirs, "hash {loc}");
        assert!(
            theirs.iter().any(|x| x == "a") && theirs.iter().any(|x| x == "c"),
            "{theirs:?}"
        );
    }

    // ip_hash from 24 source addresses in 127/8 (first three octets matter)
    let u = ours(Method::IpHash, &[(pa, ""), (pb, ""), (pc, "weight=3")]);
    let mut theirs = Vec::new();
    let mut mine = Vec::new();
    for i in 0..24u8 {
        let ip = Ipv4Addr::new(
            127,
            i.wrapping_mul(37),
            i.wrapping_mul(11).wrapping_add(1),
            1 + i,
        );
        theirs.push(get(front, "/iph/", Some(ip)));
        let input = RequestInput {
            client_ip: Some(IpAddr::V4(ip)),
            hash_key: b"",
        };
        mine.push(pick(&u, input, &letters));
    }
    assert_eq!(mine, theirs, "ip_hash");
    assert!(theirs.iter().any(|x| x != &theirs[0]), "all {theirs:?}");
}

/// A backend that answers `letter` after holding each request for `hold` (a slow upstream,
/// to make requests overlap). Accepts until `until`.
fn slow_backend(letter: char, hold: Duration, until: Instant) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        while Instant::now() < until {
            match l.accept() {
                Ok((mut s, _)) => {
                    std::thread::spawn(move || {
                        s.set_nonblocking(false).ok();
                        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 1024];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        std::thread::sleep(hold); // the misbehaviour under test: slowness
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{letter}"
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
fn least_conn_chooses_like_nginx_with_overlapping_requests() {
    let until = Instant::now() + Duration::from_secs(30);
    let (pa, pb, pc) = (
        slow_backend('a', Duration::from_millis(1200), until),
        slow_backend('b', Duration::from_millis(1200), until),
        slow_backend('c', Duration::from_millis(1200), until),
    );
    let conf = format!(
        "upstream lc {{ least_conn; server 127.0.0.1:{pa} weight=2; server 127.0.0.1:{pb}; server 127.0.0.1:{pc}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ proxy_pass http://lc; }} }}"
    );
    let Some(ngx) = Nginx::start(&conf) else {
        return;
    };
    let front = ngx.addr();
    let letters = [(pa, 'a'), (pb, 'b'), (pc, 'c')];
    let u = ours(Method::LeastConn, &[(pa, "weight=2"), (pb, ""), (pc, "")]);
    // 7 overlapping requests, 60 ms apart (each held 1.2 s by the backend)
    let mut handles = Vec::new();
    let mut held = Vec::new();
    let mut mine = String::new();
    for _ in 0..7 {
        handles.push(std::thread::spawn(move || get(front, "/", None)));
        let mut a = u.begin(RequestInput::default());
        let s = a.next_peer(Instant::now()).unwrap();
        let PeerAddr::Inet(sa) = s.addr else { panic!() };
        mine.push(letters.iter().find(|(p, _)| *p == sa.port()).unwrap().1);
        held.push(a);
        std::thread::sleep(Duration::from_millis(60)); // pacing the overlap
    }
    let theirs: String = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(mine, theirs, "overlapping least_conn");
    drop(held);
    // then sequential (all idle: ties resolved by the WRR state carried over)
    let theirs: String = (0..8).map(|_| get(front, "/", None)).collect();
    let mine: String = (0..8)
        .map(|_| pick(&u, RequestInput::default(), &letters))
        .collect();
    assert_eq!(mine, theirs, "sequential least_conn");
}

#[test]
fn max_fails_timeline_matches_nginx() {
    use std::time::{SystemTime, UNIX_EPOCH};
    let until = Instant::now() + Duration::from_secs(30);
    let alive = slow_backend('a', Duration::ZERO, until);
    let dead = free_port(); // nothing listens: connection refused
    let conf = format!(
        "log_format ua '$upstream_addr';\naccess_log {{DIR}}/ua.log ua;\n\
         upstream ft {{ server 127.0.0.1:{dead} max_fails=2 fail_timeout=2s; server 127.0.0.1:{alive}; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ proxy_pass http://ft; }} }}"
    );
    let Some(ngx) = Nginx::start(&conf) else {
        return;
    };
    let front = ngx.addr();
    // align our group's second boundaries with nginx's wall-clock seconds
    let sub = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let epoch = Instant::now() - Duration::from_nanos(u64::from(sub));
    let servers = [(dead, "max_fails=2 fail_timeout=2s"), (alive, "")]
        .iter()
        .map(|(port, params)| {
            let a = format!("127.0.0.1:{port}");
            let mut args = vec![a.as_str()];
            args.extend(params.split_whitespace());
            ResolvedServer {
                spec: ServerSpec::parse(&args, true).unwrap(),
                addrs: vec![PeerAddr::Inet(SocketAddr::from(([127, 0, 0, 1], *port)))],
            }
        })
        .collect();
    let u = Arc::new(Upstream::new("ft", Method::RoundRobin, servers, epoch).unwrap());
    // requests at wall-second offsets .125/.375/.625/.875 for 7 s: never near a boundary
    let start = epoch + Duration::from_secs(1) + Duration::from_millis(125);
    let mut mine = Vec::new();
    for i in 0..28u64 {
        let at = start + Duration::from_millis(250 * i);
        std::thread::sleep(at.saturating_duration_since(Instant::now())); // pacing the schedule
        let now = Instant::now();
        assert_eq!(get(front, "/", None), "a");
        let mut a = u.begin(RequestInput::default());
        let mut tried = Vec::new();
        while let Ok(s) = a.next_peer(now) {
            tried.push(s.name.to_string());
            if s.name.ends_with(&format!(":{dead}")) {
                a.finish(PeerOutcome::Failed, now);
            } else {
                a.finish(PeerOutcome::Ok, now);
                break;
            }
        }
        mine.push(tried.join(", "));
    }
    let log = ngx.dir().join("ua.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let theirs: Vec<String> = loop {
        let lines: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if lines.len() >= mine.len() || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(mine, theirs);
    // the dead peer was probed more than once (fail_timeout expired) and skipped in between
    let probes = theirs
        .iter()
        .filter(|l| l.contains(&format!(":{dead}")))
        .count();
    assert!((3..20).contains(&probes), "{probes} probes: {theirs:?}");
}
