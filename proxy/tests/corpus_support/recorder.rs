//! A recording upstream: a raw TCP server that writes down each request that reaches it
//! (request line, header lines, framing and decoded body), answers `200 ok` with
//! `Connection: close`, and closes. Requests are kept in arrival order until taken.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running recorder (stops accepting when dropped).
pub struct Recorder {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    active: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Recorder {
    /// Binds 127.0.0.1:0 and starts the accept loop.
    pub fn start() -> Recorder {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        l.set_nonblocking(true).expect("nonblocking");
        let rec = Recorder {
            addr: l.local_addr().expect("addr"),
            seen: Arc::default(),
            active: Arc::default(),
            stop: Arc::default(),
        };
        let (seen, active, stop) = (rec.seen.clone(), rec.active.clone(), rec.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        active.fetch_add(1, Ordering::SeqCst);
                        let (seen, active) = (seen.clone(), active.clone());
                        std::thread::spawn(move || {
                            serve(s, &seen);
                            active.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        rec
    }

    /// Waits (at most `wait`) until no upstream connection is open, then returns and clears
    /// what was recorded.
    pub fn take(&self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        while self.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }
}

/// Reads one request from a connection, records it, answers it and closes (as the proxies
/// talk HTTP/1.0 to their upstreams, one request per connection).
fn serve(mut s: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let rec = read_request(&mut s, &mut buf);
    let got_some = rec.is_some();
    let line = rec.unwrap_or_else(|| format!("INCOMPLETE {}", show(&buf)));
    if got_some || !buf.is_empty() {
        seen.lock().expect("lock").push(line);
    }
    if got_some {
        let _ =
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
    }
}

fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut tmp = [0u8; 16384];
    match s.read(&mut tmp) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            true
        }
    }
}

/// One request as a line of text: `request-line | header lines | framing | body`.
fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 || !fill(s, buf) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("").to_string();
    let headers: Vec<String> = lines.map(str::to_string).collect();
    let value = |name: &str| {
        headers.iter().find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let (framing, body) = if let Some(te) = value("transfer-encoding") {
        (format!("te={te}"), read_chunked(s, buf, head_end)?)
    } else if let Some(cl) = value("content-length") {
        let n: usize = cl.parse().ok()?;
        while buf.len() < head_end + n {
            if !fill(s, buf) {
                return None;
            }
        }
        (format!("cl={n}"), buf[head_end..head_end + n].to_vec())
    } else {
        ("none".to_string(), Vec::new())
    };
    Some(format!(
        "{line} | {} | {framing} | body={}",
        headers.join(" / "),
        show(&body)
    ))
}

/// Decodes a chunked body starting at `at` (sizes, data, the last chunk, no trailers).
fn read_chunked(s: &mut TcpStream, buf: &mut Vec<u8>, mut at: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = loop {
            if let Some(i) = buf[at..].windows(2).position(|w| w == b"\r\n") {
                break at + i;
            }
            if !fill(s, buf) {
                return None;
            }
        };
        let size_text = String::from_utf8_lossy(&buf[at..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = eol + 2;
        while buf.len() < at + size + 2 {
            if !fill(s, buf) {
                return None;
            }
        }
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

/// Bytes as text with control bytes escaped (at most 200 shown).
pub fn show(b: &[u8]) -> String {
    let mut s: String = b
        .iter()
        .take(200)
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect();
    if b.len() > 200 {
        s.push_str(&format!("...({} bytes)", b.len()));
    }
    s
}
