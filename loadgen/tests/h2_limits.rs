//! nginx 1.22's HTTP/2 limits that are settings, applied by ours as nginx applies them, each
//! against real nginx with the same config.
//!
//! `http2_recv_buffer_size`: nginx reads an HTTP/2 client in pieces of that size less 32
//! bytes and applies its byte-ratio flood rule (an eighth of the bytes read over the payload
//! read by more than 1 MiB) after handling every frame of a read. A client sends frames that
//! carry nothing (WINDOW_UPDATE, 13 bytes each) until the server is 16 KiB short of the
//! limit, waits for a PING's answer (everything was read), then, while the server process is
//! stopped, one burst: 32 KiB more of them with a request (HEADERS, stream 1) at its end, 16
//! KiB past the point where the limit is crossed. With a 256 KiB buffer the burst is one
//! read: the request is handled before the check, and the GOAWAY names stream 1 as the last
//! one processed. With a 4 KiB buffer the read that crosses the limit ends the connection
//! before the request is read: GOAWAY names stream 0. The server is stopped (SIGSTOP to its
//! process group) while the burst is sent and continued once its kernel has it all, so one
//! read can take the whole burst.
//!
//! `http2_max_concurrent_streams 2`: a third stream opened while two wait for their request
//! bodies is refused (RST_STREAM REFUSED_STREAM); the two are not.
//!
//! `keepalive_requests 3` on HTTP/2: requests sent one after another on one connection; the
//! third is answered with a GOAWAY beside it, and the connection then closes. (nginx's one
//! GOAWAY names stream 5; the `h2` crate's graceful shutdown first names the largest id and
//! the last processed one after a PING round trip, so only the outcome is compared.)

mod proxies;

use proxies::h2wire;
use proxies::start_ours;
use proxylab_loadgen::transport::h2raw::{self, END_HEADERS, END_STREAM, kind};
use proxylab_testkit::{Nginx, Proc};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// nginx's byte-ratio limit: the bytes counted may reach 8 x 1 MiB (no payload).
const LIMIT: usize = 8 << 20;
/// How far below the limit the client stops before the burst.
const SHORT: usize = 16 << 10;
/// The burst: frames that carry nothing, then the request (16 KiB past the limit).
const BURST: usize = 32 << 10;
/// One WINDOW_UPDATE frame (connection window, increment 1).
const FRAME: usize = 13;

/// `http2_recv_buffer_size {size}` and `http2_max_concurrent_streams {streams}`
/// (`keepalive_requests` 100000).
fn conf(size: &str, streams: u32) -> String {
    conf_with(size, streams, 100_000)
}

/// [`conf`] with `keepalive_requests {requests}`.
fn conf_with(size: &str, streams: u32, requests: u32) -> String {
    let user = if proxies::proc_uid() == 0 {
        "user root;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes 1;\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {{DIR}}/cb;\n  proxy_temp_path {{DIR}}/pt;\n  \
         http2_recv_buffer_size {size};\n  keepalive_requests {requests};\n  \
         server {{ listen 127.0.0.1:{{PORT}} http2; http2_max_concurrent_streams {streams};\n    \
           location / {{ return 200 \"ok\\n\"; }}\n    \
           location /up {{ proxy_pass http://127.0.0.1:9; }} }}\n}}\n"
    )
}

/// `bytes` (rounded down to whole frames) of WINDOW_UPDATE frames on the connection.
fn window_updates(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes);
    for _ in 0..bytes / FRAME {
        h2raw::frame(&mut out, kind::WINDOW_UPDATE, 0, 0, &1u32.to_be_bytes());
    }
    out
}

/// Continues the stopped server when dropped (also when the test fails on the way).
struct Stopped<'a>(&'a Proc);

impl<'a> Stopped<'a> {
    fn new(p: &'a Proc) -> Stopped<'a> {
        p.signal_group(libc::SIGSTOP);
        Stopped(p)
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.signal_group(libc::SIGCONT);
    }
}

/// Bytes written on `s` that the peer's kernel has not acknowledged yet (the socket's
/// `tx_queue` in /proc/net/tcp); None when the socket is not listed.
fn unsent(s: &TcpStream) -> Option<u64> {
    let (local, peer) = (s.local_addr().ok()?, s.peer_addr().ok()?);
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    };
    let (l, p) = (hex(local), hex(peer));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&l.as_str()) || f.get(2) != Some(&p.as_str()) {
            return None;
        }
        let tx = f.get(4)?.split(':').next()?;
        u64::from_str_radix(tx, 16).ok()
    })
}

