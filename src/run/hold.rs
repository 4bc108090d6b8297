//! The `hold_connections` fault on a `[[service]]`: the runner opens N client connections to
//! the real server and keeps them idle, as another service or a leaked pool would, so that
//! the server's own limit (PostgreSQL `max_connections`, Redis `maxclients`) is what the apps
//! meet. A PostgreSQL connection counts once the server has started a backend for it (the
//! startup handshake reaches ReadyForQuery, trust authentication); a Redis one once it
//! answered PING.

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
        ServiceKind::Postgres => postgres_startup(&mut s)?,
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

/// The startup message of protocol 3.0 as user `postgres` to database `postgres`, then the
/// server's messages up to ReadyForQuery (`Z`) or an ErrorResponse (`E`, returned as text).
fn postgres_startup(s: &mut TcpStream) -> Result<(), String> {
    let params = b"user\0postgres\0database\0postgres\0\0";
    let len = (8 + params.len()) as u32;
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(&196_608u32.to_be_bytes());
    msg.extend_from_slice(params);
    s.write_all(&msg).map_err(|e| e.to_string())?;
    for _ in 0..64 {
        let mut head = [0u8; 5];
        s.read_exact(&mut head).map_err(|e| e.to_string())?;
        let body_len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]).saturating_sub(4);
        if body_len > 1 << 20 {
            return Err(format!("message of {body_len} bytes"));
        }
        let mut body = vec![0u8; body_len as usize];
        s.read_exact(&mut body).map_err(|e| e.to_string())?;
        match head[0] {
            b'Z' => return Ok(()),
            b'E' => return Err(error_text(&body)),
            _ => {}
        }
    }
    Err("no ReadyForQuery after 64 messages".into())
}

/// The severity and message fields of an ErrorResponse body (`FATAL: sorry, too many …`).
fn error_text(body: &[u8]) -> String {
    let mut severity = String::new();
    let mut message = String::new();
    for field in body.split(|b| *b == 0) {
        match field.split_first() {
            Some((b'S', v)) => severity = String::from_utf8_lossy(v).into_owned(),
            Some((b'M', v)) => message = String::from_utf8_lossy(v).into_owned(),
            _ => {}
        }
    }
    format!("{severity}: {message}")
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn reads_severity_and_message_of_an_error_response() {
        let body = b"SFATAL\0VFATAL\0C53300\0Msorry, too many clients already\0\0";
        assert_eq!(error_text(body), "FATAL: sorry, too many clients already");
    }
}
