//! `proxylab bench upstream`: wrk drives `GET /` on one fake worker, on nginx with one worker
//! answering `return 200` with the same body, and on real uvicorn serving a raw ASGI hello
//! world, in alternating rounds of one run; prints req/s medians and the two target ratios
//! (fake ≥ 0.8 × nginx, fake ≥ 3 × uvicorn raw).

use super::support::{Child, Nginx, Rounds, Wrk, free_port, machine_load, wait_port, which};
use anyhow::Context;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const ROUNDS: usize = 3;
const WRK: Wrk = Wrk::ROUND;
const WARMUP: Wrk = Wrk::WARMUP;

const RAW_ASGI: &str = r#"
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})
"#;

/// Runs the benchmark and prints the table.
pub fn run() -> anyhow::Result<()> {
    println!(
        "proxylab bench upstream: wrk -t{} -c{} -d{}s, {ROUNDS} alternating rounds",
        WRK.threads, WRK.connections, WRK.seconds
    );
    println!("before: {}", machine_load());
    let exe = std::env::current_exe().context("cannot find the proxylab binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(["upstream", "--host", "127.0.0.1", "--port", "0", "--quiet"]);
    let (_fake, line) = Child::spawn_until_line(
        "fake upstream",
        cmd,
        "listening on",
        Duration::from_secs(10),
    )?;
    let fake_url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|u| format!("{u}/"))
        .context("bad ready line")?;
    let nginx = Nginx::start(
        "  server {\n    listen 127.0.0.1:{PORT};\n    location / { default_type application/json; return 200 '{\"message\":\"Hello World\"}'; }\n  }",
    )?;
    let uvicorn = start_uvicorn_raw()?;
    let mut targets: Vec<(&str, String)> = vec![
        ("fake (1 worker)", fake_url),
        (
            "nginx return 200 (1 worker)",
            format!("http://{}/", nginx.addr()),
        ),
    ];
    let _uvicorn_guard;
    match uvicorn {
        Some((child, addr, _dir)) => {
            _uvicorn_guard = (child, _dir);
            targets.push(("uvicorn raw ASGI (1 worker)", format!("http://{addr}/")));
        }
        None => println!(
            "{}: skipping that column",
            crate::doctor::not_installed("uvicorn")
        ),
    }
    let names: Vec<&str> = targets.iter().map(|(n, _)| *n).collect();
    let mut rounds = Rounds::new(&names);
    for (_, url) in &targets {
        WARMUP.run(url)?;
    }
    for round in 0..ROUNDS {
        for (name, url) in &targets {
            let r = WRK.run(url)?;
            if r.non_2xx > 0 || r.socket_errors > 0 {
                println!(
                    "  round {round} {name}: {} non-2xx, {} socket errors",
                    r.non_2xx, r.socket_errors
                );
            }
            rounds.push(name, r.requests_per_sec);
        }
    }
    println!();
    rounds.print("req/s");
    super::record::figure("hello world, wrk", "req/s");
    rounds.print_ratio(names[0], names[1], 0.8);
    if names.len() > 2 {
        rounds.print_ratio(names[0], names[2], 3.0);
    }
    println!("after: {}", machine_load());
    Ok(())
}

/// Real uvicorn (httptools + uvloop when installed) with a raw ASGI app, access log off.
fn start_uvicorn_raw() -> anyhow::Result<Option<(Child, SocketAddr, tempfile::TempDir)>> {
    let Some(python) = which("python3") else {
        return Ok(None);
    };
    let ok = Command::new(&python)
        .args(["-c", "import uvicorn"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("proxylab-bench-asgi-")
        .tempdir()?;
    std::fs::write(dir.path().join("rawapp.py"), RAW_ASGI)?;
    let port = free_port()?;
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "uvicorn",
        "rawapp:app",
        "--no-access-log",
        "--lifespan",
        "off",
        "--log-level",
        "warning",
    ])
    .arg("--app-dir")
    .arg(dir.path())
    .args(["--host", "127.0.0.1", "--port", &port.to_string()]);
    let (child, _) = Child::spawn("uvicorn", cmd, true)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_port(addr, Duration::from_secs(20))?;
    Ok(Some((child, addr, dir)))
}
