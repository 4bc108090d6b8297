//! Command lines of the components (fake upstream, real uvicorn/gunicorn, our proxy, real
//! nginx, the loadgen) and their readiness checks.

use super::child::{Proc, free_port, wait_port};
use super::tls;
use crate::scenario::{AppSource, ProxyKind, Supervisor, UpstreamKind, UpstreamPool};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A component that did not come up.
#[derive(Debug, thiserror::Error)]
#[error("{component} did not start: {reason}\n--- last lines of {log} ---\n{tail}")]
pub struct StartError {
    /// Component name.
    pub component: String,
    /// Why.
    pub reason: String,
    /// Its log file.
    pub log: String,
    /// The log's last lines.
    pub tail: String,
}

impl StartError {
    /// From a process that failed its readiness check.
    pub fn from_proc(p: &mut Proc, reason: impl Into<String>) -> StartError {
        let mut reason = reason.into();
        if let Some(st) = p.exited() {
            reason.push_str(&format!(" (it exited: {st})"));
        }
        StartError {
            component: p.name.clone(),
            reason,
            log: p.log.display().to_string(),
            tail: p.log_tail(20),
        }
    }

    /// From a spawn failure.
    pub fn spawn(component: &str, log: &Path, e: std::io::Error) -> StartError {
        StartError {
            component: component.to_string(),
            reason: format!("cannot spawn: {e}"),
            log: log.display().to_string(),
            tail: String::new(),
        }
    }
}

/// The `proxylab` binary (this executable).
pub fn self_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("proxylab"))
}

fn secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

/// Ports of a running upstream instance.
#[derive(Debug, Clone, Copy, Default)]
pub struct InstancePorts {
    /// HTTP port.
    pub port: u16,
    /// Admin API port (fake only).
    pub admin: Option<u16>,
}

/// Starts instance `index` of `pool` on `ports` (0 = let the fake pick) and waits for it.
pub fn start_instance(
    pool: &UpstreamPool,
    index: u32,
    ports: InstancePorts,
    run_dir: &Path,
    deadline: Instant,
) -> Result<(Proc, InstancePorts), StartError> {
    let name = format!("{}.{index}", pool.name);
    let log = run_dir.join("logs").join(format!("{name}.log"));
    match pool.kind {
        UpstreamKind::Fake => {
            let mut cmd = Command::new(self_exe());
            cmd.envs(pool.env.iter().map(|(k, v)| (k, v)));
            cmd.arg("upstream").args(["--host", "127.0.0.1"]);
            cmd.args(["--port", &ports.port.to_string()]);
            cmd.args(["--admin-port", &ports.admin.unwrap_or(0).to_string()]);
            cmd.args(["--workers", &pool.workers.to_string()]);
            cmd.args([
                "--seed",
                &pool.seed.wrapping_add(u64::from(index)).to_string(),
            ]);
            fake_flags(&mut cmd, pool, run_dir).map_err(|e| StartError::spawn(&name, &log, e))?;
            limit_memory(&mut cmd, pool, &name, &log);
            let mut p = Proc::spawn(&name, cmd, &log, &pool.cpus)
                .map_err(|e| StartError::spawn(&name, &log, e))?;
            let line = p
                .wait_line(deadline, |l| {
                    l.starts_with("proxylab-upstream listening on")
                })
                .ok_or_else(|| {
                    StartError::from_proc(
                        &mut p,
                        "no ready line (`proxylab-upstream listening on …`) before the deadline",
                    )
                })?;
            let got = parse_ready_line(&line).ok_or_else(|| {
                StartError::from_proc(&mut p, format!("unreadable ready line {line:?}"))
            })?;
            Ok((p, got))
        }
        UpstreamKind::Uvicorn => {
            let port = if ports.port == 0 {
                free_port().map_err(|e| StartError::spawn(&name, &log, e))?
            } else {
                ports.port
            };
            let mut cmd = uvicorn_cmd(pool, port, run_dir);
            cmd.envs(pool.env.iter().map(|(k, v)| (k, v)));
            limit_memory(&mut cmd, pool, &name, &log);
            let mut p = Proc::spawn(&name, cmd, &log, &pool.cpus)
                .map_err(|e| StartError::spawn(&name, &log, e))?;
            if !wait_port(port, deadline, || p.exited().is_none()) {
                return Err(StartError::from_proc(
                    &mut p,
                    format!("port {port} did not accept connections before the deadline"),
                ));
            }
            Ok((p, InstancePorts { port, admin: None }))
        }
    }
}

