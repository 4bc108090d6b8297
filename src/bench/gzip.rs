//! `proxylab bench gzip`: gzip of a 16 KiB JSON response (a static file, so the compressor
//! dominates) at `gzip_comp_level` 1 and 6, our proxy vs nginx with the same config, one
//! worker each, alternating rounds: req/s (our closed-loop load generator sending
//! `Accept-Encoding: gzip`), CPU per request (utime+stime of the server's processes over the
//! round / requests), and the compressed size of each (both use the system zlib with nginx's
//! parameters: the sizes are equal). `--sweep` adds CPU per request against bytes saved per response
//! for 1, 16 and 64 KiB at levels off, 1, 6 and 9, plotted ([`super::gzip_sweep`]).

use super::support::{Child, Rounds, free_port, machine_load, start_proxy, wait_port};
use anyhow::{Context, bail};
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SECONDS: u32 = 4;
const CONNS: u32 = 32;
const LEVELS: [u32; 2] = [1, 6];
/// The documents served: (file name, size in bytes).
pub(super) const FILES: [(&str, usize); 3] =
    [("1k.json", 1024), ("16k.json", 16384), ("64k.json", 65536)];

/// Flags of `proxylab bench gzip`.
#[derive(clap::Args, Debug, Clone)]
pub struct GzipArgs {
    /// Alternating rounds per level (medians over them).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// Also measure CPU per request against bytes saved for 1/16/64 KiB at levels off, 1, 6
    /// and 9, and plot it (reports/bench/gzip-cost.svg and .png).
    #[arg(long)]
    pub sweep: bool,
}

/// A JSON document of `n` bytes (API-like records, padded with spaces).
pub(super) fn document(n: usize) -> Vec<u8> {
    let mut s = String::from("[");
    let mut i = 0u32;
    while s.len() < n - 80 {
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"score\":{},\"active\":{}}},",
            i * 37 % 1000,
            i * 7919 % 10007,
            i.is_multiple_of(3)
        ));
        i += 1;
    }
    s.push_str("{}]");
    while s.len() < n {
        s.push(' ');
    }
    s.into_bytes()
}

fn conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    let locations: String = [1, 6, 9]
        .iter()
        .map(|l| {
            format!(
                "    location /l{l}/ {{ alias {d}/www/; gzip on; gzip_comp_level {l}; \
                 gzip_types application/json; }}\n"
            )
        })
        .collect();
    format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  \
         types {{ application/json json; }}\n  server {{\n    listen 127.0.0.1:{port};\n\
             location /l0/ {{ alias {d}/www/; }}\n{locations}  }}\n}}\n"
    )
}

/// One server under test.
pub(super) struct Target {
    /// "nginx" or "ours".
    pub name: &'static str,
    /// The process (nginx master or our proxy).
    pub child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn start(name: &'static str, exe: &Path) -> anyhow::Result<Target> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("proxylab-bench-gzip-{name}-"))
        .tempdir()?;
    std::fs::create_dir_all(dir.path().join("www"))?;
    for (file, size) in FILES {
        std::fs::write(dir.path().join("www").join(file), document(size))?;
    }
    let port = free_port()?;
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf(dir.path(), port))?;
    let child = start_proxy(name, exe, dir.path(), &path)?;
    wait_port(([127, 0, 0, 1], port).into(), Duration::from_secs(10))?;
    Ok(Target {
        name,
        child,
        port,
        _dir: dir,
    })
}

/// One GET of `/l{level}/{file}` with `Accept-Encoding: gzip`: the body's size on the wire,
/// after checking that it is `doc` (level 0: plain; else gzip inflating to it).
pub(super) fn compressed_size(
    port: u16,
    level: u32,
    file: &str,
    doc: &[u8],
) -> anyhow::Result<usize> {
    let req = format!(
        "GET /l{level}/{file} HTTP/1.1\r\nHost: b\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    let addr = ([127, 0, 0, 1], port).into();
    let raw = wire::exchange(addr, req.as_bytes())?;
    if level == 0 {
        let start = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |i| i + 4);
        if raw[start..] != *doc {
            bail!("/l0/{file}: not the document");
        }
        return Ok(doc.len());
    }
    let body = wire::dechunk_body(&raw).context("response not chunked")?;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut plain)
        .context("not a gzip body")?;
    if plain != doc {
        bail!("the gzip body does not inflate to the document");
    }
    Ok(body.len())
}

/// Minimal raw HTTP helpers (the bench does not depend on the test kit).
mod wire {
    use std::io::{Read, Write};

    /// Sends `req` and reads until the server closes (at most 10 s).
    pub fn exchange(addr: std::net::SocketAddr, req: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        s.write_all(req)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    }

