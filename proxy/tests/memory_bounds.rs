//! Bounded memory under attack: many idle connections, slowloris heads grown to the largest
//! size nginx's buffers allow, slow POST bodies and slow readers of a large file, each opened
//! against ours and against nginx with the same config. The RSS growth per attacking
//! connection is printed side by side and ours must stay under a stated bound (docs/
//! hardening.md). Measured on a shared machine: the numbers are orders of magnitude.

mod common;

use common::{Ours, conf};
use proxylab_testkit::Nginx;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CONNS: usize = 100;

/// RSS in KiB of `pid` and its children (nginx's workers).
fn rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|x| x.1.split(' ').nth(1)?.parse::<u32>().ok());
        if p != pid && ppid != Some(pid) {
            continue;
        }
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
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

/// Opens `CONNS` attacking connections, lets the server take them in, and returns the RSS
/// growth per connection in KiB.
fn per_conn(addr: SocketAddr, pid: u32, a: Attack) -> f64 {
    let before = rss_kib(pid);
    let conns: Vec<TcpStream> = (0..CONNS).filter_map(|_| a.open(addr)).collect();
    assert!(
        conns.len() >= CONNS * 9 / 10,
        "{}: could not open the connections",
        a.name()
    );
    let mut peak = before;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200));
        peak = peak.max(rss_kib(pid));
    }
    drop(conns);
    peak.saturating_sub(before) as f64 / CONNS as f64
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
    println!(
        "{:<26} {:>12} {:>12}   KiB per connection ({CONNS} connections)",
        "attack", "nginx", "ours"
    );
    for a in [
        Attack::Idle,
        Attack::LargeHead,
        Attack::SlowBody,
        Attack::SlowReader,
    ] {
        // Fresh processes per attack: memory freed by one attack is kept by the allocator and
        // would hide the next one's growth.
        let Some(nginx) = Nginx::start_full(&conf(&body)) else {
            return;
        };
        let ours = Ours::start_full(&conf(&body));
        let n = per_conn(nginx.addr(), nginx.proc().pid(), a);
        let o = per_conn(ours.addr(), ours.proc.pid(), a);
        println!(
            "{:<26} {n:>12.1} {o:>12.1}   (bound for ours: {})",
            a.name(),
            a.bound_kib()
        );
        if o > a.bound_kib() as f64 {
            failures.push(format!("{}: {o:.1} KiB per connection", a.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