/// What [`last_stream`] says when the stopped server's kernel did not take the whole burst.
const NOT_TAKEN: &str = "burst not taken by the stopped server's socket";

/// [`last_stream`], tried up to three times while the burst was not taken whole (a
/// precondition of the measurement, not its result).
fn last_stream_taken(addr: SocketAddr, proc: &Proc) -> String {
    let mut got = String::new();
    for _ in 0..3 {
        got = last_stream(addr, proc);
        if !got.starts_with(NOT_TAKEN) {
            break;
        }
    }
    got
}

/// Runs the client against the server `proc` listens for at `addr`: the GOAWAY's last stream
/// id, or what happened instead.
fn last_stream(addr: SocketAddr, proc: &Proc) -> String {
    let mut s = h2wire::open(addr);
    let opened = h2raw::PREFACE.len() + 9;
    // The PING, and the SETTINGS ack `read_until` sends when it reads the server's SETTINGS.
    let (ping, ack) = (17, 9);
    // Up to the limit less SHORT (the server's own SETTINGS, WINDOW_UPDATE and acks count a
    // hundred bytes or so more).
    let filler = window_updates(LIMIT - SHORT - opened - ack - ping);
    for chunk in filler.chunks(64 << 10) {
        s.write_all(chunk).expect("write filler");
    }
    let mut f = Vec::new();
    h2raw::frame(&mut f, kind::PING, 0, 0, b"syncsync");
    s.write_all(&f).expect("write ping");
    let synced = h2wire::read_until(&mut s, Duration::from_secs(60), |(k, flags, _, p)| {
        (*k == kind::PING && flags & 1 == 1 && p == b"syncsync").then_some(())
    });
    if synced.is_none() {
        return "no answer to the PING after the filler".into();
    }
    let mut burst = window_updates(BURST);
    let block = h2raw::get_block("a.test", "/");
    h2raw::frame(
        &mut burst,
        kind::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block,
    );
    {
        let _stopped = Stopped::new(proc);
        s.write_all(&burst).expect("write burst");
        let end = Instant::now() + Duration::from_secs(5);
        while unsent(&s) != Some(0) && Instant::now() < end {
            std::thread::yield_now();
        }
        // The measurement needs the whole burst in the stopped server's socket; when it is
        // not (the connection is gone or the data still queued), this attempt says so and
        // the caller tries again: the GOAWAY below is not judged on it.
        match unsent(&s) {
            Some(0) => {}
            Some(n) => return format!("{NOT_TAKEN} ({n} bytes unsent)"),
            None => return format!("{NOT_TAKEN} (the connection is gone)"),
        }
    }
    let got = h2wire::read_until(&mut s, Duration::from_secs(30), |(k, _, _, p)| {
        (*k == kind::GOAWAY).then(|| h2wire::goaway(p))
    });
    match got {
        Some(Some((last, code))) => format!("GOAWAY last stream {last}, code {code}"),
        Some(None) => "a short GOAWAY".into(),
        None => "no GOAWAY".into(),
    }
}

