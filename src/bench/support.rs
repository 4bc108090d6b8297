//! Shared helpers of the `proxylab bench …` commands: child processes that never leak, a real
//! nginx on a temporary prefix, wrk runs parsed into numbers, and median/ratio tables.
//!
//! Typical use: start the targets once, then alternate short wrk rounds between them (so that
//! background load hits every target alike), and print medians and ratios:
//!
//! ```no_run
//! use proxylab::bench::support::*;
//! # fn demo() -> anyhow::Result<()> {
//! let nginx = Nginx::start("server { listen 127.0.0.1:{PORT}; location / { return 200; } }")?;
//! let wrk = Wrk { threads: 2, connections: 50, seconds: 5 };
//! let mut rounds = Rounds::new(&["nginx"]);
//! for _ in 0..3 {
//!     rounds.push("nginx", wrk.run(&format!("http://{}/", nginx.addr()))?.requests_per_sec);
//! }
//! rounds.print("req/s");
//! # Ok(()) }
//! ```

use anyhow::{Context, bail};
use proxylab_harness::Tee;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process in its own process group (`proxylab_harness::Child`); the whole group is
/// SIGKILLed on drop.
#[derive(Debug)]
pub struct Child {
    child: proxylab_harness::Child,
}

impl Child {
    /// Spawns `cmd` in a new process group, stdin closed, stderr discarded unless `keep_stderr`.
    /// Returns the child and a channel of its stdout lines.
    pub fn spawn(
        name: &str,
        cmd: Command,
        keep_stderr: bool,
    ) -> anyhow::Result<(Child, mpsc::Receiver<String>)> {
        let stderr = if keep_stderr {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let (tx, rx) = mpsc::channel();
        let tee = Tee {
            file: None,
            channel: Some(tx),
        };
        let child = proxylab_harness::Child::spawn(name, cmd, stderr, tee)
            .with_context(|| format!("cannot start {name}"))?;
        Ok((Child { child }, rx))
    }

    /// Spawns `cmd` and waits up to `timeout` for a stdout line containing `marker`.
    pub fn spawn_until_line(
        name: &str,
        cmd: Command,
        marker: &str,
        timeout: Duration,
    ) -> anyhow::Result<(Child, String)> {
        let (child, _) = Self::spawn(name, cmd, true)?;
        let deadline = Instant::now() + timeout;
        match child
            .child
            .wait_line(&mut 0, deadline, |l| l.contains(marker))
        {
            Some(line) => Ok((child, line)),
            None => bail!("{name} did not print {marker:?} within {timeout:?}"),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        self.child.name()
    }
}

/// Starts nginx (`name == "nginx"`) or our proxy (`exe proxy`) on the config at `conf`, with
/// `dir` as its prefix (nginx's error log goes there), and waits for it to be ready.
pub fn start_proxy(name: &str, exe: &Path, dir: &Path, conf: &Path) -> anyhow::Result<Child> {
    if name == "nginx" {
        let nginx = which("nginx").with_context(|| crate::doctor::not_installed("nginx"))?;
        let mut cmd = Command::new(nginx);
        cmd.arg("-p").arg(dir).arg("-c").arg(conf);
        cmd.arg("-e").arg(dir.join("error.log"));
        Ok(Child::spawn("nginx", cmd, true)?.0)
    } else {
        let mut cmd = Command::new(exe);
        cmd.arg("proxy").arg("-c").arg(conf).arg("-p").arg(dir);
        let ready = "proxylab-proxy ready";
        Ok(Child::spawn_until_line("proxylab proxy", cmd, ready, Duration::from_secs(20))?.0)
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; fine for short-lived benchmarks).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(proxylab_harness::free_port()?)
}

/// Waits until `addr` accepts a TCP connection.
pub fn wait_port(addr: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    if !proxylab_harness::wait_port(addr, Instant::now() + timeout, || true) {
        bail!("{addr} not accepting after {timeout:?}");
    }
    Ok(())
}

/// A real nginx on a temporary prefix (`proxylab_harness::nginx`), killed (with its workers)
/// on drop.
#[derive(Debug)]
pub struct Nginx {
    _child: proxylab_harness::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    /// Starts nginx with `worker_processes 1`, `access_log off` and `http_body` (the content of
    /// the `http {}` block, `{PORT}` replaced by a free port).
    pub fn start(http_body: &str) -> anyhow::Result<Nginx> {
        Self::start_with(1, http_body)
    }

    /// Like [`Nginx::start`] with `workers` worker processes.
    pub fn start_with(workers: u32, http_body: &str) -> anyhow::Result<Nginx> {
        let nginx = which("nginx").with_context(|| crate::doctor::not_installed("nginx"))?;
        let conf = format!(
            "worker_processes {workers};\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {{DIR}}/cb;\n  proxy_temp_path {{DIR}}/px;\n\
             fastcgi_temp_path {{DIR}}/fc;\n  uwsgi_temp_path {{DIR}}/uw;\n  scgi_temp_path {{DIR}}/sc;\n{http_body}\n}}\n"
        );
        let started = proxylab_harness::nginx::start(
            &nginx,
            &conf,
            "proxylab-bench-nginx-",
            Some(Stdio::inherit()),
        )
        .map_err(|e| anyhow::anyhow!("nginx did not start: {}", e.log))?;
        Ok(Nginx {
            _child: started.child,
            dir: started.dir,
            port: started.ports[0],
        })
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The prefix directory (nginx.conf, error.log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Finds `program` on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A wrk invocation: `wrk -t{threads} -c{connections} -d{seconds}s --latency URL`.
#[derive(Debug, Clone, Copy)]
pub struct Wrk {
    /// Client threads.
    pub threads: u32,
    /// Open connections (keep-alive).
    pub connections: u32,
    /// Duration of one run in seconds.
    pub seconds: u32,
}

impl Wrk {
    /// The measured round of the side-by-side benches: `wrk -t2 -c50 -d5s`.
    pub const ROUND: Wrk = Wrk {
        threads: 2,
        connections: 50,
        seconds: 5,
    };
    /// The warm-up before each target's rounds: `wrk -t2 -c50 -d1s`.
    pub const WARMUP: Wrk = Wrk {
        threads: 2,
        connections: 50,
        seconds: 1,
    };
}

/// What one wrk run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrkResult {
    /// `Requests/sec`.
    pub requests_per_sec: f64,
    /// Total requests completed.
    pub requests: u64,
    /// 50th percentile latency in ms (from `--latency`).
    pub p50_ms: f64,
    /// 99th percentile latency in ms.
    pub p99_ms: f64,
    /// `Non-2xx or 3xx responses`.
    pub non_2xx: u64,
    /// Socket errors (connect + read + write + timeout).
    pub socket_errors: u64,
}

impl Wrk {
    /// Runs wrk against `url` and parses its report.
    pub fn run(&self, url: &str) -> anyhow::Result<WrkResult> {
        self.run_on(url, None)
    }

    /// As [`Wrk::run`], with wrk started on `cpus` when given (see [`super::pin`]).
    pub fn run_on(&self, url: &str, cpus: Option<&[usize]>) -> anyhow::Result<WrkResult> {
        let wrk = which("wrk").with_context(|| crate::doctor::not_installed("wrk"))?;
        let mut cmd = Command::new(wrk);
        if let Some(c) = cpus {
            super::pin::on_cpus(&mut cmd, c);
        }
        let out = cmd
            .args([
                format!("-t{}", self.threads),
                format!("-c{}", self.connections),
                format!("-d{}s", self.seconds),
            ])
            .args(["--latency", url])
            .output()
            .context("cannot run wrk")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        }
        parse_wrk(&text).with_context(|| format!("cannot parse wrk output:\n{text}"))
    }
}

/// Parses wrk's text report.
pub fn parse_wrk(text: &str) -> anyhow::Result<WrkResult> {
    let mut r = WrkResult::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => r.requests_per_sec = v.parse()?,
            [n, "requests", "in", ..] => r.requests = n.parse()?,
            ["50%", v] => r.p50_ms = duration_ms(v)?,
            ["99%", v] => r.p99_ms = duration_ms(v)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => r.non_2xx = n.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                r.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if r.requests_per_sec <= 0.0 {
        bail!("no Requests/sec line");
    }
    Ok(r)
}

fn duration_ms(v: &str) -> anyhow::Result<f64> {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" | "" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        u => bail!("unknown unit {u:?}"),
    })
}

/// Median of `xs` (NaN for an empty slice).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Per-target samples collected over alternating rounds.
#[derive(Debug, Clone)]
pub struct Rounds {
    names: Vec<String>,
    samples: Vec<Vec<f64>>,
}

impl Rounds {
    /// An empty table for these targets (in print order).
    pub fn new(names: &[&str]) -> Rounds {
        Rounds {
            names: names.iter().map(|s| s.to_string()).collect(),
            samples: vec![Vec::new(); names.len()],
        }
    }

