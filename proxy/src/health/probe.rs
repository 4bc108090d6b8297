//! One health probe: `GET uri HTTP/1.1` with the proxied server's Host and `Connection:
//! close`, the response read (head and the first 64 KiB of body) within a deadline.

use crate::conf::health::{MatchBlock, default_ok};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most bytes of a probe response read (head + body prefix for `body ~`).
const MAX_RESPONSE: usize = 64 * 1024;

/// Result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Response matched.
    Healthy(u16),
    /// Response arrived but did not match (status given).
    Mismatch(u16),
    /// Connect, send, read or parse failed, or the deadline passed (reason).
    Failed(String),
}

impl ProbeOutcome {
    /// Whether the probe counts as a pass.
    pub fn ok(&self) -> bool {
        matches!(self, ProbeOutcome::Healthy(_))
    }
}

/// Probes `addr`: the whole exchange must finish within `timeout`.
pub async fn probe(
    addr: SocketAddr,
    host: &str,
    uri: &str,
    rule: Option<&MatchBlock>,
    timeout: Duration,
) -> ProbeOutcome {
    match tokio::time::timeout(timeout, exchange(addr, host, uri)).await {
        Err(_) => ProbeOutcome::Failed("timed out".into()),
        Ok(Err(e)) => ProbeOutcome::Failed(e),
        Ok(Ok(buf)) => judge(&buf, rule),
    }
}

async fn exchange(addr: SocketAddr, host: &str, uri: &str) -> Result<Vec<u8>, String> {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect() failed ({e})"))?;
    let req = format!(
        "GET {uri} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: proxylab-health-check\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send() failed ({e})"))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    while buf.len() < MAX_RESPONSE {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("recv() failed ({e})"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

fn judge(buf: &[u8], rule: Option<&MatchBlock>) -> ProbeOutcome {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut hs);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return ProbeOutcome::Failed("upstream prematurely closed connection".into());
        }
        Err(e) => return ProbeOutcome::Failed(format!("upstream sent invalid header ({e})")),
    };
    let status = r.code.unwrap_or(0);
    let ok = match rule {
        None => default_ok(status),
        Some(m) => {
            let headers: Vec<(String, Vec<u8>)> = r
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect();
            m.matches(status, &headers, &buf[head_len..])
        }
    };
    if ok {
        ProbeOutcome::Healthy(status)
    } else {
        ProbeOutcome::Mismatch(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_is_2xx_3xx() {
        assert_eq!(
            judge(b"HTTP/1.1 204 No Content\r\n\r\n", None),
            ProbeOutcome::Healthy(204)
        );
        assert_eq!(
            judge(b"HTTP/1.1 302 Found\r\n\r\n", None),
            ProbeOutcome::Healthy(302)
        );
        assert_eq!(
            judge(b"HTTP/1.1 503 X\r\n\r\n", None),
            ProbeOutcome::Mismatch(503)
        );
        assert!(!judge(b"HTTP/1.1 200", None).ok());
        assert!(!judge(b"garbage\r\n\r\n", None).ok());
    }
}
