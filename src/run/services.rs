//! Real services (`[[service]]`): PostgreSQL and Redis on a free port with a throwaway data
//! directory, ready-checked, stopped with the run. PostgreSQL refuses to run as root: when the
//! runner is root, `initdb` and `postgres` run as the `postgres` user Debian's package creates
//! (the data directory is made theirs); otherwise as the runner's own user.

use super::child::{Proc, free_port, wait_port};
use super::launch::StartError;
use crate::scenario::{ServiceKind, ServiceSpec};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running service.
#[derive(Debug)]
pub struct Service {
    /// The server process (group).
    pub proc: Proc,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// `postgresql://postgres@127.0.0.1:PORT/postgres` or `redis://127.0.0.1:PORT/0`.
    pub url: String,
    /// The data directory (removed when dropped, after the process is gone).
    pub data: tempfile::TempDir,
    /// Stopped on purpose (kill fault): its exit is expected.
    pub down: bool,
}

/// `name` in the service's program directory. A service whose programs are not installed never
/// gets here (`run` checks before starting anything); if it does, it is a start error.
fn program(spec: &ServiceSpec, name: &str) -> Result<std::path::PathBuf, String> {
    spec.bin_dir
        .as_ref()
        .map(|d| d.join(name))
        .ok_or_else(|| format!("{name} is not installed (`proxylab doctor`)"))
}

/// (uid, gid) of `user` from /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    let f: Vec<&str> = text
        .lines()
        .find(|l| l.split(':').next() == Some(user))?
        .split(':')
        .collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

