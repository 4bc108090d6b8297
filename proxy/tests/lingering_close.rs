//! Early answers while the client is still sending, through both proxies: discarded bodies
//! (the up-front 413 on Content-Length, `return` on a POST) and lingering close
//! (`lingering_close on|off`, `lingering_time`, `lingering_timeout`). What the client sees
//! (the response bytes, whether its writes failed, EOF or reset) must be what nginx gives.

mod common;

use common::{both, parse};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a client saw.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// Status and body of the first response (None: none complete).
    response: Option<(u16, Vec<u8>)>,
    /// A write of the request body failed (EPIPE / reset).
    write_failed: bool,
    /// How reading ended: "eof", "reset" or "timeout".
    end: &'static str,
    /// Status lines received.
    responses: usize,
}

/// Sends `head`, then the body pieces from `body` with `pause` between them, while a reader
/// thread collects the response; returns what was seen and when reading ended (seconds
/// after the head was sent).
fn upload(
    addr: SocketAddr,
    head: &[u8],
    pieces: Vec<Vec<u8>>,
    pause: Duration,
) -> (Seen, f64, f64) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut r = s.try_clone().expect("clone");
    let t0 = Instant::now();
    s.write_all(head).expect("head");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut data = Vec::new();
        let mut tmp = [0u8; 65536];
        let end = loop {
            match r.read(&mut tmp) {
                Ok(0) => break "eof",
                Ok(n) => data.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break "timeout",
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break "timeout",
                Err(_) => break "error",
            }
        };
        let _ = tx.send(t0.elapsed().as_secs_f64());
        (data, end)
    });
    let mut failed = false;
    for p in pieces {
        if s.write_all(&p).is_err() {
            failed = true;
            break;
        }
        std::thread::sleep(pause);
    }
    let wrote = t0.elapsed().as_secs_f64();
    let ended = rx.recv_timeout(Duration::from_secs(30)).unwrap_or(-1.0);
    let (data, end) = reader.join().unwrap_or_default();
    let response = parse(&data).map(|(r, _)| (r.status, r.body));
    let responses = data.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
    (
        Seen {
            response,
            write_failed: failed,
            end,
            responses,
        },
        wrote,
        ended,
    )
}

fn pieces(total: usize, piece: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut left = total;
    while left > 0 {
        let n = left.min(piece);
        v.push(vec![b'x'; n]);
        left -= n;
    }
    v
}

fn chunked_pieces(total: usize, piece: usize) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = pieces(total, piece)
        .into_iter()
        .map(|p| {
            let mut c = format!("{:x}\r\n", p.len()).into_bytes();
            c.extend_from_slice(&p);
            c.extend_from_slice(b"\r\n");
            c
        })
        .collect();
    v.push(b"0\r\n\r\n".to_vec());
    v
}

const HTTP: &str = "limit_req_zone $binary_remote_addr zone=z:1m rate=1r/m;\n\
    server { listen 127.0.0.1:{PORT};\n\
    location /lim { limit_req zone=z; deny all; }\n\
    location /stream { proxy_request_buffering off; proxy_pass http://{CUT}; }\n\
    location /small { client_max_body_size 1k; return 200 \"ok\\n\"; }\n\
    location /smalloff { client_max_body_size 1k; lingering_close off; return 200 \"ok\\n\"; }\n\
    location /p { client_max_body_size 1k; proxy_pass http://127.0.0.1:9; }\n\
    location /poff { client_max_body_size 1k; lingering_close off; proxy_pass http://127.0.0.1:9; }\n\
    location /short { lingering_time 2s; lingering_timeout 1s; client_max_body_size 1k; return 200; }\n\
    location /ret { lingering_timeout 1s; return 200 \"ret\\n\"; } }";

/// An upstream that reads a request head and closes with a reset, never reading the body.
fn cutting_upstream() -> SocketAddr {
    static ADDR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *ADDR.get_or_init(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for c in l.incoming().take(64) {
                let Ok(mut c) = c else { continue };
                let mut head = Vec::new();
                let mut tmp = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut tmp) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&tmp[..n]),
                    }
                }
                let _ = socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO));
            }
        });
        addr
    })
}

fn http() -> String {
    HTTP.replace("{CUT}", &cutting_upstream().to_string())
}

#[test]
fn too_large_content_length_gets_the_whole_413_and_eof_while_still_sending() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let total = 10 << 20;
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        for path in ["/small", "/smalloff"] {
            let head =
                format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {total}\r\n\r\n");
            let (s, wrote, ended) = upload(
                addr,
                head.as_bytes(),
                pieces(total, 64 * 1024),
                Duration::from_millis(10),
            );
            // The 413 came while the client was still sending; the close came after it
            // finished (the body is read and dropped, not refused).
            assert!(
                ended + 0.05 >= wrote,
                "{path}: closed at {ended}s, writes until {wrote}s"
            );
            seen.push((path, s));
        }
    }
    let (theirs, mine) = seen.split_at(2);
    assert_eq!(mine, theirs, "ours vs nginx");
    let s = &theirs[0].1;
    assert_eq!(s.response.as_ref().map(|r| r.0), Some(413), "{s:?}");
    assert_eq!((s.write_failed, s.end), (false, "eof"), "{s:?}");
}

