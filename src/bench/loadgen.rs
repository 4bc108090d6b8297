//! `proxylab bench loadgen`: our generator against the reference tools on the same nginx
//! `return 200`, in one run: (1) closed loop vs wrk (and oha when installed) with the same
//! threads and connections, alternating rounds, req/s and req per CPU-second medians and
//! ratios; (2) open loop at 20,000/s on one thread, three rounds, with the schedule lag, the
//! generator's CPU and how busy the machine was; (3) 10,000 idle WebSockets on the fake
//! upstream's `/ws`, with the generator's peak RSS.

use super::support::{Child, Nginx, Rounds, Wrk, machine_load, median, which};
use anyhow::{Context, bail};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;
const THREADS: u32 = 1;
const CONNECTIONS: u32 = 50;
const SECONDS: u32 = 5;
const OPEN_RATE: u32 = 20_000;
const OPEN_ROUNDS: usize = 3;
const WEBSOCKETS: u32 = 10_000;

/// CPU seconds used by our waited-for children so far (user + system).
fn children_cpu() -> f64 {
    let tps = procfs::ticks_per_second() as f64;
    procfs::process::Process::myself()
        .and_then(|p| p.stat())
        .map(|s| (s.cutime + s.cstime) as f64 / tps)
        .unwrap_or(0.0)
}