    /// Records one sample for `name` (ignored for an unknown name).
    pub fn push(&mut self, name: &str, value: f64) {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            self.samples[i].push(value);
        }
    }

    /// Median of `name`'s samples.
    pub fn median(&self, name: &str) -> f64 {
        self.names
            .iter()
            .position(|n| n == name)
            .map_or(f64::NAN, |i| median(&self.samples[i]))
    }

    /// Prints one line per target: median and all samples, in `unit`.
    pub fn print(&self, unit: &str) {
        for (n, s) in self.names.iter().zip(&self.samples) {
            let all: Vec<String> = s.iter().map(|v| format!("{v:.0}")).collect();
            println!(
                "{n:<28} median {:>10.0} {unit}   rounds: {}",
                median(s),
                all.join(", ")
            );
        }
    }

    /// Prints `a / b` of the medians with a target check, e.g. `ratio("fake", "nginx", 0.8)`.
    pub fn print_ratio(&self, a: &str, b: &str, target: f64) -> f64 {
        let r = self.median(a) / self.median(b);
        super::record::ratio(
            (a, self.median(a)),
            (b, self.median(b)),
            Some((">=", target)),
        );
        let verdict = if r >= target { "meets" } else { "BELOW" };
        println!("{a} / {b} = {r:.2}   (target ≥ {target}: {verdict})");
        r
    }