/// Applies the pool's `memory_limit` to the instance `cmd` starts and says how, on the console
/// and in the instance's log.
fn limit_memory(cmd: &mut Command, pool: &UpstreamPool, name: &str, log: &Path) {
    let Some(bytes) = pool.memory_limit else {
        return;
    };
    let line = super::memlimit::apply(cmd, name, bytes).describe(name, bytes);
    eprintln!("proxylab: {line}");
    if let Ok(mut f) = std::fs::File::options().create(true).append(true).open(log) {
        use std::io::Write as _;
        let _ = writeln!(f, "=== proxylab: {line}");
    }
}

fn fake_flags(cmd: &mut Command, pool: &UpstreamPool, run_dir: &Path) -> std::io::Result<()> {
    fake_flags_inner(cmd, pool);
    match &pool.app {
        AppSource::Default => {}
        AppSource::File(p) => {
            cmd.arg("--app").arg(p);
        }
        AppSource::Inline(t) => {
            let dir = run_dir.join("apps");
            std::fs::create_dir_all(&dir)?;
            let p = dir.join(format!("{}.toml", pool.name));
            let text = toml::to_string(t).map_err(std::io::Error::other)?;
            std::fs::write(&p, text)?;
            cmd.arg("--app").arg(p);
        }
    }
    cmd.args(pool.flags.iter().map(|a| tls::expand_arg(a, run_dir)));
    cmd.args(pool.args.iter().map(|a| tls::expand_arg(a, run_dir)));
    Ok(())
}

fn fake_flags_inner(cmd: &mut Command, pool: &UpstreamPool) {
    if let Some(v) = pool.leak_per_request {
        cmd.args(["--leak-per-request", &v.to_string()]);
    }
    if let Some(v) = pool.limit_concurrency {
        cmd.args(["--limit-concurrency", &v.to_string()]);
    }
    if let Some(v) = pool.limit_max_requests {
        cmd.args(["--limit-max-requests", &v.to_string()]);
    }
    if let Some(v) = pool.timeout_keep_alive {
        cmd.args(["--timeout-keep-alive", &secs(v)]);
    }
    if let Some(v) = pool.backlog {
        cmd.args(["--backlog", &v.to_string()]);
    }
    if let Some(v) = pool.timeout_graceful_shutdown {
        cmd.args(["--timeout-graceful-shutdown", &secs(v)]);
    }
    if let Some(s) = pool.supervisor {
        cmd.args([
            "--supervisor",
            if s == Supervisor::Gunicorn {
                "gunicorn"
            } else {
                "uvicorn"
            },
        ]);
    }
}

