//! The timeouts that end slow and idle attackers, ours beside real nginx with the same
//! config (`client_header_timeout 1s`, `client_body_timeout 1s`, `send_timeout 1s`,
//! `keepalive_timeout 3s`): over HTTP/1.1 an idle connection, a head never finished, a body
//! never finished, an idle keep-alive connection and a reader that never reads; over HTTP/2
//! (h2c) a connection that never sends the whole preface (nothing, part of it, or an HTTP/1.1
//! request instead), one that opens no stream (silent, sending PINGs, or stopped inside a
//! frame), one idle after its request, and one that never reads a large response. For each, when the
//! server closed (bucketed by the timeout that explains it), the GOAWAY it sent, and whether a
//! non-reader got its whole response must be the same for both.

mod proxies;

use proxylab_loadgen::transport::h2raw::{self, END_HEADERS, END_STREAM, kind};
use proxylab_testkit::Nginx;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The size of the file the non-readers ask for.
const BIG: usize = 8 << 20;
/// How long a case waits for the server to close.
const WAIT: Duration = Duration::from_secs(6);

fn conf(root: &std::path::Path) -> String {
    let user = if proxies::proc_uid() == 0 {
        "user root;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes 1;\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {{DIR}}/cb;\n  proxy_temp_path {{DIR}}/pt;\n  \
         client_header_timeout 1s; client_body_timeout 1s; send_timeout 1s; keepalive_timeout 3s;\n  \
         server {{ listen 127.0.0.1:{{PORT}}; listen 127.0.0.1:{{PORT2}} http2; root {root};\n    \
           location /up {{ proxy_pass http://127.0.0.1:{{PORT3}}; }} }}\n  \
         server {{ listen 127.0.0.1:{{PORT3}}; return 200 up; }}\n}}\n",
        root = root.display()
    )
}

/// Which timeout explains a close after `d`.
fn bucket(d: Option<Duration>) -> &'static str {
    match d.map(|d| d.as_secs_f64()) {
        None => "still open",
        Some(s) if s < 0.5 => "closed at once",
        Some(s) if s < 2.2 => "closed after ~1 s",
        Some(s) if s < 4.8 => "closed after ~3 s",
        Some(_) => "closed late",
    }
}

fn connect(addr: SocketAddr, small_rcvbuf: bool) -> TcpStream {
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    if small_rcvbuf {
        let _ = s.set_recv_buffer_size(4096);
    }
    s.connect_timeout(&addr.into(), Duration::from_secs(5))
        .expect("connect");
    s.into()
}

/// Reads until the server closes (or `WAIT` passes): when it closed, and what came.
fn until_close(s: &mut TcpStream, t0: Instant) -> (Option<Duration>, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while t0.elapsed() < WAIT {
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        match s.read(&mut buf) {
            Ok(0) => return (Some(t0.elapsed()), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (Some(t0.elapsed()), got),
        }
    }
    (None, got)
}

/// An HTTP/1.1 case: send `head`, optionally read one response first, then wait for close.
fn h1(addr: SocketAddr, head: &[u8], after_response: bool) -> String {
    let mut s = connect(addr, false);
    s.write_all(head).expect("write");
    let mut t0 = Instant::now();
    if after_response {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"ok\n") {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            match s.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => return "no response".into(),
            }
        }
        t0 = Instant::now();
    }
    let (closed, got) = until_close(&mut s, t0);
    let answer = if after_response || got.is_empty() {
        "no answer".to_string()
    } else {
        String::from_utf8_lossy(&got[..got.len().min(12)]).into_owned()
    };
    format!("{}, {answer}", bucket(closed))
}

/// HTTP/1.1 slow reader: asks for the big file, reads nothing for 3 s, then reads on.
fn h1_slow_reader(addr: SocketAddr) -> String {
    let mut s = connect(addr, true);
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_secs(3));
    let (closed, got) = until_close(&mut s, Instant::now());
    let full = got.len() >= BIG;
    format!("whole response: {full}, closed: {}", closed.is_some())
}

/// The frames an HTTP/2 client opens with (preface, SETTINGS).
fn h2_open(extra_settings: &[(u16, u32)]) -> Vec<u8> {
    let mut out = h2raw::PREFACE.to_vec();
    h2raw::settings(&mut out, extra_settings);
    out
}

/// Reads frames until the server closes, acking its SETTINGS and sending a PING every
/// `ping` when set; returns when it closed, the GOAWAY code and the DATA bytes received.
fn h2_until_close(
    s: &mut TcpStream,
    t0: Instant,
    ping: Option<Duration>,
) -> (Option<Duration>, Option<u32>, usize) {
    let (mut buf, mut goaway, mut data) = (Vec::new(), None, 0);
    let mut tmp = [0u8; 65536];
    let mut next_ping = Instant::now();
    while t0.elapsed() < WAIT {
        if let Some(p) = ping
            && Instant::now() >= next_ping
        {
            let mut f = Vec::new();
            h2raw::frame(&mut f, kind::PING, 0, 0, &[1; 8]);
            let _ = s.write_all(&f);
            next_ping += p;
        }
        let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
        let n = match s.read(&mut tmp) {
            Ok(0) => return (Some(t0.elapsed()), goaway, data),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return (Some(t0.elapsed()), goaway, data),
        };
        buf.extend_from_slice(&tmp[..n]);
        for (k, flags, _, payload) in h2raw::read_frames(&mut buf) {
            match k {
                kind::SETTINGS if flags & 1 == 0 => {
                    let mut ack = Vec::new();
                    h2raw::frame(&mut ack, kind::SETTINGS, 1, 0, &[]);
                    let _ = s.write_all(&ack);
                }
                kind::GOAWAY if payload.len() >= 8 => {
                    goaway = Some(u32::from_be_bytes([
                        payload[4], payload[5], payload[6], payload[7],
                    ]));
                }
                kind::DATA => data += payload.len(),
                _ => {}
            }
        }
    }
    (None, goaway, data)
}