#[test]
fn the_receive_buffer_size_decides_what_one_read_handles_as_on_nginx() {
    let cases = [
        ("256k", "GOAWAY last stream 1, code 0"),
        ("4k", "GOAWAY last stream 0, code 0"),
    ];
    let mut failures = Vec::new();
    for (size, want) in cases {
        let Some(nginx) = Nginx::start_full(&conf(size, 128)) else {
            return;
        };
        let theirs = last_stream_taken(nginx.addr(), nginx.proc());
        let (ours_proc, _dir, oaddr) = start_ours(&conf(size, 128));
        let ours = last_stream_taken(oaddr, &ours_proc);
        println!("http2_recv_buffer_size {size}: nginx {theirs}; ours {ours}");
        if theirs != want {
            failures.push(format!("{size}: nginx {theirs}, expected {want}"));
        }
        if ours != theirs {
            failures.push(format!("{size}: ours {ours}, nginx {theirs}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Opens three streams that wait for their request bodies (POST with a length, no DATA
/// sent; the body is read before the upstream is contacted); returns the RST_STREAM frames
/// that came within a second, as (stream, code).
fn refused(addr: SocketAddr) -> Vec<(u32, u32)> {
    let mut s = h2wire::open(addr);
    let seen = h2wire::read_until(&mut s, Duration::from_secs(5), |(k, flags, _, _)| {
        (*k == kind::SETTINGS && flags & 1 == 0).then_some(())
    });
    assert!(seen.is_some(), "the server's SETTINGS");
    let mut out = Vec::new();
    for stream in [1, 3, 5] {
        let mut b = Vec::new();
        h2raw::indexed(&mut b, 3); // :method POST
        h2raw::indexed(&mut b, 6); // :scheme http
        h2raw::literal(&mut b, b":path", b"/up");
        h2raw::literal(&mut b, b":authority", b"a.test");
        h2raw::literal(&mut b, b"content-length", b"10");
        h2raw::frame(&mut out, kind::HEADERS, END_HEADERS, stream, &b);
    }
    s.write_all(&out).expect("write");
    let mut resets = Vec::new();
    let _ = h2wire::read_until(&mut s, Duration::from_secs(1), |(k, _, stream, p)| {
        if *k == kind::RST_STREAM && p.len() == 4 {
            resets.push((*stream, u32::from_be_bytes([p[0], p[1], p[2], p[3]])));
        }
        None::<()>
    });
    resets
}

#[test]
fn streams_over_http2_max_concurrent_streams_are_refused_as_on_nginx() {
    let Some(nginx) = Nginx::start_full(&conf("256k", 2)) else {
        return;
    };
    let (_ours, _dir, oaddr) = start_ours(&conf("256k", 2));
    let theirs = refused(nginx.addr());
    let ours = refused(oaddr);
    println!("http2_max_concurrent_streams 2: nginx reset {theirs:?}, ours {ours:?}");
    // REFUSED_STREAM is 7.
    assert_eq!(theirs, [(5, 7)], "nginx");
    assert_eq!(ours, theirs, "ours");
}

/// GETs one after another on one connection, each sent once the previous one was answered,
/// until a GOAWAY came (at most 8); then whether the server closes within 5 s.
fn one_after_another(addr: SocketAddr) -> String {
    let mut s = h2wire::open(addr);
    let (mut answered, mut goaway_during) = (Vec::new(), None);
    for stream in (1..16).step_by(2) {
        if goaway_during.is_some() {
            break;
        }
        let mut f = Vec::new();
        let block = h2raw::get_block("a.test", "/");
        h2raw::frame(
            &mut f,
            kind::HEADERS,
            END_HEADERS | END_STREAM,
            stream,
            &block,
        );
        s.write_all(&f).expect("write");
        let done = h2wire::read_until(&mut s, Duration::from_secs(5), |(k, flags, id, _)| {
            if *k == kind::GOAWAY {
                goaway_during.get_or_insert(stream);
            }
            (*k == kind::DATA && *id == stream && flags & END_STREAM != 0).then_some(())
        });
        if done.is_none() {
            break;
        }
        answered.push(stream);
    }
    let closed = h2wire::closes_within(&mut s, Duration::from_secs(5));
    format!("answered {answered:?}, GOAWAY while waiting for {goaway_during:?}, closed {closed}")
}

#[test]
fn keepalive_requests_ends_an_http2_connection_as_on_nginx() {
    let conf = conf_with("256k", 128, 3);
    let Some(nginx) = Nginx::start_full(&conf) else {
        return;
    };
    let (_ours, _dir, oaddr) = start_ours(&conf);
    let theirs = one_after_another(nginx.addr());
    let ours = one_after_another(oaddr);
    println!("keepalive_requests 3: nginx {theirs}; ours {ours}");
    assert_eq!(
        theirs, "answered [1, 3, 5], GOAWAY while waiting for Some(5), closed true",
        "nginx"
    );
    assert_eq!(ours, theirs, "ours");
}
