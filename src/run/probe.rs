//! Tiny blocking HTTP/1.1 client for the runner's own requests to loopback: stub_status pages
//! and the fake upstreams' admin API. Bounded by a timeout; `Connection: close`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `method path` to `addr` and returns (status, body).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.take(1 << 20).read_to_end(&mut buf)?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&buf) {
        Ok(httparse::Status::Complete(n)) => {
            let code = resp.code.unwrap_or(0);
            let chunked = resp.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("transfer-encoding")
                    && String::from_utf8_lossy(h.value)
                        .to_ascii_lowercase()
                        .contains("chunked")
            });
            let body = &buf[n..];
            let body = if chunked {
                dechunk(body)
            } else {
                body.to_vec()
            };
            Ok((code, String::from_utf8_lossy(&body).into_owned()))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "bad HTTP response",
        )),
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || nl + 2 + size > b.len() {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[(nl + 4 + size).min(b.len())..];
    }
    out
}

/// Parses an nginx `stub_status` page into `active`, `accepts`, `handled`, `requests`,
/// `reading`, `writing`, `waiting`.
pub fn parse_stub_status(body: &str) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let mut lines = body.lines();
    while let Some(l) = lines.next() {
        let l = l.trim();
        if let Some(v) = l.strip_prefix("Active connections:") {
            if let Ok(v) = v.trim().parse() {
                m.insert("active".to_string(), v);
            }
        } else if l.starts_with("server accepts") {
            if let Some(next) = lines.next() {
                let v: Vec<f64> = next
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                for (k, x) in ["accepts", "handled", "requests"].iter().zip(v) {
                    m.insert(k.to_string(), x);
                }
            }
        } else if l.starts_with("Reading:") {
            let w: Vec<&str> = l.split_whitespace().collect();
            for pair in w.chunks(2) {
                if let [k, v] = pair
                    && let Ok(v) = v.parse()
                {
                    m.insert(k.trim_end_matches(':').to_ascii_lowercase(), v);
                }
            }
        }
    }
    m
}

/// Parses our proxy's `proxylab_cache_status` page (per zone: `Cache zone NAME: keys K size S
/// max_size M`, then lines of names and lines of counts) into totals over the zones: one entry
/// per `$upstream_cache_status` (`HIT`, `MISS`, ...), `stored`, `evicted`, `refused`, `keys`
/// and `size`.
pub fn parse_cache_status(body: &str) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    let mut lines = body.lines().map(str::trim);
    while let Some(l) = lines.next() {
        if let Some(rest) = l.strip_prefix("Cache zone ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            for pair in words.windows(2) {
                if matches!(pair[0], "keys" | "size")
                    && let Ok(x) = pair[1].parse::<f64>()
                {
                    *m.entry(pair[0].to_string()).or_default() += x;
                }
            }
            continue;
        }
        let names: Vec<&str> = l.split_whitespace().collect();
        if names.is_empty() || names.iter().any(|n| n.parse::<f64>().is_ok()) {
            continue;
        }
        let Some(counts) = lines.next() else { break };
        let counts: Vec<f64> = counts
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if counts.len() != names.len() {
            continue;
        }
        for (n, x) in names.iter().zip(counts) {
            *m.entry((*n).to_string()).or_default() += x;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nginx_stub_status() {
        let b = "Active connections: 3 \nserver accepts handled requests\n 10 10 42 \nReading: 0 Writing: 1 Waiting: 2 \n";
        let m = parse_stub_status(b);
        assert_eq!(m["active"], 3.0);
        assert_eq!(m["requests"], 42.0);
        assert_eq!(m["waiting"], 2.0);
        assert_eq!(m["writing"], 1.0);
    }

    #[test]
    fn parses_and_sums_cache_zones() {
        let b = "Cache zone a: keys 2 size 8704 max_size 0\n\
                 MISS BYPASS EXPIRED STALE UPDATING REVALIDATED HIT\n 2 0 1 0 0 0 5\n\
                 stored evicted refused\n 2 0 0\n\
                 Cache zone b: keys 1 size 100 max_size 1048576\n\
                 MISS BYPASS EXPIRED STALE UPDATING REVALIDATED HIT\n 1 0 0 3 0 0 7\n\
                 stored evicted refused\n 1 1 0\n";
        let m = parse_cache_status(b);
        assert_eq!(m["HIT"], 12.0);
        assert_eq!(m["MISS"], 3.0);
        assert_eq!(m["STALE"], 3.0);
        assert_eq!(m["evicted"], 1.0);
        assert_eq!(m["keys"], 3.0);
        assert_eq!(m["size"], 8804.0);
        assert!(!m.contains_key("max_size"));
        assert!(parse_cache_status("<html>404</html>").is_empty());
    }

    #[test]
    fn dechunks() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }
}
