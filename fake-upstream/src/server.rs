//! Process-level entry points: binding the shared socket, the single-process server (uvicorn
//! without `--workers`), and a worker process started by the supervisor.

use crate::admin::{self, ProcessBackend};
use crate::config::WorkerConfig;
use crate::protocol::{WORKER_FINAL, WORKER_READY, WorkerEnv};
use crate::settings::Settings;
use crate::shared::Shared;
use crate::worker::{self, ExitReason};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;

/// Resolves `--host`/`--port`.
pub fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --host {host}"))?
        .next()
        .with_context(|| format!("--host {host} has no address"))
}

/// Binds and listens like uvicorn: `SO_REUSEADDR`, no `SO_REUSEPORT`, `listen(backlog)`.
pub fn bind(addr: SocketAddr, backlog: i32) -> anyhow::Result<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())
        .with_context(|| format!("cannot bind {addr}"))?;
    sock.listen(backlog)?;
    Ok(sock)
}

/// The worker config of worker `index`, generation `generation`: own seed and jittered limit.
pub fn worker_config(s: &Settings, index: u32, generation: u64) -> WorkerConfig {
    let mut cfg = s.worker.clone();
    cfg.index = index;
    cfg.seed = s.worker.seed
        ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ generation.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    cfg.limit_max_requests = s
        .max_requests
        .map(|n| n + rng.random_range(0..=s.max_requests_jitter));
    cfg
}

/// Prints the ready line (the contract other crates' tests read) and flushes it.
pub fn print_ready(addr: SocketAddr, admin: Option<SocketAddr>) {
    let mut line = format!("proxylab-upstream listening on http://{addr}");
    if let Some(a) = admin {
        line.push_str(&format!(" admin http://{a}"));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// uvicorn without `--workers`: one process serves on the main thread; at
/// `--limit-max-requests` or SIGTERM the port closes and the process exits 0.
pub fn run_single(s: &Settings) -> anyhow::Result<ExitCode> {
    let addr = resolve(&s.host, s.port)?;
    let sock = bind(addr, s.backlog)?;
    let local = sock
        .local_addr()?
        .as_socket()
        .context("bound address is not IP")?;
    let shared = Arc::new(Shared::with_routes(worker::route_names(&s.app)));
    let admin = match s.admin_port {
        Some(p) => Some(admin::spawn(
            &s.host,
            p,
            Arc::new(ProcessBackend(shared.clone())),
        )?),
        None => None,
    };
    let cfg = worker_config(s, 0, 0);
    if cfg.log {
        eprintln!("INFO:     Uvicorn running on http://{local} (Press CTRL+C to quit)");
    }
    print_ready(local, admin);
    worker::run(sock.into(), cfg, s.app.clone(), shared)?;
    Ok(ExitCode::SUCCESS)
}

/// A worker process under the supervisor: adopts the inherited socket, reports its private
/// admin address on stdout, serves, exits 0 when done.
pub fn run_worker_process(s: &Settings, env: WorkerEnv) -> anyhow::Result<ExitCode> {
    crate::sys::die_with_parent(env.parent);
    let listener = crate::sys::inherited_listener(env.fd)?;
    let shared = Arc::new(Shared::with_routes(worker::route_names(&s.app)));
    if let Some(f) = &env.faults {
        shared.faults.apply(f);
    }
    let admin = admin::spawn("127.0.0.1", 0, Arc::new(ProcessBackend(shared.clone())))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{WORKER_READY}{admin}")?;
        out.flush()?;
    }
    let cfg = worker_config(s, env.index, env.generation);
    let reason = worker::run(listener, cfg, s.app.clone(), shared.clone())?;
    if let Ok(json) = serde_json::to_string(&shared.counters()) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{WORKER_FINAL}{json}");
        let _ = out.flush();
    }
    Ok(match reason {
        ExitReason::MaxRequests | ExitReason::Signal => ExitCode::SUCCESS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: crate::settings::Args,
    }

    #[test]
    fn jitter_gives_each_worker_its_own_limit_within_range() {
        let cli = Cli::parse_from([
            "x",
            "--limit-max-requests",
            "100",
            "--limit-max-requests-jitter",
            "50",
            "--seed",
            "7",
        ]);
        let s = crate::settings::settings(&cli.args).expect("valid");
        let limits: Vec<u64> = (0..8)
            .filter_map(|i| worker_config(&s, i, 0).limit_max_requests)
            .collect();
        assert_eq!(limits.len(), 8);
        assert!(limits.iter().all(|l| (100..=150).contains(l)), "{limits:?}");
        assert!(
            limits.iter().any(|&l| l != limits[0]),
            "all equal: {limits:?}"
        );
        // Same seed, same worker → same limit (reproducible runs).
        assert_eq!(worker_config(&s, 3, 0).limit_max_requests, Some(limits[3]));
    }
}