#[test]
fn too_large_chunked_body_lingers_unless_lingering_close_off() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        for path in ["/p", "/poff"] {
            let head =
                format!("POST {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
            let (s, wrote, ended) = upload(
                addr,
                head.as_bytes(),
                chunked_pieces(2 << 20, 64 * 1024),
                Duration::from_millis(10),
            );
            // Either way the answer and the end of reading came before the body was sent.
            assert!(
                ended < wrote,
                "{path}: reading ended at {ended}s, writes until {wrote}s"
            );
            seen.push((path, s));
        }
    }
    let (theirs, mine) = seen.split_at(2);
    assert_eq!(mine, theirs, "ours vs nginx");
    let on = &theirs[0].1;
    assert_eq!(on.response.as_ref().map(|r| r.0), Some(413), "{on:?}");
    assert_eq!((on.write_failed, on.end), (false, "eof"), "{on:?}");
    let off = &theirs[1].1;
    assert_eq!(off.response.as_ref().map(|r| r.0), Some(413), "{off:?}");
    assert_eq!((off.write_failed, off.end), (true, "reset"), "{off:?}");
}

#[test]
fn lingering_time_bounds_the_discarding() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let total = 10 << 20;
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let head = format!("POST /short HTTP/1.1\r\nHost: a\r\nContent-Length: {total}\r\n\r\n");
        // 64 KiB every 50 ms: 8 s for the whole body, lingering_time is 2 s.
        let (s, _, ended) = upload(
            addr,
            head.as_bytes(),
            pieces(total, 64 * 1024),
            Duration::from_millis(50),
        );
        assert!((0.5..6.0).contains(&ended), "closed at {ended}s");
        seen.push(s);
    }
    assert_eq!(seen[1], seen[0], "ours vs nginx");
    assert_eq!(seen[0].response.as_ref().map(|r| r.0), Some(413));
    assert_eq!((seen[0].write_failed, seen[0].end), (true, "reset"));
}

/// Reads one response (Content-Length framed) from `s` into `buf`.
fn read_one(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, Vec<u8>)> {
    loop {
        if let Some((r, n)) = parse(buf)
            && r.header("content-length").is_some()
        {
            buf.drain(..n);
            return Some((r.status, r.body));
        }
        let mut tmp = [0u8; 4096];
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

#[test]
fn return_answers_before_the_body_then_discards_it_and_keeps_alive() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut s = TcpStream::connect(addr).expect("connect");
        // The answer must come without the body: 5 s is far more than it needs.
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = Vec::new();
        s.write_all(b"POST /ret HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
            .expect("head");
        let first = read_one(&mut s, &mut buf);
        // The body arrives late, with the next request right behind it.
        s.write_all(&[b'y'; 100]).expect("body");
        s.write_all(b"GET /ret HTTP/1.1\r\nHost: a\r\n\r\n")
            .expect("next");
        let second = read_one(&mut s, &mut buf);
        // A body that never comes: closed after lingering_timeout (1s).
        s.write_all(b"POST /ret HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
            .expect("third");
        let third = read_one(&mut s, &mut buf);
        let t = Instant::now();
        let mut tmp = [0u8; 16];
        let end = match s.read(&mut tmp) {
            Ok(0) => "eof",
            Ok(_) => "data",
            Err(_) => "error/timeout",
        };
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_millis(4500),
            "closed after {waited:?}"
        );
        seen.push((first, second, third, end));
    }
    assert_eq!(seen[1], seen[0], "ours vs nginx");
    let ok = Some((200, b"ret\n".to_vec()));
    assert_eq!(seen[0], (ok.clone(), ok.clone(), ok, "eof"));
}

/// Status lines of everything received within the read timeout.
fn status_lines(addr: SocketAddr, req: &[u8]) -> Vec<String> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    s.write_all(req).expect("write");
    let mut data = Vec::new();
    let mut tmp = [0u8; 4096];
    while let Ok(n) = s.read(&mut tmp) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&tmp[..n]);
    }
    String::from_utf8_lossy(&data)
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .map(str::to_string)
        .collect()
}

#[test]
fn expect_100_continue_for_a_discarded_body_but_not_for_the_413() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        seen.push(status_lines(
            addr,
            b"POST /ret HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        ));
        seen.push(status_lines(
            addr,
            b"POST /small HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
        ));
    }
    assert_eq!(seen[2..], seen[..2], "ours vs nginx");
    assert_eq!(
        seen[0],
        ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"],
        "{seen:?}"
    );
    assert_eq!(
        seen[1],
        ["HTTP/1.1 413 Request Entity Too Large"],
        "{seen:?}"
    );
}

#[test]
fn deny_and_limit_req_answer_before_the_body() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = Vec::new();
        let post = b"POST /lim HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n";
        let mut got = Vec::new();
        for _ in 0..2 {
            s.write_all(post).expect("head");
            got.push(read_one(&mut s, &mut buf).map(|r| r.0));
            s.write_all(&[b'y'; 100]).expect("body");
        }
        s.write_all(b"GET /ret HTTP/1.1\r\nHost: a\r\n\r\n")
            .expect("next");
        got.push(read_one(&mut s, &mut buf).map(|r| r.0));
        seen.push(got);
    }
    assert_eq!(seen[1], seen[0], "ours vs nginx");
    assert_eq!(seen[0], [Some(403), Some(503), Some(200)]);
}

#[test]
fn streamed_body_cut_by_the_upstream_is_not_read_as_the_next_request() {
    let Some((nginx, ours)) = both(&http()) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let (s, _, _) = upload(
            addr,
            b"POST /stream HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n",
            pieces(20_000, 1000),
            Duration::from_millis(50),
        );
        seen.push(s);
    }
    assert_eq!(seen[1], seen[0], "ours vs nginx");
    let s = &seen[0];
    assert_eq!(s.response.as_ref().map(|r| r.0), Some(502), "{s:?}");
    assert_eq!(
        (s.write_failed, s.end, s.responses),
        (false, "eof", 1),
        "{s:?}"
    );
}
