//! Applying faults: signals to instance process groups, the fake upstream's admin API, the
//! proxy's SIGHUP reload with a re-expanded config.

use super::probe;
use std::net::SocketAddr;
use std::time::Duration;

/// Admin API request for a runtime fault on a fake upstream instance.
pub fn admin(port: u16, path: &str) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match probe::request(addr, "POST", path, Duration::from_secs(2)) {
        Ok((200..=299, _)) => Ok(()),
        Ok((code, body)) => Err(format!("admin {path}: HTTP {code}: {}", body.trim())),
        Err(e) => Err(format!("admin {path}: {e}")),
    }
}
