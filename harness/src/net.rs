//! Loopback ports.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound and released), for programs
/// that cannot bind port 0 themselves (nginx). Bind it soon; a collision shows up as that
/// program's bind error.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `addr` accepts a TCP connection (true), `deadline` passes or `alive()` turns
/// false (false). Each connect waits at most 200 ms; between tries, 20 ms.
pub fn wait_port(addr: SocketAddr, deadline: Instant, mut alive: impl FnMut() -> bool) -> bool {
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline || !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
