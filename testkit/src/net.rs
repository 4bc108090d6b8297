//! Ports (`proxylab_harness`) and raw byte exchanges on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago (for programs that cannot bind port 0,
/// such as nginx). Bind it soon; a collision shows up as a bind error of that program.
pub fn free_port() -> u16 {
    proxylab_harness::free_port().expect("bind 127.0.0.1:0")
}

/// Waits until a TCP connect to `addr` succeeds, polling for at most `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> std::io::Result<()> {
    if proxylab_harness::wait_port(addr, Instant::now() + timeout, || true) {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{addr} not accepting after {timeout:?}"),
        ))
    }
}

/// Connects to `addr`, writes `request` as is, and reads until EOF or until `timeout` passes
/// without the peer closing. Returns everything read (possibly partial on timeout).
pub fn raw_exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.write_all(request)?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(out);
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(out);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}
