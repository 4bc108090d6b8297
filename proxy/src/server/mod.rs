//! The running proxy: listeners, worker runtimes, signals and reload.

use crate::conf::Loaded;
use std::path::PathBuf;

/// Errors starting the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding a listen address failed.
    #[error("bind() to {0} failed ({1})")]
    Bind(std::net::SocketAddr, std::io::Error),
    /// Any other I/O failure at startup.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the proxy until SIGTERM/SIGINT (fast) or SIGQUIT (graceful).
pub fn run(_conf: PathBuf, _prefix: Option<PathBuf>, _loaded: Loaded) -> Result<(), ServerError> {
    Ok(())
}