    /// The body of a chunked response.
    pub fn dechunk_body(raw: &[u8]) -> Option<Vec<u8>> {
        let start = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let mut rest = &raw[start..];
        let mut body = Vec::new();
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..eol]).ok()?.trim(), 16).ok()?;
            rest = &rest[eol + 2..];
            if size == 0 {
                return Some(body);
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    }
}

/// One closed-loop round of `seconds`: (req/s, requests completed), all answered 200.
pub(super) fn round(
    exe: &Path,
    url: &str,
    seconds: u32,
    tmp: &Path,
    cpus: Option<&[usize]>,
) -> anyhow::Result<(f64, u64)> {
    let out = tmp.join("summary.json");
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new(exe);
    if let Some(c) = cpus {
        super::pin::on_cpus(&mut cmd, c);
    }
    cmd.args([
        "loadgen",
        url,
        "-c",
        &CONNS.to_string(),
        "-d",
        &format!("{seconds}s"),
    ])
    .args(["-k", "-q", "-H", "Accept-Encoding: gzip", "--summary-json"])
    .arg(&out)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .status()
    .context("cannot run proxylab loadgen")?;
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    let o = &v["overall"];
    let completed = o["completed"].as_u64().unwrap_or(0);
    let ok = o["status"]["200"].as_u64().unwrap_or(0);
    if completed == 0 || ok != completed {
        bail!("loadgen {url}: {completed} completed, {ok} × 200");
    }
    Ok((o["achieved_rate"].as_f64().unwrap_or(0.0), completed))
}

/// Runs the benchmark and prints the table.
pub fn run(args: &GzipArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the proxylab binary")?;
    let doc = document(16384);
    println!(
        "proxylab bench gzip: {} B JSON, gzip_comp_level {LEVELS:?}, one worker each, {} \
         alternating rounds of {SECONDS} s, {CONNS} connections (proxylab loadgen)",
        doc.len(),
        args.rounds
    );
    println!("before: {}", machine_load());
    let targets = [start("nginx", &exe)?, start("ours", &exe)?];
    let split = super::pin::Split::new();
    if let Some(sp) = &split {
        for t in &targets {
            super::pin::pin_tree(t.child.pid(), &sp.proxy);
        }
    }
    let cpus = split.as_ref().map(|sp| sp.rest.as_slice());
    let tmp = tempfile::tempdir()?;
    let mut summary = Vec::new();
    for level in LEVELS {
        let sizes: Vec<usize> = targets
            .iter()
            .map(|t| compressed_size(t.port, level, "16k.json", &doc))
            .collect::<anyhow::Result<_>>()?;
        let size_ratio = sizes[1] as f64 / sizes[0] as f64;
        let within = (size_ratio - 1.0).abs() <= 0.02;
        println!(
            "\nlevel {level}: compressed size nginx (zlib) {} B, ours (zlib {}) {} B: \
             ours / nginx = {size_ratio:.3} ({} 2 %)",
            sizes[0],
            proxylab_proxy::filter::zlib::version(),
            sizes[1],
            if within { "within" } else { "NOT within" }
        );
        let mut rate = Rounds::new(&["nginx", "ours"]);
        let mut cpu = Rounds::new(&["nginx", "ours"]);
        for r in 0..args.rounds {
            for t in &targets {
                let url = format!("http://127.0.0.1:{}/l{level}/16k.json", t.port);
                let before = super::proxy::cpu_secs(t.child.pid());
                let (rps, n) = round(&exe, &url, SECONDS, tmp.path(), cpus)?;
                let used = super::proxy::cpu_secs(t.child.pid()) - before;
                let us = used * 1e6 / n as f64;
                println!(
                    "  level {level} round {r} {:<5} {rps:>9.0} req/s {us:>7.1} µs CPU/request",
                    t.name
                );
                rate.push(t.name, rps);
                cpu.push(t.name, us);
            }
        }
        super::record::figure(&format!("gzip level {level}, 16 KiB JSON"), "req/s");
        rate.print("req/s");
        let r = rate.print_ratio("ours", "nginx", 0.9);
        super::record::figure(&format!("gzip level {level}, CPU per request"), "µs");
        cpu.print("µs/request");
        let (co, cn) = (cpu.median("ours"), cpu.median("nginx"));
        super::record::ratio(("ours", co), ("nginx", cn), None);
        println!(
            "CPU per request ours / nginx = {:.2}   (for information)",
            co / cn
        );
        summary.push(format!(
            "level {level}: req/s {r:.2}, CPU/request {:.2}, size {size_ratio:.3}",
            co / cn
        ));
    }
    println!("\nsummary (ours / nginx): {}", summary.join("; "));
    if args.sweep {
        super::gzip_sweep::run(&exe, &targets, args.rounds, tmp.path(), cpus)?;
    }
    println!("after: {}", machine_load());
    Ok(())
}
