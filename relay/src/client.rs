//! The controller's side of the control channel (blocking, for the scenario runner): one
//! connection per request, bounded in time.

use crate::control::{LinkStats, Request, Response};
use crate::toxic::ToxicSpec;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The line a relay prints when its control channel is ready.
pub const READY_PREFIX: &str = "proxylab-relay control ";

/// Reads the control port from the ready line `proxylab-relay control 127.0.0.1:PORT`.
pub fn parse_ready(line: &str) -> Option<u16> {
    line.strip_prefix(READY_PREFIX)?
        .trim()
        .parse::<SocketAddr>()
        .ok()
        .map(|a| a.port())
}

/// A relay's control channel.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    addr: SocketAddr,
}

impl Client {
    /// The relay whose control channel is on 127.0.0.1:`port`.
    pub fn new(port: u16) -> Client {
        Client {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Sends one request; an answer with `ok = false` is an error carrying its message.
    pub fn call(&self, req: &Request) -> Result<Response, String> {
        let io = |e: std::io::Error| format!("relay control {}: {e}", self.addr);
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).map_err(io)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(io)?;
        s.set_write_timeout(Some(Duration::from_secs(5)))
            .map_err(io)?;
        let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
        line.push('\n');
        s.write_all(line.as_bytes()).map_err(io)?;
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).map_err(io)?;
        let r: Response = serde_json::from_str(&answer)
            .map_err(|e| format!("relay control: unreadable answer {answer:?}: {e}"))?;
        if r.ok {
            Ok(r)
        } else {
            Err(r.error.unwrap_or_else(|| "relay refused".into()))
        }
    }

    /// Opens a link; returns its port.
    pub fn listen(&self, link: &str, backend: SocketAddr) -> Result<u16, String> {
        let r = self.call(&Request::Listen {
            link: link.to_string(),
            backend,
        })?;
        r.port.ok_or_else(|| "relay answered without a port".into())
    }

    /// Adds toxic `id` to `link`.
    pub fn add(&self, link: &str, id: u64, toxic: &ToxicSpec) -> Result<(), String> {
        self.call(&Request::Add {
            link: link.to_string(),
            id,
            toxic: toxic.clone(),
        })
        .map(|_| ())
    }

    /// Removes toxic `id` from `link`.
    pub fn remove(&self, link: &str, id: u64) -> Result<(), String> {
        self.call(&Request::Remove {
            link: link.to_string(),
            id,
        })
        .map(|_| ())
    }

    /// Counters per link.
    pub fn stats(&self) -> Result<BTreeMap<String, LinkStats>, String> {
        Ok(self.call(&Request::Stats)?.links.unwrap_or_default())
    }
}
