//! The admin listener (`--admin-port`): JSON counters and runtime faults, on its own thread so
//! that it answers even while a worker's event loop is blocked.
//!
//! | request | effect |
//! | --- | --- |
//! | `GET /counters` | [`Counters`] as JSON (summed over workers under a supervisor) |
//! | `GET /faults` | [`FaultState`] as JSON |
//! | `POST /faults/health?state=unhealthy\|healthy` | health routes answer 503 / 200 |
//! | `POST /faults/latency?multiplier=X` | multiply every latency by X (≥ 0) |
//! | `POST /faults/accept?state=stop\|resume` | stop / resume accepting connections |
//! | `POST /faults/crash[?worker=I\|all]` | kill a worker (or every worker) abruptly (SIGKILL-like: no drain) |
//! | `POST /faults/lock?table=NAME&state=on\|off` | `db` routes reading table NAME wait until it is released |

use crate::shared::{Counters, FaultState, Shared};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// What the admin API acts on: one process, or a supervisor and its workers.
pub trait Backend: Send + Sync + 'static {
    /// This process's own counters and faults.
    fn shared(&self) -> &Shared;
    /// Counters to report (default: this process's).
    fn counters(&self) -> Counters {
        self.shared().counters()
    }
    /// Called after a fault request was applied locally; a supervisor forwards it to workers.
    fn forward(&self, _path_and_query: &str) {}
    /// Crashes worker `index` (or any), returning a description.
    fn crash(&self, index: Option<u32>) -> Result<String, String>;
}

/// The admin backend of a single process: crashing it exits the process with status 70.
#[derive(Debug)]
pub struct ProcessBackend(pub Arc<Shared>);

impl Backend for ProcessBackend {
    fn shared(&self) -> &Shared {
        &self.0
    }
    fn crash(&self, index: Option<u32>) -> Result<String, String> {
        if let Some(i) = index.filter(|i| *i > 0) {
            return Err(format!("no worker {i} (have 1)"));
        }
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            eprintln!("ERROR:    crashing on admin request");
            std::process::exit(70);
        });
        Ok(format!("crashing process {}", std::process::id()))
    }
}

/// Binds the admin listener on `host:port` and serves it on a background thread.
pub fn spawn(host: &str, port: u16, backend: Arc<dyn Backend>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = handle(stream, backend.as_ref());
            }
        })?;
    Ok(addr)
}

fn handle(mut s: TcpStream, b: &dyn Backend) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (method, target) = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("/").to_string(),
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < 64 * 1024 => {}
            _ => return reply(&mut s, 400, "{\"error\":\"bad request\"}"),
        }
    };
    let (status, body) = route(b, &method, &target);
    reply(&mut s, status, &body)
}

fn query<'a>(q: &'a str, key: &str) -> Option<&'a str> {
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn err(msg: &str) -> (u16, String) {
    (400, serde_json::json!({ "error": msg }).to_string())
}

/// Dispatches one admin request; returns status and JSON body.
fn route(b: &dyn Backend, method: &str, target: &str) -> (u16, String) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let faults = &b.shared().faults;
    match (method, path) {
        ("GET", "/") | ("GET", "/counters") => (
            200,
            serde_json::to_string(&b.counters()).unwrap_or_default(),
        ),
        ("GET", "/faults") => (200, fault_json(&faults.state())),
        ("GET", "/heartbeat") => (
            200,
            format!("{{\"age_ms\":{}}}", b.shared().heartbeat_age_ms()),
        ),
        ("POST", "/faults/health") => match query(q, "state") {
            Some("unhealthy") => set(b, target, || faults.unhealthy.store(true, Relaxed)),
            Some("healthy") => set(b, target, || faults.unhealthy.store(false, Relaxed)),
            _ => err("state must be unhealthy or healthy"),
        },
        ("POST", "/faults/latency") => {
            match query(q, "multiplier").and_then(|m| m.parse::<f64>().ok()) {
                Some(m) if m.is_finite() && m >= 0.0 => {
                    set(b, target, || faults.set_latency_multiplier(m))
                }
                _ => err("multiplier must be a number >= 0"),
            }
        }
        ("POST", "/faults/accept") => match query(q, "state") {
            Some("stop") => set(b, target, || faults.accept_paused.store(true, Relaxed)),
            Some("resume") => set(b, target, || faults.accept_paused.store(false, Relaxed)),
            _ => err("state must be stop or resume"),
        },
        ("POST", "/faults/lock") => match (query(q, "table"), query(q, "state")) {
            (Some(t), Some(st @ ("on" | "off"))) if !t.is_empty() => {
                set(b, target, || faults.lock_table(t, st == "on"))
            }
            _ => err("table=NAME and state=on|off"),
        },
        ("POST", "/faults/crash") if query(q, "worker") == Some("all") => {
            let mut killed = Vec::new();
            for i in 0..256 {
                match b.crash(Some(i)) {
                    Ok(msg) => killed.push(msg),
                    Err(msg) if msg.starts_with("no worker") => break,
                    Err(_) => {}
                }
            }
            if killed.is_empty() {
                return err("no worker is running");
            }
            (200, serde_json::json!({ "crashed": killed }).to_string())
        }
        ("POST", "/faults/crash") => {
            let index = match query(q, "worker").map(str::parse::<u32>) {
                None => None,
                Some(Ok(i)) => Some(i),
                Some(Err(_)) => return err("worker must be a worker index"),
            };
            match b.crash(index) {
                Ok(msg) => (200, serde_json::json!({ "crashed": msg }).to_string()),
                Err(msg) => err(&msg),
            }
        }
        _ => (404, "{\"error\":\"not found\"}".to_string()),
    }
}

fn set(b: &dyn Backend, target: &str, f: impl FnOnce()) -> (u16, String) {
    f();
    b.shared().faults.changed.notify_waiters();
    b.forward(target);
    (200, fault_json(&b.shared().faults.state()))
}

fn fault_json(s: &FaultState) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn reply(s: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = crate::wire::reason::reason(status);
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())
}

/// A minimal blocking HTTP/1.1 client for the admin API (used by the supervisor and tests):
/// sends `method path` and returns status and body.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}
