//! The client side of a corpus case: send the raw bytes on a fresh connection, read what comes
//! back until the server closes or falls quiet, and reduce it to what is compared: the
//! statuses of the responses in order and whether the connection was left open.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long without a byte (and without EOF) before the connection counts as left open.
const QUIET: Duration = Duration::from_millis(700);
/// The most a case may take on one side.
const OVERALL: Duration = Duration::from_secs(8);

/// What the client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Each response's status (`HTTP/0.9` for a body without a status line, `junk:...` for
    /// bytes that are not a response).
    pub responses: Vec<String>,
    /// `closed` or `open`.
    pub fate: &'static str,
}

/// Sends `bytes` to `addr` and watches the answer.
pub fn send(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    // A server that refuses early may reset the rest of a large write: what it answered
    // before is still read below.
    let _ = s.write_all(bytes);
    let start = Instant::now();
    let mut out = Vec::new();
    let mut tmp = [0u8; 16384];
    let fate = loop {
        if start.elapsed() > OVERALL {
            break "open";
        }
        let _ = s.set_read_timeout(Some(QUIET));
        match s.read(&mut tmp) {
            Ok(0) => break "closed",
            Ok(n) => out.extend_from_slice(&tmp[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break "open";
            }
            Err(_) => break "closed",
        }
    };
    Answer {
        responses: responses(&out),
        fate,
    }
}

/// The statuses of the responses in `raw`, in order.
fn responses(mut raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        if !raw.starts_with(b"HTTP/") {
            out.push(if out.is_empty() {
                "HTTP/0.9".to_string()
            } else {
                format!("junk:{}", super::recorder::show(&raw[..raw.len().min(40)]))
            });
            break;
        }
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut hs);
        let Ok(httparse::Status::Complete(n)) = r.parse(raw) else {
            out.push("partial".to_string());
            break;
        };
        let status = r.code.unwrap_or(0);
        out.push(status.to_string());
        let cl = r
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            });
        let chunked = r.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("transfer-encoding")
                && h.value.eq_ignore_ascii_case(b"chunked")
        });
        raw = &raw[n..];
        let used = if (100..200).contains(&status) || status == 204 || status == 304 {
            0
        } else if let Some(cl) = cl {
            cl.min(raw.len())
        } else if chunked {
            chunked_len(raw)
        } else {
            raw.len()
        };
        raw = &raw[used..];
    }
    out
}

/// Length of a chunked body at the start of `raw` (all of `raw` when it does not end).
fn chunked_len(raw: &[u8]) -> usize {
    let mut i = 0;
    loop {
        let Some(eol) = raw[i..].windows(2).position(|w| w == b"\r\n") else {
            return raw.len();
        };
        let text = String::from_utf8_lossy(&raw[i..i + eol]).into_owned();
        let Ok(size) = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return raw.len();
        };
        i += eol + 2 + size;
        if size == 0 {
            return (i + 2).min(raw.len());
        }
        i = (i + 2).min(raw.len());
    }
}
