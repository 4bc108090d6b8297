//! A real nginx on a temporary prefix: free ports and the prefix written into the config
//! (`{PORT}`, `{PORT2}`, `{PORT3}`, `{DIR}`), `daemon off`, the early error log in the
//! prefix, started once its first port accepts; the caller's [`Child`] stops it.

use crate::{Child, Tee, free_port, wait_port};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The file in the prefix that takes nginx's stderr when the caller gives none.
pub const STDERR_FILE: &str = "nginx.stderr";

/// How long nginx has to accept on `{PORT}`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A started nginx.
#[derive(Debug)]
pub struct Started {
    /// The master process (its group holds the workers).
    pub child: Child,
    /// The prefix: `nginx.conf`, logs, temp directories.
    pub dir: tempfile::TempDir,
    /// The ports that replaced `{PORT}`, `{PORT2}`, `{PORT3}`.
    pub ports: [u16; 3],
}

/// Why nginx did not start.
#[derive(Debug)]
pub struct StartError {
    /// Its stderr and error log.
    pub log: String,
}

/// `conf` with the placeholders replaced.
pub fn fill(conf: &str, ports: [u16; 3], dir: &Path) -> String {
    conf.replace("{PORT}", &ports[0].to_string())
        .replace("{PORT2}", &ports[1].to_string())
        .replace("{PORT3}", &ports[2].to_string())
        .replace("{DIR}", &dir.display().to_string())
}

/// Starts `bin` with the whole config `conf` (placeholders as above; it must not contain
/// `daemon`, which is given as `-g "daemon off;"`) in a new prefix named `prefix…`;
/// `stderr` takes nginx's own stderr (a file in the prefix when None).
pub fn start(
    bin: &Path,
    conf: &str,
    prefix: &str,
    stderr: Option<Stdio>,
) -> Result<Started, StartError> {
    start_wrapped(bin, conf, prefix, stderr, &|cmd, _| Ok(cmd))
}

/// [`start`] with nginx's command line passed through `wrap(cmd, prefix_dir)` before it
/// runs (e.g. [`crate::in_limited_dir`] on a directory of the prefix).
pub fn start_wrapped(
    bin: &Path,
    conf: &str,
    prefix: &str,
    stderr: Option<Stdio>,
    wrap: &dyn Fn(Command, &Path) -> std::io::Result<Command>,
) -> Result<Started, StartError> {
    let io = |e: std::io::Error| StartError {
        log: format!("cannot start nginx: {e}"),
    };
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(io)?;
    let ports = [
        free_port().map_err(io)?,
        free_port().map_err(io)?,
        free_port().map_err(io)?,
    ];
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, fill(conf, ports, dir.path())).map_err(io)?;
    let stderr_path = dir.path().join(STDERR_FILE);
    let stderr = match stderr {
        Some(s) => s,
        None => Stdio::from(std::fs::File::create(&stderr_path).map_err(io)?),
    };
    let mut cmd = Command::new(bin);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .args(["-g", "daemon off;"]);
    let cmd = wrap(cmd, dir.path()).map_err(io)?;
    let mut child = Child::spawn("nginx", cmd, stderr, Tee::default()).map_err(io)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], ports[0]));
    if wait_port(addr, Instant::now() + START_TIMEOUT, || {
        child.exited().is_none()
    }) {
        return Ok(Started { child, dir, ports });
    }
    let _ = child.wait_exit(Duration::from_secs(2));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Err(StartError {
        log: format!(
            "{}\n{}",
            read(&stderr_path),
            read(&dir.path().join("error.log"))
        ),
    })
}
