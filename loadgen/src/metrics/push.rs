//! Prometheus remote write (protocol 1.0): the text exposition of [`super::Live`] (or of the
//! runner) parsed back into series, encoded as a `prometheus.WriteRequest` protobuf by hand
//! (three small messages), snappy-compressed (block format) and POSTed over plain HTTP on a
//! period and once more at the end.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One series: labels (with `__name__`), sorted by name, and its value.
pub type Series = (Vec<(String, String)>, f64);

/// Parses the sample lines of a text exposition (comments and bad lines are skipped).
pub fn parse_exposition(text: &str) -> Vec<Series> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Series> {
    let name_end = line.find(['{', ' '])?;
    let mut labels = vec![("__name__".to_string(), line[..name_end].to_string())];
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        rest = label_set(body, &mut labels)?;
    }
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    labels.sort();
    Some((labels, value))
}

/// Reads `k="v",…}` into `labels`; returns what follows the `}`.
fn label_set<'a>(body: &'a str, labels: &mut Vec<(String, String)>) -> Option<&'a str> {
    let mut b = body;
    loop {
        if let Some(after) = b.strip_prefix('}') {
            return Some(after);
        }
        let eq = b.find("=\"")?;
        let key = b[..eq].to_string();
        let mut val = String::new();
        let mut close = None;
        let mut it = b[eq + 2..].char_indices();
        while let Some((i, c)) = it.next() {
            match c {
                '\\' => match it.next()?.1 {
                    'n' => val.push('\n'),
                    other => val.push(other),
                },
                '"' => {
                    close = Some(eq + 2 + i + 1);
                    break;
                }
                c => val.push(c),
            }
        }
        labels.push((key, val));
        b = &b[close?..];
        b = b.strip_prefix(',').unwrap_or(b);
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field (wire type 2).
fn bytes_field(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// `WriteRequest { repeated TimeSeries timeseries = 1; }` with `TimeSeries { repeated Label
/// labels = 1; repeated Sample samples = 2; }`, `Label { string name = 1; string value = 2; }`,
/// `Sample { double value = 1; int64 timestamp = 2; }` (milliseconds).
pub fn write_request(series: &[Series], timestamp_ms: i64) -> Vec<u8> {
    let mut req = Vec::new();
    for (labels, value) in series {
        let mut ts = Vec::new();
        for (k, v) in labels {
            let mut l = Vec::new();
            bytes_field(&mut l, 1, k.as_bytes());
            bytes_field(&mut l, 2, v.as_bytes());
            bytes_field(&mut ts, 1, &l);
        }
        let mut s = vec![0x09];
        s.extend_from_slice(&value.to_le_bytes());
        varint(&mut s, 2 << 3);
        varint(&mut s, timestamp_ms as u64);
        bytes_field(&mut ts, 2, &s);
        bytes_field(&mut req, 1, &ts);
    }
    req
}

/// POSTs `body` (protobuf) snappy-compressed to an `http://HOST:PORT/PATH` remote-write URL.
pub fn post(url: &str, body: &[u8]) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--metrics-push {url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/api/v1/write"),
    };
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let data = snap::raw::Encoder::new()
        .compress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{url}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nUser-Agent: proxylab\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        data.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(&data))
        .map_err(|e| format!("{url}: {e}"))?;
    let mut resp = String::new();
    let _ = s.take(64 << 10).read_to_string(&mut resp);
    let status = resp.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "{url}: {}",
            resp.lines().next().unwrap_or("no response")
        ))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Pushes `render()` every `interval` on its own thread; [`Pusher::finish`] pushes the final
/// values and stops. Failures are reported once on stderr and never stop the run.
#[derive(Debug)]
pub struct Pusher {
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pusher {
    /// Starts pushing to `url`.
    pub fn start(
        url: String,
        interval: Duration,
        render: impl Fn() -> String + Send + 'static,
    ) -> Pusher {
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("metrics-push".into())
            .spawn(move || {
                let mut warned = false;
                let mut push = |final_push: bool| {
                    let body = write_request(&parse_exposition(&render()), now_ms());
                    if let Err(e) = post(&url, &body)
                        && (!warned || final_push)
                    {
                        eprintln!("WARNING: metrics push failed: {e}");
                        warned = true;
                    }
                };
                loop {
                    match rx.recv_timeout(interval) {
                        Err(mpsc::RecvTimeoutError::Timeout) => push(false),
                        _ => {
                            push(true);
                            return;
                        }
                    }
                }
            })
            .ok();
        Pusher { stop: tx, thread }
    }

    /// Pushes the final values and waits for the push to end.
    pub fn finish(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_exposition_back() {
        let s =
            parse_exposition("# TYPE x counter\nx{b=\"2\",a=\"q\\\"uote\"} 5\nup 1\nbad line\n");
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].0,
            vec![
                ("__name__".to_string(), "x".to_string()),
                ("a".to_string(), "q\"uote".to_string()),
                ("b".to_string(), "2".to_string())
            ]
        );
        assert_eq!(s[0].1, 5.0);
        assert_eq!(s[1].0.len(), 1);
    }

    #[test]
    fn encodes_a_write_request() {
        let req = write_request(&[(vec![("__name__".into(), "up".into())], 1.0)], 1000);
        // TimeSeries(len) { Label(len) { name "__name__", value "up" }, Sample(len) { 1.0, 1000 } }
        let mut want = vec![0x0a, 30, 0x0a, 14, 0x0a, 8];
        want.extend_from_slice(b"__name__");
        want.extend_from_slice(&[0x12, 2]);
        want.extend_from_slice(b"up");
        want.extend_from_slice(&[0x12, 12, 0x09]);
        want.extend_from_slice(&1.0f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0xe8, 0x07]);
        assert_eq!(req, want);
    }
}
