//! Shared helpers for the proxy's integration tests: our proxy as a real process or in this
//! process ([`Embedded`]) (config
//! placeholders as testkit's nginx: `{PORT}`, `{PORT2}`, `{PORT3}`, `{DIR}`), a whole-file
//! config template used for both proxies, a raw HTTP/1.1 client, and response parsing.

#![allow(dead_code)]

pub mod procs;
pub mod servers;

use proxylab_testkit::{Nginx, Proc, free_port, proxylab_bin};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Our proxy running as `proxylab proxy -c FILE -p DIR`.
pub struct Ours {
    pub proc: Proc,
    pub dir: tempfile::TempDir,
    pub ports: [u16; 3],
    pub conf_path: PathBuf,
}

impl Ours {
    /// Starts our proxy with a whole config (placeholders replaced); waits for the ready line.
    pub fn start_full(conf: &str) -> Ours {
        Ours::start_wrapped(conf, None)
    }

    /// [`Ours::start_full`] with `{DIR}/limited` a tmpfs of `bytes` bytes only the proxy
    /// sees (as nginx's `Nginx::start_full_limited`).
    pub fn start_full_limited(conf: &str, bytes: u64) -> Ours {
        Ours::start_wrapped(conf, Some(bytes))
    }

    fn start_wrapped(conf: &str, limited: Option<u64>) -> Ours {
        let dir = tempfile::Builder::new()
            .prefix("proxylab-ours-")
            .tempdir()
            .expect("tempdir");
        let ports = [free_port(), free_port(), free_port()];
        let text = fill(conf, ports, dir.path());
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, text).expect("write conf");
        let mut cmd = Command::new(proxylab_bin());
        cmd.arg("proxy")
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path());
        if let Some(bytes) = limited {
            let at = dir.path().join("limited");
            std::fs::create_dir_all(&at).expect("limited dir");
            cmd = proxylab_testkit::in_limited_dir(cmd, &at, bytes);
        }
        let proc = Proc::spawn("proxylab-proxy", cmd).expect("spawn proxylab proxy");
        if proc
            .wait_stdout_line(
                |l| l.starts_with("proxylab-proxy ready"),
                Duration::from_secs(60),
            )
            .is_none()
        {
            panic!("our proxy did not start: {}", proc.describe());
        }
        Ours {
            proc,
            dir,
            ports,
            conf_path,
        }
    }

    /// `127.0.0.1:{PORT}`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.ports[0]).into()
    }

    /// The prefix directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// access.log text.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// error.log text.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// Our proxy in this process ([`proxylab_proxy::server::Server`]): no binary to build or
/// spawn; stopped when dropped.
pub struct Embedded {
    pub handle: Option<proxylab_proxy::server::Handle>,
    pub dir: tempfile::TempDir,
    pub ports: [u16; 3],
    pub conf_path: PathBuf,
}

impl Embedded {
    /// Loads a whole config (placeholders replaced) and starts serving it.
    pub fn start_full(conf: &str) -> Embedded {
        let dir = tempfile::Builder::new()
            .prefix("proxylab-embedded-")
            .tempdir()
            .expect("tempdir");
        let ports = [free_port(), free_port(), free_port()];
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, fill(conf, ports, dir.path())).expect("write conf");
        let prefix = Some(dir.path().to_path_buf());
        let loaded = proxylab_proxy::conf::load(&conf_path, prefix.as_deref())
            .unwrap_or_else(|e| panic!("config does not load: {e}"));
        let server = proxylab_proxy::server::Server {
            file: conf_path.clone(),
            prefix,
        };
        let handle = server.start(loaded).expect("server starts");
        Embedded {
            handle: Some(handle),
            dir,
            ports,
            conf_path,
        }
    }

    /// The running server.
    pub fn handle(&mut self) -> &mut proxylab_proxy::server::Handle {
        self.handle.as_mut().expect("running")
    }

    /// `127.0.0.1:{PORT}`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.ports[0]).into()
    }

    /// access.log text.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// error.log text.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop();
        }
    }
}

