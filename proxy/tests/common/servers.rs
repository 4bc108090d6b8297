//! Tiny misbehaving upstreams for tests, named by what they do. Each runs an accept loop on a
//! thread until dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What a test server does with each request on a connection (index = request number on
/// that connection, 0-based).
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Answers 200 with the raw request head as the body, then closes.
    EchoHead,
    /// Reads the request, then closes without answering.
    CloseAfterRequest,
    /// Keep-alive: answers the first request with 200, closes on the second without answering.
    CloseOnSecondRequest,
    /// Answers 200 with a body of this many bytes (Content-Length), then closes; counts
    /// finished writes in [`TestServer::completed`].
    BigBody(usize),
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// Responses written completely (BigBody).
    pub completed: Arc<AtomicUsize>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buf[..i + 4].to_vec();
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let cl: usize = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < i + 4 + cl {
                let mut tmp = [0u8; 8192];
                match s.read(&mut tmp) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
            }
            buf.drain(..i + 4 + cl);
            return Some(head);
        }
        let mut tmp = [0u8; 8192];
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

fn serve(mut s: TcpStream, b: Behaviour, completed: Arc<AtomicUsize>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::new();
    let mut n = 0;
    while let Some(head) = read_head(&mut s, &mut buf) {
        match (b, n) {
            (Behaviour::EchoHead, _) => {
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    head.len()
                );
                let _ = s.write_all(resp.as_bytes());
                let _ = s.write_all(&head);
                return;
            }
            (Behaviour::CloseAfterRequest, _) => return,
            (Behaviour::CloseOnSecondRequest, 0) => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
            (Behaviour::CloseOnSecondRequest, _) => return,
            (Behaviour::BigBody(n), _) => {
                let head =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 65536];
                let mut left = n;
                while left > 0 {
                    let k = left.min(chunk.len());
                    if s.write_all(&chunk[..k]).is_err() {
                        return;
                    }
                    left -= k;
                }
                completed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        n += 1;
    }
}

impl TestServer {
    /// Starts a server with behaviour `b` on 127.0.0.1:0.
    pub fn start(b: Behaviour) -> TestServer {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let addr = l.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let completed = Arc::new(AtomicUsize::new(0));
        let (st, acc, done) = (stop.clone(), accepted.clone(), completed.clone());
        std::thread::spawn(move || {
            // Bounded by the owner: stops when the TestServer is dropped (checked every 5 ms).
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        acc.fetch_add(1, Ordering::Relaxed);
                        let _ = s.set_nonblocking(false);
                        let done = done.clone();
                        std::thread::spawn(move || serve(s, b, done));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TestServer {
            addr,
            stop,
            accepted,
            completed,
        }
    }
}

/// A loopback server that hands each accepted connection to `answer` on a thread of its own;
/// it stops accepting when dropped.
pub struct Answering {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Starts an [`Answering`] server on 127.0.0.1, port 0.
pub fn answering(answer: fn(std::net::TcpStream)) -> Answering {
    use std::sync::atomic::{AtomicBool, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Bounded by the owner: stops when the Answering is dropped (checked every 5 ms).
    std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((s, _)) => {
                    std::thread::spawn(move || answer(s));
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    });
    Answering { port, stop }
}