/// The fake's flags derived from a pool (no host, port, admin port, seed, workers or app).
pub fn fake_common_flags(pool: &UpstreamPool) -> Vec<String> {
    let mut cmd = Command::new("x");
    fake_flags_inner(&mut cmd, pool);
    cmd.args(&pool.flags);
    cmd.args(&pool.args);
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn uvicorn_cmd(pool: &UpstreamPool, port: u16, run_dir: &Path) -> Command {
    let mut cmd = Command::new(&pool.python);
    let asgi = pool.asgi.clone().unwrap_or_default();
    if pool.supervisor == Some(Supervisor::Gunicorn) {
        cmd.args([
            "-m",
            "gunicorn",
            &asgi,
            "-k",
            "uvicorn.workers.UvicornWorker",
        ]);
        cmd.args([
            "-b",
            &format!("127.0.0.1:{port}"),
            "-w",
            &pool.workers.to_string(),
        ]);
        cmd.arg("--chdir").arg(&pool.app_dir);
        if let Some(v) = pool.limit_max_requests {
            cmd.args(["--max-requests", &v.to_string()]);
        }
        if let Some(v) = pool.timeout_keep_alive {
            cmd.args(["--keep-alive", &v.as_secs().to_string()]);
        }
        if let Some(v) = pool.backlog {
            cmd.args(["--backlog", &v.to_string()]);
        }
        if let Some(v) = pool.timeout_graceful_shutdown {
            cmd.args(["--graceful-timeout", &v.as_secs().to_string()]);
        }
    } else {
        cmd.args([
            "-m",
            "uvicorn",
            &asgi,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ]);
        cmd.args(["--workers", &pool.workers.to_string()]);
        cmd.arg("--app-dir").arg(&pool.app_dir);
        if let Some(v) = pool.limit_concurrency {
            cmd.args(["--limit-concurrency", &v.to_string()]);
        }
        if let Some(v) = pool.limit_max_requests {
            cmd.args(["--limit-max-requests", &v.to_string()]);
        }
        if let Some(v) = pool.timeout_keep_alive {
            cmd.args(["--timeout-keep-alive", &v.as_secs().to_string()]);
        }
        if let Some(v) = pool.backlog {
            cmd.args(["--backlog", &v.to_string()]);
        }
        if let Some(v) = pool.timeout_graceful_shutdown {
            cmd.args(["--timeout-graceful-shutdown", &v.as_secs().to_string()]);
        }
    }
    cmd.args(pool.args.iter().map(|a| tls::expand_arg(a, run_dir)));
    cmd
}

/// Parses `proxylab-upstream listening on http://127.0.0.1:P [admin http://127.0.0.1:A]`.
pub fn parse_ready_line(line: &str) -> Option<InstancePorts> {
    let port_of = |s: &str| -> Option<u16> {
        s.trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()?
            .parse()
            .ok()
    };
    let rest = line.strip_prefix("proxylab-upstream listening on ")?;
    let (main, admin) = match rest.split_once(" admin ") {
        Some((m, a)) => (m, Some(a)),
        None => (rest, None),
    };
    Some(InstancePorts {
        port: port_of(main)?,
        admin: match admin {
            Some(a) => Some(port_of(a)?),
            None => None,
        },
    })
}

/// The proxy's command line for an expanded config at `conf` in `dir`.
pub fn proxy_cmd(
    kind: ProxyKind,
    binary: &Path,
    conf: &Path,
    dir: &Path,
    conf_text: &str,
) -> Command {
    match kind {
        ProxyKind::Nginx => {
            // nginx resolves a relative -c against -p: pass absolute paths (`--out reports`).
            let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            let conf = &std::path::absolute(conf).unwrap_or_else(|_| conf.to_path_buf());
            let mut cmd = Command::new(binary);
            let mut g = String::from("daemon off;");
            let has = |d: &str| {
                conf_text
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{d} ")))
            };
            if super::os::is_root() && !has("user") {
                g.push_str(" user root;");
            }
            if !has("pid") {
                g.push_str(&format!(" pid {};", dir.join("nginx.pid").display()));
            }
            cmd.arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(conf)
                .args(["-e", "stderr", "-g", &g]);
            cmd
        }
        _ => {
            let mut cmd = Command::new(self_exe());
            cmd.arg("proxy").arg("-c").arg(conf);
            cmd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ready_lines() {
        let p = parse_ready_line("proxylab-upstream listening on http://127.0.0.1:4242").unwrap();
        assert_eq!((p.port, p.admin), (4242, None));
        let p = parse_ready_line(
            "proxylab-upstream listening on http://127.0.0.1:1 admin http://127.0.0.1:2",
        )
        .unwrap();
        assert_eq!((p.port, p.admin), (1, Some(2)));
        assert!(parse_ready_line("INFO: started").is_none());
    }
}
