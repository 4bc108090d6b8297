//! The `hold_connections` fault on a `[[service]]`: the runner opens N client connections to
//! the real server and keeps them idle, as another service or a leaked pool would, so that
//! the server's own limit (PostgreSQL `max_connections`, Redis `maxclients`) is what the apps
//! meet. A PostgreSQL connection counts once the server has started a backend for it (the
//! startup handshake reaches ReadyForQuery, trust authentication); a Redis one once it
//! answered PING.
//!
//! The `lock_table` fault on a PostgreSQL service: the runner's own connection takes
//! `ACCESS EXCLUSIVE` on a table (what `ALTER TABLE`, `TRUNCATE` or `VACUUM FULL` take) and
//! keeps its transaction open, so every query that touches the table waits inside PostgreSQL
//! until the lock is released (the connection is closed: the backend rolls back).
//!
//! The `slow_query` fault on a Redis service: the runner's own connection sends `DEBUG SLEEP`
//! (allowed from loopback: the runner starts Redis with `enable-debug-command local`), one
//! command that runs for the fault's `for`; Redis runs one command at a time, so every
//! client's commands wait behind it, as behind a `KEYS *` on a large keyspace or a long Lua
//! script.

use super::pgwire;
use crate::scenario::ServiceKind;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connections held open, and what the server said to the ones it refused.
#[derive(Debug, Default)]
pub struct Held {
    /// The open connections (closed when dropped).
    pub conns: Vec<TcpStream>,
    /// The first refusal (server message or I/O error), if any.
    pub refused: Option<String>,
}

/// Opens `n` connections to the service on `port`, trying again (every 20 ms) while the
/// server refuses until `limit` has passed (the apps' own connections come and go), and
/// returns those it got.
pub fn open(kind: ServiceKind, port: u16, n: u32, limit: Duration) -> Held {
    let end = Instant::now() + limit;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut held = Held::default();
    while held.conns.len() < n as usize && Instant::now() < end {
        match connect(kind, addr) {
            Ok(c) => held.conns.push(c),
            Err(e) => {
                held.refused = Some(e);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    if held.conns.len() == n as usize {
        held.refused = None;
    }
    held
}

fn connect(kind: ServiceKind, addr: SocketAddr) -> Result<TcpStream, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    match kind {
        ServiceKind::Postgres => pgwire::startup(&mut s)?,
        ServiceKind::Redis => {
            s.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).map_err(|e| e.to_string())?;
            let reply = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            if !reply.starts_with("+PONG") {
                return Err(reply);
            }
        }
    }
    Ok(s)
}

/// How long `lock_table` waits for the lock itself (queries already running on the table hold
/// locks it must wait for); past it, the fault fails with PostgreSQL's own message.
const LOCK_WAIT: &str = "2s";

/// Takes `ACCESS EXCLUSIVE` on `table` in an open transaction on a connection of its own to
/// PostgreSQL on `port`, and returns that connection (the lock lasts until it is dropped).
pub fn lock_table(port: u16, table: &str) -> Result<TcpStream, String> {
    let mut s = pgwire::connect(port, Duration::from_secs(5))?;
    let sql = format!(
        "SET lock_timeout = '{LOCK_WAIT}'; BEGIN; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        pgwire::quote_ident(table)
    );
    match pgwire::query(&mut s, &sql)? {
        b'T' => Ok(s),
        st => Err(format!(
            "LOCK TABLE left the session in state {:?}, not in a transaction",
            st as char
        )),
    }
}

/// How long `slow_command` waits for an immediate refusal (DEBUG not allowed, unknown
/// command); a sleeping server answers nothing in that time.
const REFUSAL_WAIT: Duration = Duration::from_millis(100);

/// Sends `DEBUG SLEEP` for `d` to Redis on `port` on a connection of its own, without waiting
/// for the answer (it comes when the sleep ends), and returns that connection. Err: Redis's
/// refusal, or the connection failing.
pub fn slow_command(port: u16, d: Duration) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let cmd = format!("DEBUG SLEEP {:.3}\r\n", d.as_secs_f64());
    s.write_all(cmd.as_bytes()).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(REFUSAL_WAIT))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(n) if n > 0 && buf[0] == b'-' => {
            Err(String::from_utf8_lossy(&buf[1..n]).trim().to_string())
        }
        Ok(0) => Err("Redis closed the connection".into()),
        _ => Ok(s),
    }
}