fn as_postgres(cmd: &mut Command, data: &Path) -> Result<(), String> {
    if !super::os::is_root() {
        return Ok(());
    }
    let (uid, gid) = user_ids("postgres")
        .ok_or("running as root and there is no `postgres` user (apt-get install -y postgresql creates it)")?;
    std::os::unix::fs::chown(data, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
    cmd.uid(uid).gid(gid);
    Ok(())
}

/// Starts `spec` with its logs in `run_dir/logs/NAME.log`, waiting until it accepts clients.
pub fn start(spec: &ServiceSpec, run_dir: &Path, deadline: Instant) -> Result<Service, StartError> {
    let log = run_dir.join("logs").join(format!("{}.log", spec.name));
    let fail = |reason: String| StartError {
        component: spec.name.clone(),
        reason,
        log: log.display().to_string(),
        tail: super::child::log_tail(&log, 20),
    };
    // Under /tmp (mode 0755 directory made by tempfile): the postgres user must reach it.
    let data = tempfile::Builder::new()
        .prefix(&format!("proxylab-{}-", spec.name))
        .tempdir()
        .map_err(|e| fail(format!("data directory: {e}")))?;
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(|e| fail(format!("data directory: {e}")))?;
    let port = free_port().map_err(|e| StartError::spawn(&spec.name, &log, e))?;
    if spec.kind == ServiceKind::Postgres {
        initdb(spec, data.path(), &log, deadline).map_err(fail)?;
    }
    let (mut proc, url) = spawn(spec, data.path(), port, &log, deadline)?;
    if let Some(sql) = &spec.init_sql
        && let Err(e) = init_sql(port, sql)
    {
        proc.kill();
        return Err(fail(format!("init_sql: {e}")));
    }
    Ok(Service {
        proc,
        port,
        url,
        data,
        down: false,
    })
}

/// Starts the server of `spec` on `port` over the existing data directory `data` (first
/// start, or again after a kill fault) and waits until it accepts clients.
pub fn spawn(
    spec: &ServiceSpec,
    data: &Path,
    port: u16,
    log: &Path,
    deadline: Instant,
) -> Result<(Proc, String), StartError> {
    let fail = |reason: String| StartError {
        component: spec.name.clone(),
        reason,
        log: log.display().to_string(),
        tail: super::child::log_tail(log, 20),
    };
    let (cmd, url) = match spec.kind {
        ServiceKind::Postgres => {
            let mut cmd = Command::new(program(spec, "postgres").map_err(fail)?);
            cmd.arg("-D").arg(data).arg("-k").arg(data);
            cmd.args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"]);
            let max = spec.max_connections.unwrap_or(100);
            cmd.args(["-c", &format!("max_connections={max}")]);
            if let Some(t) = spec.statement_timeout {
                cmd.args(["-c", &format!("statement_timeout={}", t.as_millis())]);
            }
            cmd.args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
            cmd.args(["-c", "synchronous_commit=off", "-c", "shared_buffers=16MB"]);
            as_postgres(&mut cmd, data).map_err(fail)?;
            (
                cmd,
                format!("postgresql://postgres@127.0.0.1:{port}/postgres"),
            )
        }
        ServiceKind::Redis => {
            let mut cmd = Command::new(program(spec, "redis-server").map_err(fail)?);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
            cmd.arg("--dir").arg(data);
            cmd.args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
            // `slow_query` sends DEBUG SLEEP from loopback (Redis 7 refuses DEBUG by default).
            cmd.args(["--enable-debug-command", "local"]);
            if let Some(m) = spec.max_connections {
                cmd.args(["--maxclients", &m.to_string()]);
            }
            (cmd, format!("redis://127.0.0.1:{port}/0"))
        }
    };
    let skip = std::fs::metadata(log).map_or(0, |m| m.len());
    let mut proc = Proc::spawn(&spec.name, cmd, log, &[])
        .map_err(|e| StartError::spawn(&spec.name, log, e))?;
    if !wait_port(port, deadline, || proc.exited().is_none()) || !ready(spec, log, skip, deadline) {
        let e = StartError::from_proc(
            &mut proc,
            format!("port {port} not ready before the deadline"),
        );
        proc.kill();
        return Err(e);
    }
    Ok((proc, url))
}

/// PostgreSQL accepts TCP before it accepts clients: wait for its own ready line (after byte
/// `skip` of the log: a restart does not count the first start's line).
fn ready(spec: &ServiceSpec, log: &Path, skip: u64, deadline: Instant) -> bool {
    if spec.kind != ServiceKind::Postgres {
        return true;
    }
    while Instant::now() < deadline {
        let text = std::fs::read(log).unwrap_or_default();
        let new = text.get(skip as usize..).unwrap_or_default();
        if String::from_utf8_lossy(new).contains("database system is ready to accept connections") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs the service's `init_sql` once on a connection of the runner's own.
fn init_sql(port: u16, sql: &str) -> Result<(), String> {
    let mut s = super::pgwire::connect(port, Duration::from_secs(30))?;
    super::pgwire::query(&mut s, sql).map(|_| ())
}

fn initdb(spec: &ServiceSpec, data: &Path, log: &Path, deadline: Instant) -> Result<(), String> {
    let mut cmd = Command::new(program(spec, "initdb")?);
    cmd.arg("-D").arg(data);
    cmd.args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
    as_postgres(&mut cmd, data)?;
    let name = format!("{} initdb", spec.name);
    let mut p = Proc::spawn(&name, cmd, log, &[]).map_err(|e| format!("initdb: {e}"))?;
    loop {
        if let Some(st) = p.exited() {
            return if st.success() {
                Ok(())
            } else {
                Err(format!("initdb exited with {st}"))
            };
        }
        if Instant::now() >= deadline {
            p.kill();
            return Err("initdb did not finish before the ready timeout".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The environment variable carrying a service's URL to the apps: `PROXYLAB_SERVICE_DB_URL`.
pub fn env_name(service: &str) -> String {
    format!(
        "PROXYLAB_SERVICE_{}_URL",
        service.to_uppercase().replace('-', "_")
    )
}

/// `arg` with every `{{service.NAME.url}}` replaced.
pub fn expand(arg: &str, urls: &[(String, String)]) -> String {
    let mut s = arg.to_string();
    for (name, url) in urls {
        s = s.replace(&format!("{{{{service.{name}.url}}}}"), url);
    }
    s
}