/// Replaces the placeholders.
pub fn fill(conf: &str, ports: [u16; 3], dir: &Path) -> String {
    conf.replace("{PORT}", &ports[0].to_string())
        .replace("{PORT2}", &ports[1].to_string())
        .replace("{PORT3}", &ports[2].to_string())
        .replace("{DIR}", &dir.display().to_string())
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A whole nginx.conf around an `http {}` body: one worker, logs in `{DIR}`, access log in
/// the `t` format (`$status $upstream_addr $upstream_status "$request"`) unless the body sets
/// its own.
pub fn conf(http_body: &str) -> String {
    format!(
        "{user}worker_processes 1;\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  log_format t '$status $upstream_addr $upstream_status \"$request\"';\n  \
         access_log {{DIR}}/access.log t;\n  client_body_temp_path {{DIR}}/client_body;\n  \
         proxy_temp_path {{DIR}}/proxy_temp;\n{http_body}\n}}\n",
        user = if running_as_root() {
            "user root;\n"
        } else {
            ""
        },
    )
}

/// Both proxies with the same config. `None` when nginx is not installed (SKIPPED).
pub fn both(http_body: &str) -> Option<(Nginx, Ours)> {
    let c = conf(http_body);
    let nginx = Nginx::start_full(&c)?;
    let ours = Ours::start_full(&c);
    Some((nginx, ours))
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// First header value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Headers except Date and Server (the allowed differences), in order.
    pub fn comparable_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date") && !n.eq_ignore_ascii_case("server"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    }
}

/// Parses one response from `raw` (body by Content-Length, chunked, or to EOF).
pub fn parse(raw: &[u8]) -> Option<(Resp, usize)> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut hs);
    let n = match r.parse(raw).ok()? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return None,
    };
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let status = r.code?;
    let reason = r.reason.unwrap_or("").to_string();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let rest = &raw[n..];
    let (body, used) = if let Some(cl) = get("content-length") {
        let cl: usize = cl.trim().parse().ok()?;
        if rest.len() < cl {
            return None;
        }
        (rest[..cl].to_vec(), cl)
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        let mut i = 0;
        loop {
            let line_end = rest[i..].windows(2).position(|w| w == b"\r\n")? + i;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[i..line_end]).ok()?.trim(), 16)
                    .ok()?;
            i = line_end + 2;
            if size == 0 {
                i += 2;
                break;
            }
            body.extend_from_slice(rest.get(i..i + size)?);
            i += size + 2;
        }
        (body, i)
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        (Vec::new(), 0)
    } else {
        (rest.to_vec(), rest.len())
    };
    Some((
        Resp {
            status,
            reason,
            headers,
            body,
        },
        n + used,
    ))
}

/// Sends raw bytes and reads until EOF (or `timeout`); returns the raw response bytes.
pub fn raw(addr: SocketAddr, req: &[u8], timeout: Duration) -> Vec<u8> {
    proxylab_testkit::raw_exchange(addr, req, timeout).unwrap_or_default()
}

/// `METHOD path` with `Host` and `Connection: close`, plus extra header lines and a body.
pub fn request(addr: SocketAddr, method: &str, path: &str, extra: &str, body: &[u8]) -> Resp {
    let mut r =
        format!("{method} {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n{extra}");
    if !body.is_empty() && !extra.to_ascii_lowercase().contains("transfer-encoding") {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    let out = raw(addr, &bytes, Duration::from_secs(20));
    match parse(&out) {
        Some((resp, _)) => resp,
        None => Resp {
            status: 0,
            reason: format!("unparsable: {:?}", String::from_utf8_lossy(&out)),
            headers: Vec::new(),
            body: Vec::new(),
        },
    }
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, "", b"")
}

/// A persistent connection for keep-alive tests.
pub struct Conn {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

impl Conn {
    /// Connects.
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Conn { s, buf: Vec::new() }
    }

    /// Sends raw bytes and reads exactly one response (None on EOF/timeout).
    pub fn exchange(&mut self, req: &[u8]) -> Option<Resp> {
        self.s.write_all(req).ok()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some((r, n)) = parse_complete(&self.buf) {
                self.buf.drain(..n);
                return Some(r);
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut tmp = [0u8; 16384];
            match self.s.read(&mut tmp) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// Whether the server closed the connection (EOF within `wait`).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        self.s.set_read_timeout(Some(wait)).expect("timeout");
        let mut tmp = [0u8; 16];
        matches!(self.s.read(&mut tmp), Ok(0) | Err(_))
            && self.s.read(&mut tmp).map(|n| n == 0).unwrap_or(true)
    }
}

/// Like [`parse`] but never treats "to EOF" bodies as complete.
fn parse_complete(raw: &[u8]) -> Option<(Resp, usize)> {
    let (r, n) = parse(raw)?;
    let framed = r.header("content-length").is_some()
        || r.header("transfer-encoding").is_some()
        || r.status == 204
        || r.status == 304;
    framed.then_some((r, n))
}

/// Waits until `f` returns true, checking every 20 ms for at most `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Access-log lines (after `n` lines appear, bounded wait).
pub fn log_lines(read: impl Fn() -> String, n: usize) -> Vec<String> {
    wait_until(Duration::from_secs(5), || read().lines().count() >= n);
    read().lines().map(str::to_string).collect()
}
