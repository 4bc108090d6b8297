//! A counting origin for the proxy_cache tests: answers by path, counts requests per path,
//! keeps the request heads, and can be switched to failing. Runs on threads until dropped.
//!
//! Paths: `/slow…` answers after 1 s; `/cookie…` sets a cookie; `/nostore…` sends
//! `Cache-Control: no-store`; `/maxage…` sends `max-age=1`; `/lm…` has a Last-Modified and an
//! ETag and answers 304 to a matching `If-None-Match` or `If-Modified-Since`; `/chunked…`
//! answers chunked; `/vary…` sends `Vary: X-V` and appends the request's X-V to the body;
//! `/ranges…` sends `Accept-Ranges: bytes`, a Last-Modified and an ETag (and never answers 304:
//! the proxy's own filters do); `/missing…` answers 404 and `/oops…` 500. Any path answers 500 while `status500` is set, or closes without an answer
//! while `down` is set. Bodies are `PATH #N` (N = that path's request count).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LAST_MODIFIED: &str = "Mon, 07 Dec 2026 10:00:00 GMT";

/// Shared state of an origin.
#[derive(Default)]
pub struct State {
    counts: Mutex<HashMap<String, usize>>,
    heads: Mutex<Vec<String>>,
    /// Answer 500 to everything.
    pub status500: AtomicBool,
    /// Close every connection without an answer.
    pub down: AtomicBool,
    stop: AtomicBool,
}

/// A running origin.
pub struct Origin {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

impl Origin {
    /// Starts on a free loopback port.
    pub fn start() -> Origin {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind origin");
        let addr = l.local_addr().expect("addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                if st.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(s) = s else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(s, &st));
            }
        });
        Origin { addr, state }
    }

    /// Requests seen for paths starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        let c = self.state.counts.lock().expect("counts");
        c.iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Request heads seen, in order.
    pub fn heads(&self) -> Vec<String> {
        self.state.heads.lock().expect("heads").clone()
    }
}

fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    for _ in 0..1000 {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buf[..i + 4]).into_owned());
        }
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    None
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn serve(mut s: TcpStream, st: &State) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(head) = read_head(&mut s) else {
        return;
    };
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    let n = {
        let mut c = st.counts.lock().expect("counts");
        let e = c.entry(path.clone()).or_insert(0);
        *e += 1;
        *e
    };
    st.heads.lock().expect("heads").push(head.clone());
    if st.down.load(Ordering::Relaxed) {
        return;
    }
    if path.starts_with("/slow") {
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut body = format!("{path} #{n}");
    if path.starts_with("/vary") {
        body.push_str(&format!(" {}", header(&head, "x-v").unwrap_or("-")));
    }
    let mut extra = String::new();
    let mut status = "200 OK";
    if path.starts_with("/vary") {
        extra.push_str("Vary: X-V\r\n");
    } else if path.starts_with("/cookie") {
        extra.push_str("Set-Cookie: a=b\r\n");
    } else if path.starts_with("/nostore") {
        extra.push_str("Cache-Control: no-store\r\n");
    } else if path.starts_with("/maxage") {
        extra.push_str("Cache-Control: max-age=1\r\n");
    } else if path.starts_with("/ranges") {
        extra.push_str(&format!(
            "Accept-Ranges: bytes\r\nLast-Modified: {LAST_MODIFIED}\r\nETag: \"v1\"\r\n"
        ));
    } else if path.starts_with("/lm") {
        extra.push_str(&format!(
            "Last-Modified: {LAST_MODIFIED}\r\nETag: \"v1\"\r\n"
        ));
        if header(&head, "if-none-match") == Some("\"v1\"")
            || header(&head, "if-modified-since") == Some(LAST_MODIFIED)
        {
            status = "304 Not Modified";
        }
    }
    if path.starts_with("/missing") {
        status = "404 Not Found";
    } else if path.starts_with("/oops") {
        status = "500 Internal Server Error";
    }
    if st.status500.load(Ordering::Relaxed) {
        status = "500 Internal Server Error";
    }
    let resp = if status.starts_with("304") {
        format!("HTTP/1.1 {status}\r\n{extra}Connection: close\r\n\r\n")
    } else if path.starts_with("/chunked") {
        format!(
            "HTTP/1.1 {status}\r\n{extra}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
    } else {
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let _ = s.write_all(resp.as_bytes());
}

/// `CACHE-STATUS BODY` of a GET (the `X-Cache-Status` header the tests' configs add).
pub fn status(addr: SocketAddr, path: &str) -> String {
    let r = crate::common::get(addr, path);
    format!(
        "{} {}",
        r.header("x-cache-status").unwrap_or("-"),
        String::from_utf8_lossy(&r.body)
    )
}
