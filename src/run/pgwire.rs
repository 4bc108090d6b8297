//! The few PostgreSQL wire-protocol (3.0) messages the runner itself sends to a `[[service]]`:
//! the startup handshake as user `postgres` (trust authentication on loopback), and simple
//! queries (`Q`) read up to ReadyForQuery. Enough to hold backends (`hold_connections`), run
//! a service's `init_sql`, and take a table lock (`lock_table`); not a client library.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connects to PostgreSQL on `127.0.0.1:port` and completes the startup handshake.
pub fn connect(port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    startup(&mut s)?;
    Ok(s)
}

/// The startup message of protocol 3.0 as user `postgres` to database `postgres`, then the
/// server's messages up to ReadyForQuery (`Z`) or an ErrorResponse (`E`, returned as text).
pub fn startup(s: &mut TcpStream) -> Result<(), String> {
    let params = b"user\0postgres\0database\0postgres\0\0";
    let len = (8 + params.len()) as u32;
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(&196_608u32.to_be_bytes());
    msg.extend_from_slice(params);
    s.write_all(&msg).map_err(|e| e.to_string())?;
    for _ in 0..64 {
        let (kind, body) = message(s)?;
        match kind {
            b'Z' => return Ok(()),
            b'E' => return Err(error_text(&body)),
            _ => {}
        }
    }
    Err("no ReadyForQuery after 64 messages".into())
}

/// Runs `sql` (one or more `;`-separated statements) as a simple query and reads the answers
/// up to ReadyForQuery. The first ErrorResponse is the error; the transaction status of
/// ReadyForQuery (`I` idle, `T` in a transaction, `E` failed transaction) is returned.
pub fn query(s: &mut TcpStream, sql: &str) -> Result<u8, String> {
    if sql.contains('\0') {
        return Err("a NUL byte in the SQL".into());
    }
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((4 + sql.len() + 1) as u32).to_be_bytes());
    msg.extend_from_slice(sql.as_bytes());
    msg.push(0);
    s.write_all(&msg).map_err(|e| e.to_string())?;
    let mut first_error = None;
    for _ in 0..100_000 {
        let (kind, body) = message(s)?;
        match kind {
            b'E' if first_error.is_none() => first_error = Some(error_text(&body)),
            b'Z' => {
                return match first_error {
                    Some(e) => Err(e),
                    None => Ok(body.first().copied().unwrap_or(b'I')),
                };
            }
            _ => {}
        }
    }
    Err("no ReadyForQuery after 100000 messages".into())
}

/// One backend message: its type byte and body.
fn message(s: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).map_err(|e| e.to_string())?;
    let body_len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]).saturating_sub(4);
    if body_len > 1 << 20 {
        return Err(format!("message of {body_len} bytes"));
    }
    let mut body = vec![0u8; body_len as usize];
    s.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok((head[0], body))
}

/// The severity and message fields of an ErrorResponse body (`FATAL: sorry, too many …`).
pub fn error_text(body: &[u8]) -> String {
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

/// `name` as a quoted SQL identifier (`"orders"`, `"a""b"`); `schema.table` quotes each part.
pub fn quote_ident(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_severity_and_message_of_an_error_response() {
        let body = b"SFATAL\0VFATAL\0C53300\0Msorry, too many clients already\0\0";
        assert_eq!(error_text(body), "FATAL: sorry, too many clients already");
    }

    #[test]
    fn quotes_identifiers_part_by_part() {
        assert_eq!(quote_ident("orders"), "\"orders\"");
        assert_eq!(quote_ident("shop.orders"), "\"shop\".\"orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
