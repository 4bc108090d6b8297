//! Differential WebSocket tests on raw frames (so the client never answers PINGs by itself):
//! echo, keepalive PING then CLOSE 1011 without PONG, CLOSE 1009 above `--ws-max-size`.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn handshake(s: &Server) -> TcpStream {
    let mut c = s.connect();
    send(
        &mut c,
        "GET /ws HTTP/1.1\r\nhost: t\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
    );
    let r = read_response(&mut c, Duration::from_secs(5)).expect("101");
    assert_eq!(r.status, 101, "{:?}", s.flavor);
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(r.header("server"), Some("uvicorn"));
    c
}

fn send_frame(c: &mut TcpStream, opcode: u8, payload: &[u8]) {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [1u8, 2, 3, 4];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    c.write_all(&f).expect("write frame");
}

/// Reads one (unmasked, server) frame: opcode and payload.
fn read_frame(c: &mut TcpStream, timeout: Duration) -> (u8, Vec<u8>) {
    c.set_read_timeout(Some(timeout)).expect("timeout");
    let mut head = [0u8; 2];
    c.read_exact(&mut head).expect("frame head");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            c.read_exact(&mut b).expect("len16");
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            c.read_exact(&mut b).expect("len64");
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    c.read_exact(&mut payload).expect("payload");
    (head[0] & 0x0f, payload)
}

fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

#[test]
fn websocket_echoes_text_and_binary() {
    both(&Opts::default(), |s| {
        let mut c = handshake(s);
        send_frame(&mut c, 0x1, b"hello");
        assert_eq!(
            read_frame(&mut c, Duration::from_secs(5)),
            (0x1, b"hello".to_vec()),
            "{:?}",
            s.flavor
        );
        send_frame(&mut c, 0x2, &[0, 1, 2, 255]);
        assert_eq!(
            read_frame(&mut c, Duration::from_secs(5)),
            (0x2, vec![0, 1, 2, 255]),
            "{:?}",
            s.flavor
        );
    });
}

#[test]
fn websocket_without_pong_is_closed_with_1011() {
    both(
        &Opts::args(&["--ws-ping-interval", "1", "--ws-ping-timeout", "1"]),
        |s| {
            let mut c = handshake(s);
            let t = Instant::now();
            let (op, payload) = read_frame(&mut c, Duration::from_secs(5));
            let ping_at = t.elapsed();
            assert_eq!(
                (op, payload.len()),
                (0x9, 4),
                "{:?}: PING with a 4-byte payload",
                s.flavor
            );
            assert!(
                ping_at >= Duration::from_millis(800) && ping_at < Duration::from_millis(1800),
                "{:?}: ping at {ping_at:?}",
                s.flavor
            );
            let (op, payload) = read_frame(&mut c, Duration::from_secs(5));
            let close_at = t.elapsed();
            assert_eq!(op, 0x8, "{:?}: CLOSE", s.flavor);
            assert_eq!(close_code(&payload), 1011, "{:?}", s.flavor);
            assert!(
                close_at >= Duration::from_millis(1800) && close_at < Duration::from_millis(3500),
                "{:?}: close at {close_at:?}",
                s.flavor
            );
        },
    );
}

#[test]
fn websocket_message_above_max_size_is_closed_with_1009() {
    both(&Opts::args(&["--ws-max-size", "1000"]), |s| {
        let mut c = handshake(s);
        send_frame(&mut c, 0x2, &[7u8; 1000]);
        assert_eq!(
            read_frame(&mut c, Duration::from_secs(5)).1.len(),
            1000,
            "{:?}: exactly the limit passes",
            s.flavor
        );
        send_frame(&mut c, 0x2, &[7u8; 1001]);
        let (op, payload) = read_frame(&mut c, Duration::from_secs(5));
        assert_eq!((op, close_code(&payload)), (0x8, 1009), "{:?}", s.flavor);
    });
}

#[test]
fn websockets_bypass_limit_concurrency_but_starve_http() {
    both(&Opts::args(&["--limit-concurrency", "2"]), |s| {
        let mut a = handshake(s);
        let mut b = handshake(s); // upgrades are exempt from the check
        send_frame(&mut b, 0x1, b"x");
        assert_eq!(
            read_frame(&mut b, Duration::from_secs(5)).0,
            0x1,
            "{:?}",
            s.flavor
        );
        let mut c = s.connect();
        send(&mut c, &get("/"));
        assert_eq!(
            read_response(&mut c, Duration::from_secs(5))
                .expect("503")
                .status,
            503,
            "{:?}",
            s.flavor
        );
        send_frame(&mut a, 0x8, &1000u16.to_be_bytes());
        send_frame(&mut b, 0x8, &1000u16.to_be_bytes());
        let _ = read_frame(&mut a, Duration::from_secs(5));
        let _ = read_frame(&mut b, Duration::from_secs(5));
        drop((a, b));
        // Once the WebSockets are gone, HTTP is served again.
        let deadline = Instant::now() + Duration::from_secs(5);
        let ok = loop {
            match fetch(s.addr, "/", Duration::from_secs(5)) {
                Ok(r) if r.status == 200 => break true,
                _ if Instant::now() > deadline => break false,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        assert!(
            ok,
            "{:?}: HTTP not served after the WebSockets closed",
            s.flavor
        );
    });
}

#[test]
fn websocket_gets_1012_on_server_shutdown() {
    both(&Opts::default(), |s| {
        let mut c = handshake(s);
        send_frame(&mut c, 0x1, b"hi");
        assert_eq!(read_frame(&mut c, Duration::from_secs(5)).0, 0x1);
        s.proc.signal(libc::SIGTERM);
        let (op, payload) = read_frame(&mut c, Duration::from_secs(5));
        assert_eq!((op, close_code(&payload)), (0x8, 1012), "{:?}", s.flavor);
    });
}
