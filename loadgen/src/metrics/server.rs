//! A minimal HTTP/1.1 server for `GET /metrics` (one request per connection, then close), on
//! its own thread: Prometheus scrapes it once every few seconds, nothing here needs more.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running metrics endpoint; stops when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` (e.g. `127.0.0.1:9464`, port 0 = any) and serves `render()` at `/metrics`.
    pub fn start(
        addr: &str,
        render: impl Fn() -> String + Send + 'static,
    ) -> Result<MetricsServer, String> {
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                while !s.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => serve(conn, &render),
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
            .map_err(|e| format!("metrics thread: {e}"))?;
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, render: &dyn Fn() -> String) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let mut rd = BufReader::new(&conn);
    let mut line = String::new();
    if rd.read_line(&mut line).is_err() {
        return;
    }
    // Read (and ignore) the header block, bounded.
    let mut h = String::new();
    for _ in 0..100 {
        h.clear();
        match rd.read_line(&mut h) {
            Ok(n) if n > 2 => continue,
            _ => break,
        }
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => ("200 OK", CONTENT_TYPE, render()),
        ("GET", _) => ("404 Not Found", "text/plain", "try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain", String::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut w = &conn;
    let _ = w.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = w.write_all(body.as_bytes());
    }
    let _ = w.flush();
}

/// `GET http://ADDR/metrics` (loopback helper for the runner, which adds its loadgen's
/// metrics to its own); `None` on any failure.
pub fn fetch(addr: SocketAddr, timeout: Duration) -> Option<String> {
    use std::io::Read;
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: loadgen\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = String::new();
    s.take(64 << 20).read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_metrics_and_404() {
        let srv = MetricsServer::start("127.0.0.1:0", || "x 1\n".to_string()).expect("bind");
        let body = fetch(srv.addr(), Duration::from_secs(5)).expect("metrics");
        assert_eq!(body, "x 1\n");
        let mut s = TcpStream::connect(srv.addr()).expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
        let mut r = String::new();
        use std::io::Read;
        let _ = s.read_to_string(&mut r);
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    }
}
