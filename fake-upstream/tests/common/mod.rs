//! Test helpers: start the fake (this crate's binary) or real uvicorn serving
//! `tests/fastapi_app/app.py` with the same flags, and a raw HTTP/1.1 client that keeps the
//! exact bytes and timing the differential tests compare.
#![allow(dead_code)]

use proxylab_testkit::{Proc, free_port, require_python};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// Which server a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `proxylab-upstream`.
    Fake,
    /// `python3 -m uvicorn app:app` with the reference FastAPI app.
    Uvicorn,
}

/// Server options that map to different knobs on each side.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// Flags both understand (uvicorn's names).
    pub args: Vec<String>,
    /// QueuePool (pool_size, max_overflow, pool_timeout s): fake flags / app env vars.
    pub pool: Option<(u32, i64, f64)>,
    /// Worker count (both take `--workers`; listed separately to wait for every worker).
    pub workers: u32,
}

impl Opts {
    /// Options with these common flags.
    pub fn args(args: &[&str]) -> Opts {
        Opts {
            args: args.iter().map(|s| s.to_string()).collect(),
            pool: None,
            workers: 1,
        }
    }
}

/// A running server under test.
pub struct Server {
    pub flavor: Flavor,
    pub addr: SocketAddr,
    pub proc: Proc,
}

const PY_HINT: &str = "pip install 'uvicorn[standard]' fastapi sqlalchemy";

impl Server {
    /// Starts `flavor` with `opts`; `None` when uvicorn/fastapi are not installed (SKIPPED
    /// printed by testkit, or a panic under PROXYLAB_REQUIRE_REFERENCES=1).
    pub fn start(flavor: Flavor, opts: &Opts) -> Option<Server> {
        match flavor {
            Flavor::Fake => Some(Self::fake(opts)),
            Flavor::Uvicorn => Self::uvicorn(opts),
        }
    }

    fn fake(opts: &Opts) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxylab-upstream"));
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .args(&opts.args);
        if opts.workers > 1 {
            cmd.args(["--workers", &opts.workers.to_string()]);
        }
        if let Some((size, overflow, timeout)) = opts.pool {
            cmd.args([
                "--pool-size",
                &size.to_string(),
                "--max-overflow",
                &overflow.to_string(),
            ]);
            cmd.args(["--pool-timeout", &timeout.to_string()]);
        }
        let proc = Proc::spawn("fake-upstream", cmd).expect("spawn proxylab-upstream");
        let line = proc
            .wait_stdout_line(|l| l.contains("listening on"), Duration::from_secs(20))
            .unwrap_or_else(|| panic!("fake did not start: {}", proc.stderr_log()));
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("bad ready line {line:?}"));
        Server {
            flavor: Flavor::Fake,
            addr,
            proc,
        }
    }

    fn uvicorn(opts: &Opts) -> Option<Server> {
        let python = require_python(&["uvicorn", "fastapi", "sqlalchemy"], PY_HINT)?;
        let port = free_port();
        let app_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fastapi_app");
        let mut cmd = Command::new(python);
        cmd.args([
            "-m",
            "uvicorn",
            "app:app",
            "--app-dir",
            app_dir,
            "--host",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string()])
        .args(&opts.args);
        if opts.workers > 1 {
            cmd.args(["--workers", &opts.workers.to_string()]);
        }
        if let Some((size, overflow, timeout)) = opts.pool {
            cmd.env("PROXYLAB_POOL_SIZE", size.to_string())
                .env("PROXYLAB_MAX_OVERFLOW", overflow.to_string())
                .env("PROXYLAB_POOL_TIMEOUT", timeout.to_string());
        }
        let proc = Proc::spawn("uvicorn", cmd).expect("spawn uvicorn");
        // Readiness: every worker logged "Application startup complete" (no probe connection,
        // which would count against --limit-concurrency).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = proc.stderr_log();
            let started =
                log.matches("Application startup complete").count() >= opts.workers.max(1) as usize;
            if started && log.contains("Uvicorn running on") {
                break;
            }
            assert!(Instant::now() < deadline, "uvicorn did not start: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Server {
            flavor: Flavor::Uvicorn,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            proc,
        })
    }

    /// Opens a client connection.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).expect("connect");
        s.set_nodelay(true).ok();
        s
    }
}