    /// Prints and records "CPU seconds per 100k `what`" for nginx and ours with the ratio
    /// against its target (ours ≤ nginx); returns the ratio.
    pub fn print_cpu_ratio(&self, what: &str) -> f64 {
        let title = format!("CPU seconds per 100k {what}");
        println!("\n{title}:");
        for n in ["nginx", "ours"] {
            println!("{n:<28} median {:>8.3} s", self.median(n));
        }
        let r = self.median("ours") / self.median("nginx");
        super::record::figure(&title, "s");
        super::record::ratio(
            ("ours", self.median("ours")),
            ("nginx", self.median("nginx")),
            Some(("<=", 1.0)),
        );
        let verdict = if r <= 1.0 { "meets" } else { "ABOVE" };
        println!("ours / nginx = {r:.2}   (target ≤ 1.0: {verdict})");
        r
    }
}

/// `/proc/loadavg`'s first three fields and the CPU count, for the record.
pub fn machine_load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let three: Vec<&str> = load.split_whitespace().take(3).collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("load average {} on {cpus} CPUs", three.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_report() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 50 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   1.10ms  300.00us   9.00ms   90.00%\n  Latency Distribution\n     50%  850.00us\n     75%    1.20ms\n     90%    1.50ms\n     99%    2.50ms\n  250000 requests in 5.00s, 30.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 7\nRequests/sec:  50000.12\nTransfer/sec:      6.00MB\n";
        let r = parse_wrk(text).expect("parse");
        assert_eq!(r.requests, 250_000);
        assert!((r.requests_per_sec - 50000.12).abs() < 1e-6);
        assert!((r.p50_ms - 0.85).abs() < 1e-9 && (r.p99_ms - 2.5).abs() < 1e-9);
        assert_eq!((r.non_2xx, r.socket_errors), (7, 3));
        assert!(parse_wrk("garbage").is_err());
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