/// Runs `cmd` to completion; returns its stdout and the CPU seconds it used.
fn timed(mut cmd: Command) -> anyhow::Result<(String, f64)> {
    let before = children_cpu();
    let out = cmd.output().context("cannot run the generator")?;
    let cpu = children_cpu() - before;
    if !out.status.success() {
        bail!(
            "generator failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((String::from_utf8_lossy(&out.stdout).to_string(), cpu))
}

/// Our own binary. `/proc/self/exe` still works when a rebuild replaced the file meanwhile.
fn self_exe() -> std::path::PathBuf {
    let proc_exe = std::path::PathBuf::from("/proc/self/exe");
    if proc_exe.exists() {
        proc_exe
    } else {
        std::env::current_exe().unwrap_or_else(|_| "proxylab".into())
    }
}

fn loadgen_cmd(args: &[String]) -> anyhow::Result<Command> {
    let mut cmd = Command::new(self_exe());
    cmd.arg("loadgen").args(args);
    Ok(cmd)
}

fn summary(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("no summary at {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// One closed-loop run of ours: (req/s, CPU seconds).
fn ours_closed(url: &str, dir: &Path) -> anyhow::Result<(f64, f64)> {
    let out = dir.join("closed.json");
    let args = [
        url,
        "-c",
        &CONNECTIONS.to_string(),
        "-t",
        &THREADS.to_string(),
        "-d",
        &format!("{SECONDS}s"),
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--summary-json".to_string(), out.display().to_string()])
    .collect::<Vec<_>>();
    let (_, cpu) = timed(loadgen_cmd(&args)?)?;
    let s = summary(&out)?;
    Ok((s["overall"]["achieved_rate"].as_f64().unwrap_or(0.0), cpu))
}

fn wrk_closed(url: &str) -> anyhow::Result<(f64, f64)> {
    let before = children_cpu();
    let r = Wrk {
        threads: THREADS,
        connections: CONNECTIONS,
        seconds: SECONDS,
    }
    .run(url)?;
    Ok((r.requests_per_sec, children_cpu() - before))
}

fn oha_closed(oha: &Path, url: &str) -> anyhow::Result<(f64, f64)> {
    let mut cmd = Command::new(oha);
    cmd.args([
        "--no-tui",
        "-j",
        "-c",
        &CONNECTIONS.to_string(),
        "-z",
        &format!("{SECONDS}s"),
        url,
    ])
    .env("TOKIO_WORKER_THREADS", THREADS.to_string());
    let (out, cpu) = timed(cmd)?;
    let v: serde_json::Value = serde_json::from_str(&out).context("oha JSON")?;
    Ok((v["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0), cpu))
}

/// Peak RSS (KiB) of `pid` while it runs; returns when it has exited (zombie) or after `limit`.
fn watch_rss(pid: u32, limit: Duration) -> u64 {
    let until = Instant::now() + limit;
    let mut peak = 0;
    while Instant::now() < until {
        let Ok(p) = procfs::process::Process::new(pid as i32) else {
            break;
        };
        match p.stat() {
            Ok(st) if st.state != 'Z' => peak = peak.max(st.rss * procfs::page_size() / 1024),
            _ => break,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    peak
}

/// Busy share of all CPUs since `since` (from /proc/stat; 0..=1), and the new reading.
fn cpu_busy(since: &[u64]) -> (f64, Vec<u64>) {
    let now: Vec<u64> = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let d: Vec<u64> = now
        .iter()
        .zip(since.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let total: u64 = d.iter().sum();
    let idle = d.get(3).copied().unwrap_or(0) + d.get(4).copied().unwrap_or(0);
    let busy = if total > 0 {
        1.0 - idle as f64 / total as f64
    } else {
        0.0
    };
    (busy, now)
}

/// Open loop at [`OPEN_RATE`]/s on one thread, [`OPEN_ROUNDS`] rounds: schedule lag, latency,
/// the generator's CPU seconds and how busy the whole machine was meanwhile (the lag is the
/// generator's own precision on an idle machine, CPU contention on a busy one).
fn open_loop(url: &str, dir: &Path) -> anyhow::Result<()> {
    println!(
        "\n== open loop: {OPEN_RATE}/s for 10s on one thread, at most 200 connections, {OPEN_ROUNDS} rounds =="
    );
    let out = dir.join("open.json");
    let args: Vec<String> = [
        url,
        "--rate",
        &OPEN_RATE.to_string(),
        "-c",
        "200",
        "-t",
        "1",
        "-d",
        "10s",
        "-q",
        "--summary-json",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (mut lag, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..OPEN_ROUNDS {
        let (_, before) = cpu_busy(&[]);
        let (_, cpu) = timed(loadgen_cmd(&args)?)?;
        let (busy, _) = cpu_busy(&before);
        let s = summary(&out)?;
        let o = &s["overall"];
        let p99 = o["schedule_lag_us"]["p99"].as_f64().unwrap_or(f64::NAN);
        println!(
            "sent {} completed {} achieved {:.0}/s  latency p50 {}us p99 {}us  schedule lag p99 {p99}us max {}us  CPU {cpu:.2}s  machine busy {:.0}%",
            o["sent"],
            o["completed"],
            o["achieved_rate"].as_f64().unwrap_or(0.0),
            o["latency_us"]["p50"],
            o["latency_us"]["p99"],
            o["schedule_lag_us"]["max"],
            busy * 100.0
        );
        lag.push(p99);
        cpus.push(cpu);
    }
    println!(
        "median: schedule lag p99 {:.0}us (target < 1000us), generator CPU {:.2}s for {} requests",
        median(&lag),
        median(&cpus),
        OPEN_RATE * 10
    );
    Ok(())
}

/// Runs the benchmark and prints the tables.
pub fn run() -> anyhow::Result<()> {
    proxylab_loadgen::fdlimit::raise_nofile();
    println!(
        "proxylab bench loadgen: {ROUNDS} alternating rounds of {SECONDS}s, {THREADS} thread(s), {CONNECTIONS} connections"
    );
    println!("before: {}", machine_load());
    let nginx =
        Nginx::start("  server { listen 127.0.0.1:{PORT}; location / { return 200 'hello'; } }")?;
    let url = format!("http://{}/", nginx.addr());
    let dir = tempfile::tempdir()?;
    let oha = which("oha");
    let mut names = vec!["proxylab loadgen", "wrk"];
    if oha.is_some() {
        names.push("oha");
    } else {
        println!("oha not installed (cargo install oha): skipping that column");
    }
    let mut rps = Rounds::new(&names);
    let mut per_cpu = Rounds::new(&names);
    // Warm-up: one short run of each.
    Wrk {
        threads: THREADS,
        connections: CONNECTIONS,
        seconds: 1,
    }
    .run(&url)?;
    for round in 0..ROUNDS {
        let mut runs: Vec<(&str, (f64, f64))> = Vec::new();
        let order: Vec<&str> = if round % 2 == 0 {
            names.clone()
        } else {
            names.iter().rev().copied().collect()
        };
        for name in order {
            let r = match name {
                "wrk" => wrk_closed(&url)?,
                "oha" => oha_closed(oha.as_deref().context("oha")?, &url)?,
                _ => ours_closed(&url, dir.path())?,
            };
            runs.push((name, r));
        }
        for (name, (r, cpu)) in runs {
            rps.push(name, r);
            per_cpu.push(
                name,
                if cpu > 0.0 {
                    r * SECONDS as f64 / cpu
                } else {
                    f64::NAN
                },
            );
        }
    }
    println!("\n== closed loop: req/s (nginx return 200, 1 worker) ==");
    super::record::figure("closed loop against nginx return 200", "req/s");
    rps.print("req/s");
    rps.print_ratio("proxylab loadgen", "wrk", 1.0);
    if oha.is_some() {
        rps.print_ratio("proxylab loadgen", "oha", 1.0);
    }
    println!("\n== closed loop: requests per generator CPU-second ==");
    super::record::figure("requests per generator CPU-second", "req/CPU-s");
    per_cpu.print("req/CPU-s");
    per_cpu.print_ratio("proxylab loadgen", "wrk", 1.0);

    open_loop(&url, dir.path())?;

    println!("\n== {WEBSOCKETS} idle WebSockets (fake upstream /ws) ==");
    let up = {
        let mut c = Command::new(self_exe());
        c.args([
            "upstream",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--quiet",
            "--backlog",
            "4096",
            "--ws-ping-interval",
            "0",
        ]);
        c
    };
    let (_fake, line) =
        Child::spawn_until_line("fake upstream", up, "listening on", Duration::from_secs(10))?;
    let ws_url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|u| format!("{}/ws", u.replace("http://", "ws://")))
        .context("bad ready line")?;
    let out = dir.path().join("ws.json");
    let args: Vec<String> = [
        &ws_url,
        "-c",
        &WEBSOCKETS.to_string(),
        "-t",
        "1",
        "-d",
        "20s",
        "-q",
        "--timeout",
        "15s",
        "--behaviour",
        "{ kind = \"ws_idle\", hold = \"60s\" }",
        "--summary-json",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (gen_child, _) = Child::spawn("loadgen ws", loadgen_cmd(&args)?, true)?;
    let peak_kib = watch_rss(gen_child.pid(), Duration::from_secs(40));
    drop(gen_child);
    let s = summary(&out)?;
    let p = &s["overall"];
    println!(
        "handshakes 101: {}  errors: {}  peak RSS of the generator {:.1} MiB (target < 200 MiB)",
        p["status"]["101"],
        p["errors"],
        peak_kib as f64 / 1024.0
    );
    println!("\nafter: {}", machine_load());
    Ok(())
}