/// Runs `check` against the fake and, when installed, real uvicorn, with the same options.
pub fn both(opts: &Opts, mut check: impl FnMut(&Server)) {
    for flavor in [Flavor::Fake, Flavor::Uvicorn] {
        if let Some(s) = Server::start(flavor, opts) {
            eprintln!("--- checking {flavor:?}");
            check(&s);
        }
    }
}

/// A parsed response plus its raw bytes.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub raw: Vec<u8>,
}

impl Resp {
    /// First header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The raw bytes with the `date` value blanked, for byte-exact comparisons.
    pub fn raw_without_date(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw).to_string();
        text.split("\r\n")
            .map(|l| {
                if l.starts_with("date: ") {
                    "date: X"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    }
}

/// Writes `req` as-is.
pub fn send(s: &mut TcpStream, req: &str) {
    s.write_all(req.as_bytes()).expect("write request");
}

/// `GET path` with keep-alive.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n")
}

/// `GET path` with `Connection: close`.
pub fn get_close(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
}

/// Reads one response (content-length or chunked or until EOF) within `timeout`.
pub fn read_response(s: &mut TcpStream, timeout: Duration) -> std::io::Result<Resp> {
    let deadline = Instant::now() + timeout;
    let mut raw = Vec::new();
    // One byte at a time, so that a pipelined next response stays in the socket.
    let mut chunk = [0u8; 1];
    loop {
        if let Some(r) = try_parse(&raw)? {
            return Ok(r);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "response timed out",
            ));
        }
        s.set_read_timeout(Some(left))?;
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("EOF after {} bytes", raw.len()),
            ));
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}

fn try_parse(raw: &[u8]) -> std::io::Result<Option<Resp>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let n = match r.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(std::io::Error::new(ErrorKind::InvalidData, e.to_string())),
    };
    let status = r.code.unwrap_or(0);
    let hs: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).to_string(),
            )
        })
        .collect();
    let find = |name: &str| {
        hs.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let rest = &raw[n..];
    let body = if status == 101 || status == 204 || status == 304 {
        Some((Vec::new(), 0))
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        (rest.len() >= len).then(|| (rest[..len].to_vec(), len))
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else {
        None
    };
    Ok(body.map(|(body, used)| Resp {
        status,
        headers: hs,
        body,
        raw: raw[..n + used].to_vec(),
    }))
}

fn dechunk(mut rest: &[u8]) -> Option<(Vec<u8>, usize)> {
    let total = rest.len();
    let mut body = Vec::new();
    loop {
        let i = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..i]).ok()?.trim(), 16).ok()?;
        rest = &rest[i + 2..];
        if size == 0 {
            if rest.len() < 2 {
                return None;
            }
            return Some((body, total - rest.len() + 2));
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Orderly FIN, after this many bytes.
    Eof(usize),
    /// RST.
    Reset,
    /// Still open when `timeout` expired.
    Open,
}

/// Waits up to `timeout` for the peer to close; returns how and when (elapsed since `since`).
pub fn wait_end(s: &mut TcpStream, timeout: Duration) -> (End, Duration) {
    let start = Instant::now();
    let mut bytes = 0;
    let mut buf = [0u8; 4096];
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return (End::Open, start.elapsed());
        }
        s.set_read_timeout(Some(left)).ok();
        match s.read(&mut buf) {
            Ok(0) => return (End::Eof(bytes), start.elapsed()),
            Ok(n) => bytes += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (End::Open, start.elapsed());
            }
            Err(_) => return (End::Reset, start.elapsed()),
        }
    }
}

/// One request on a fresh `Connection: close` connection; returns the response.
pub fn fetch(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    send(&mut s, &get_close(path));
    read_response(&mut s, timeout)
}