/// An HTTP/2 case: `first` sent, then (when `request`) one GET answered before the wait.
fn h2(addr: SocketAddr, first: &[u8], ping: Option<Duration>, request: bool) -> String {
    let mut s = connect(addr, false);
    s.write_all(first).expect("write");
    let mut t0 = Instant::now();
    if request {
        let mut f = Vec::new();
        let block = h2raw::get_block("a", "/small.txt");
        h2raw::frame(&mut f, kind::HEADERS, END_HEADERS | END_STREAM, 1, &block);
        s.write_all(&f).expect("write");
        // The response is small: it has come once the server's first frames have.
        std::thread::sleep(Duration::from_millis(300));
        t0 = Instant::now();
    }
    let (closed, goaway, _) = h2_until_close(&mut s, t0, ping);
    format!("{}, GOAWAY {goaway:?}", bucket(closed))
}

/// HTTP/2 slow reader: a window large enough for the whole big file, then nothing read
/// for 3 s, then read on.
fn h2_slow_reader(addr: SocketAddr) -> String {
    let mut s = connect(addr, true);
    let mut out = h2_open(&[(4, 0x7fff_ffff)]);
    h2raw::frame(
        &mut out,
        kind::WINDOW_UPDATE,
        0,
        0,
        &(0x7fff_ffffu32 - 65_535).to_be_bytes(),
    );
    let block = h2raw::get_block("a", "/big.bin");
    h2raw::frame(&mut out, kind::HEADERS, END_HEADERS | END_STREAM, 1, &block);
    s.write_all(&out).expect("write");
    std::thread::sleep(Duration::from_secs(3));
    let (closed, _, data) = h2_until_close(&mut s, Instant::now(), None);
    format!(
        "whole response: {}, closed: {}",
        data >= BIG,
        closed.is_some()
    )
}

/// One attacker, run on its own thread; returns what it saw.
type Job = Box<dyn FnOnce() -> String + Send>;

/// Every case against one server (HTTP/1.1 on `a`, h2c on `b`), all at once.
fn cases(a: SocketAddr, b: SocketAddr) -> Vec<(&'static str, String)> {
    let mut half = h2_open(&[]);
    half.extend_from_slice(&[0, 0, 8, kind::PING]);
    let jobs: Vec<(&'static str, Job)> = vec![
        ("h1 idle connection", Box::new(move || h1(a, b"", false))),
        (
            "h1 head never finished",
            Box::new(move || h1(a, b"GET / HTTP/1.1\r\nHost: a\r\n", false)),
        ),
        (
            "h1 body never finished",
            Box::new(move || {
                h1(
                    a,
                    b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
                    false,
                )
            }),
        ),
        (
            "h1 idle keep-alive",
            Box::new(move || h1(a, b"GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n", true)),
        ),
        (
            "h1 reader that never reads",
            Box::new(move || h1_slow_reader(a)),
        ),
        (
            "h2 connects, sends nothing",
            Box::new(move || h2(b, b"", None, false)),
        ),
        (
            "h2 part of the preface",
            Box::new(move || h2(b, &h2raw::PREFACE[..10], None, false)),
        ),
        (
            "h2 HTTP/1.1 instead of the preface",
            Box::new(move || h2(b, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", None, false)),
        ),
        (
            "h2 no stream, silent",
            Box::new(move || h2(b, &h2_open(&[]), None, false)),
        ),
        (
            "h2 no stream, PING every 200 ms",
            Box::new(move || h2(b, &h2_open(&[]), Some(Duration::from_millis(200)), false)),
        ),
        (
            "h2 stopped inside a frame",
            Box::new(move || h2(b, &half, None, false)),
        ),
        (
            "h2 idle after a request",
            Box::new(move || h2(b, &h2_open(&[]), None, true)),
        ),
        (
            "h2 reader that never reads",
            Box::new(move || h2_slow_reader(b)),
        ),
    ];
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    handles
        .into_iter()
        .map(|(name, h)| (name, h.join().expect("case thread")))
        .collect()
}

#[test]
fn timeouts_end_attackers_as_nginx_does() {
    let www = tempfile::tempdir().expect("www");
    std::fs::write(www.path().join("big.bin"), vec![b'x'; BIG]).expect("big file");
    std::fs::write(www.path().join("small.txt"), b"ok\n").expect("small file");
    let c = conf(www.path());
    let Some(nginx) = Nginx::start_full(&c) else {
        return;
    };
    let (_ours, _dir, ports) = proxies::start_ours_ports(&c);
    let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let np = nginx.ports();
    let (n, o) = std::thread::scope(|sc| {
        let n = sc.spawn(|| cases(at(np[0]), at(np[1])));
        let o = cases(at(ports[0]), at(ports[1]));
        (n.join().expect("nginx side"), o)
    });
    let mut diffs = Vec::new();
    for ((name, nv), (_, ov)) in n.iter().zip(&o) {
        println!("{name:<32} nginx: {nv:<40} ours: {ov}");
        if nv != ov {
            diffs.push(format!("{name}: nginx {nv}, ours {ov}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
