//! Bounded memory under attack: many idle connections, slowloris heads grown to the largest
//! size nginx's buffers allow, slow POST bodies and slow readers of a large file, each opened
//! against ours and against nginx with the same config. The RSS growth per attacking
//! connection is printed side by side and ours must stay under a stated bound (docs/
//! hardening.md). Measured on a shared machine: the numbers are orders of magnitude.
//!
//! `cargo test` opens [`CONNS`] connections per attack and samples until the RSS settles
//! (a few seconds in all); the long run of docs/hardening.md sets `PROXYLAB_MEMORY_CONNS=500`
//! and samples for [`SETTLE_MAX`].

mod common;

use common::{Ours, conf};
use proxylab_testkit::Nginx;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Attacking connections per attack in `cargo test` (`PROXYLAB_MEMORY_CONNS` overrides).
const CONNS: usize = 50;
/// The RSS has settled when its peak has not grown for this long.
const SETTLE: Duration = Duration::from_millis(400);
/// The longest sampling of one attack (the long run always samples this long).
const SETTLE_MAX: Duration = Duration::from_secs(2);

fn conns() -> usize {
    std::env::var("PROXYLAB_MEMORY_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONNS)
}

/// `pid` and its children (nginx's workers), found once: the tree does not change while an
/// attack is measured.
fn tree(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|x| x.1.split(' ').nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            pids.push(p);
        }
    }
    pids
}

/// RSS in KiB of `pids`, summed.
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|p| {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// One kind of attacking connection: what it sends after connecting (and keeps open).
#[derive(Clone, Copy)]
enum Attack {
    Idle,
    LargeHead,
    SlowBody,
    SlowReader,
}

impl Attack {
    fn name(self) -> &'static str {
        match self {
            Attack::Idle => "idle connection",
            Attack::LargeHead => "slowloris, 32 KiB head",
            Attack::SlowBody => "slow POST body",
            Attack::SlowReader => "slow reader, 4 MiB file",
        }
    }

    /// The bound ours must hold, in KiB per connection.
    fn bound_kib(self) -> u64 {
        match self {
            Attack::Idle => 32,
            Attack::LargeHead => 96,
            Attack::SlowBody => 96,
            Attack::SlowReader => 512,
        }
    }

    fn open(self, addr: SocketAddr) -> Option<TcpStream> {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        if matches!(self, Attack::SlowReader) {
            let _ = s.set_recv_buffer_size(4096);
        }
        s.connect_timeout(&addr.into(), Duration::from_secs(5))
            .ok()?;
        let mut s: TcpStream = s.into();
        let head: Vec<u8> = match self {
            Attack::Idle => Vec::new(),
            Attack::LargeHead => {
                let mut h = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
                for i in 0..4 {
                    h.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(7000)).as_bytes());
                }
                h
            }
            Attack::SlowBody => {
                b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nabc".to_vec()
            }
            Attack::SlowReader => b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        };
        s.write_all(&head).ok()?;
        Some(s)
    }
}

/// Opens `n` attacking connections, lets the server take them in (until its RSS settles),
/// and returns the RSS growth per connection in KiB.
fn per_conn(addr: SocketAddr, pid: u32, a: Attack, n: usize) -> f64 {
    let pids = tree(pid);
    let before = rss_kib(&pids);
    let conns: Vec<TcpStream> = (0..n).filter_map(|_| a.open(addr)).collect();
    assert!(
        conns.len() >= n * 9 / 10,
        "{}: could not open the connections",
        a.name()
    );
    let long = n != CONNS;
    let (start, mut grew, mut peak) = (Instant::now(), Instant::now(), before);
    while start.elapsed() < SETTLE_MAX && (long || grew.elapsed() < SETTLE) {
        std::thread::sleep(Duration::from_millis(50));
        let now = rss_kib(&pids);
        if now > peak {
            (peak, grew) = (now, Instant::now());
        }
    }
    drop(conns);
    peak.saturating_sub(before) as f64 / n as f64
}

#[test]
fn memory_per_attacking_connection_is_bounded() {
    let www = tempfile::tempdir().expect("www");
    std::fs::write(www.path().join("big.bin"), vec![b'x'; 4 << 20]).expect("big file");
    let body = format!(
        "client_header_timeout 60s; client_body_timeout 60s; send_timeout 60s; keepalive_timeout 60s;\n\
         server {{ listen 127.0.0.1:{{PORT}}; root {};\n\
           location /p {{ proxy_pass http://127.0.0.1:9; }} }}",
        www.path().display()
    );
    let mut failures = Vec::new();
    let n = conns();
    println!(
        "{:<26} {:>12} {:>12}   KiB per connection ({n} connections)",
        "attack", "nginx", "ours"
    );
    let attacks = [
        Attack::Idle,
        Attack::LargeHead,
        Attack::SlowBody,
        Attack::SlowReader,
    ];
    // Fresh processes per attack (memory freed by one attack is kept by the allocator and
    // would hide the next one's growth), all started at once: the starts are most of the
    // test's time on a loaded machine.
    let c = conf(&body);
    let servers: Vec<(Option<Nginx>, Ours)> = std::thread::scope(|sc| {
        let handles: Vec<_> = attacks
            .iter()
            .map(|_| sc.spawn(|| (Nginx::start_full(&c), Ours::start_full(&c))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start"))
            .collect()
    });
    for (a, (nginx, ours)) in attacks.into_iter().zip(servers) {
        let Some(nginx) = nginx else {
            return;
        };
        let ng = per_conn(nginx.addr(), nginx.proc().pid(), a, n);
        let o = per_conn(ours.addr(), ours.proc.pid(), a, n);
        println!(
            "{:<26} {ng:>12.1} {o:>12.1}   (bound for ours: {})",
            a.name(),
            a.bound_kib()
        );
        if o > a.bound_kib() as f64 {
            failures.push(format!("{}: {o:.1} KiB per connection", a.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
