//! Does the rewritten copy load? Our proxy's config reader and `nginx -t` both read it (with
//! placeholder ports); their errors are mapped back to the deployed file:line. A directive
//! nginx accepts and our proxy does not leaves the audit to real nginx.

use super::error::AuditError;
use super::rewrite::Rewritten;
use crate::scenario::template::{Bindings, expand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What each proxy says about the rewritten config.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Our proxy's error, mapped to the deployed file (None: loads).
    pub ours: Option<AuditError>,
    /// nginx's error (None: `nginx -t` passed or nginx is not installed).
    pub nginx: Option<AuditError>,
    /// nginx is installed.
    pub nginx_present: bool,
}

/// The nginx binary, if installed.
pub fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// Expands the template with stand-in ports into `dir/proxy.conf`.
pub fn expand_for_check(rw: &Rewritten, dir: &Path, tls_dir: &Path) -> Result<PathBuf, AuditError> {
    let mut b = Bindings {
        dir: dir.to_path_buf(),
        scenario_dir: dir.to_path_buf(),
        tls_cert: tls_dir.join("tls/selfsigned.crt"),
        tls_key: tls_dir.join("tls/selfsigned.key"),
        ..Bindings::default()
    };
    let mut port = 20000u16;
    for l in &rw.mapping.listeners {
        port += 1;
        b.listeners.insert(l.name.clone(), port);
    }
    for p in &rw.mapping.pools {
        let addrs: Vec<SocketAddr> = p
            .instances
            .iter()
            .map(|_| {
                port += 1;
                SocketAddr::from(([127, 0, 0, 1], port))
            })
            .collect();
        b.pools.insert(p.name.clone(), addrs);
    }
    let text = expand(&rw.template, &b)
        .map_err(|e| AuditError::Component(format!("rewritten config: {e}")))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| AuditError::Component(format!("{}: {e}", dir.display())))?;
    let conf = dir.join("proxy.conf");
    std::fs::write(&conf, text)
        .map_err(|e| AuditError::Component(format!("{}: {e}", conf.display())))?;
    Ok(conf)
}

/// Loads the expanded config in our proxy's reader and in `nginx -t`.
pub fn check(rw: &Rewritten, conf: &Path, nginx: Option<&Path>) -> Verdict {
    let dir = conf.parent().unwrap_or(Path::new("."));
    let ours = proxylab_proxy::conf::load(conf, Some(dir))
        .err()
        .map(|e| map_back(rw, e.msg, e.at.map(|(_, l)| l)));
    let nginx_err = nginx.and_then(|bin| nginx_t(bin, conf, dir).map(|(m, l)| map_back(rw, m, l)));
    Verdict {
        ours,
        nginx: nginx_err,
        nginx_present: nginx.is_some(),
    }
}

fn map_back(rw: &Rewritten, msg: String, line: Option<u32>) -> AuditError {
    let at = line.and_then(|l| rw.origin_of(l)).map(|o| {
        let (f, l) = super::finding::split_at(o);
        (f, l)
    });
    AuditError::Config { msg, at }
}

/// Runs `nginx -t`; returns the first `[emerg]` message and its line in the checked file.
fn nginx_t(bin: &Path, conf: &Path, dir: &Path) -> Option<(String, Option<u32>)> {
    let g = format!("pid {};", dir.join("nginx.pid").display());
    let out = Command::new(bin)
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .args(["-e", "stderr", "-g", &g])
        .output()
        .ok()?;
    if out.status.success() {
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("[emerg]"))
        .or_else(|| err.lines().next())
        .unwrap_or("nginx -t failed");
    let msg = line.split("[emerg] ").nth(1).unwrap_or(line);
    let msg = match msg.split_once(": ") {
        Some((pid, m)) if pid.chars().all(|c| c.is_ascii_digit() || c == '#') => m,
        _ => msg,
    };
    let conf_s = conf.display().to_string();
    match msg.rsplit_once(&format!(" in {conf_s}:")) {
        Some((m, l)) => Some((m.to_string(), l.trim().parse().ok())),
        None => Some((msg.to_string(), None)),
    }
}
