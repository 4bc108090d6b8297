//! `proxylab bench edge`: the proxy's part-2 figures side by side with nginx, same config,
//! one worker each, alternating rounds in one run, medians and ratios ours / nginx:
//! TLS 1.3 handshakes/s (new connection per request), HTTPS keep-alive req/s over HTTP/1.1
//! and HTTP/2, static file req/s (4 KiB, 1 MiB) and RSS with 10,000 idle client connections.
//! A figure our proxy cannot produce (setup or client errors) prints "not yet supported"
//! instead of a number.

use super::edge_idle::idle_rss;
use super::support::{Child, Rounds, Wrk, free_port, machine_load, start_proxy, wait_port, which};
use anyhow::{Context, bail};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SECONDS: u32 = 4;
const CONNS: u32 = 32;
/// Idle client connections held for the memory figure.
pub const IDLE_CONNS: usize = 10_000;

/// Flags of `proxylab bench edge`.
#[derive(clap::Args, Debug, Clone)]
pub struct EdgeArgs {
    /// Run only these figures (comma-separated): `handshake`, `h1`, `h2`, `static`
    /// (4 KiB and 1 MiB), `static-cached` (4 KiB against nginx with `open_file_cache`, for
    /// information: no target), `idle`. Default: all.
    #[arg(long, value_delimiter = ',', value_parser = ["handshake", "h1", "h2", "static", "static-cached", "idle"])]
    pub only: Vec<String>,
    /// Alternating rounds per figure (medians over them); more rounds steady the ratios on a
    /// busy machine.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
}

impl EdgeArgs {
    fn wants(&self, figure: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|f| f == figure)
    }
}

/// One server under test (nginx or ours) with its ports.
pub struct Target {
    /// "nginx" or "ours".
    pub name: &'static str,
    /// The process (nginx master or our proxy).
    pub child: Child,
    /// HTTPS (`listen … ssl http2`) port.
    pub tls_port: u16,
    /// Plain HTTP port (static files, idle connections).
    pub plain_port: u16,
}

/// nginx's open-file cache for the `static-cached` figure: as many files as our proxy keeps
/// open per worker (16) and closes after the same 10 s unused; nginx trusts an entry for
/// `open_file_cache_valid` (60 s) without a `stat`, where ours `stat`s the path every time.
const OPEN_FILE_CACHE: &str = "open_file_cache max=16 inactive=10s;";

fn conf(dir: &Path, tls_port: u16, plain_port: u16, extra_http: &str) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\nworker_rlimit_nofile 20000;\ndaemon off;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 20000; }}\nhttp {{\n  \
         access_log off;\n  {extra_http}\n  client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n  \
         server {{\n    listen 127.0.0.1:{tls_port} ssl http2;\n    \
         ssl_certificate {d}/bench.crt;\n    ssl_certificate_key {d}/bench.key;\n    \
         ssl_protocols TLSv1.2 TLSv1.3;\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n  \
         server {{\n    listen 127.0.0.1:{plain_port};\n    location / {{ root {d}/www; }}\n  }}\n}}\n"
    )
}

fn prepare(dir: &Path) -> anyhow::Result<()> {
    proxylab_proxy::tls::write_self_signed(dir, "bench", &["localhost", "127.0.0.1"])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let pattern: Vec<u8> = (0..=255u8).collect();
    for (name, size) in [("4k.bin", 4096usize), ("1m.bin", 1 << 20)] {
        let data: Vec<u8> = pattern.iter().copied().cycle().take(size).collect();
        std::fs::write(www.join(name), data)?;
    }
    Ok(())
}

fn start(
    name: &'static str,
    exe: &Path,
    extra_http: &str,
) -> anyhow::Result<(Target, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("proxylab-bench-edge-{name}-"))
        .tempdir()?;
    prepare(dir.path())?;
    let (tls_port, plain_port) = (free_port()?, free_port()?);
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf(dir.path(), tls_port, plain_port, extra_http))?;
    let child = start_proxy(name, exe, dir.path(), &path)?;
    for p in [tls_port, plain_port] {
        wait_port(([127, 0, 0, 1], p).into(), Duration::from_secs(10)).with_context(|| {
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        })?;
    }
    let t = Target {
        name,
        child,
        tls_port,
        plain_port,
    };
    Ok((t, dir))
}

/// One loadgen closed-loop run; `Ok(rate)` only when every request completed with 200.
fn loadgen(
    exe: &Path,
    url: &str,
    extra: &[&str],
    tmp: &Path,
    cpus: Option<&[usize]>,
) -> anyhow::Result<f64> {
    let out = tmp.join("summary.json");
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new(exe);
    if let Some(c) = cpus {
        super::pin::on_cpus(&mut cmd, c);
    }
    let status = cmd
        .args([
            "loadgen",
            url,
            "-c",
            &CONNS.to_string(),
            "-d",
            &format!("{SECONDS}s"),
        ])
        .args(["-k", "-q", "--summary-json"])
        .arg(&out)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .context("cannot run proxylab loadgen")?;
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    let o = &v["overall"];
    let completed = o["completed"].as_u64().unwrap_or(0);
    let ok = o["status"]["200"].as_u64().unwrap_or(0);
    let errors = o["errors"].as_object().map_or(0, |e| {
        e.values()
            .filter_map(serde_json::Value::as_u64)
            .sum::<u64>()
    });
    if completed == 0 || ok != completed || errors > completed / 100 {
        bail!(
            "loadgen {url} {extra:?}: exit {status}, {completed} completed, {ok} × 200, errors {}",
            o["errors"]
        );
    }
    Ok(o["achieved_rate"].as_f64().unwrap_or(0.0))
}

/// What one figure measured: samples per target, or why ours could not run.
struct Figure {
    title: &'static str,
    unit: &'static str,
    rounds: Rounds,
    failed: Option<String>,
}

fn measure(
    title: &'static str,
    rounds: u32,
    targets: &[&Target],
    mut run: impl FnMut(&Target) -> anyhow::Result<f64>,
) -> Figure {
    let mut f = Figure {
        title,
        unit: "req/s",
        rounds: Rounds::new(&["nginx", "ours"]),
        failed: None,
    };
    for round in 0..rounds {
        for t in targets {
            match run(t) {
                Ok(v) => {
                    println!("  {title}: round {round} {:<5} {v:>9.0}", t.name);
                    f.rounds.push(t.name, v);
                }
                Err(e) => {
                    println!("  {title}: round {round} {:<5} failed: {e:#}", t.name);
                    f.failed.get_or_insert(format!("{}: {e:#}", t.name));
                }
            }
        }
        if f.failed.is_some() {
            break;
        }
    }
    f
}

/// Prints each figure; `targets[i]` is figure i's goal for ours / nginx (`None`: information).
fn report(figures: &[Figure], targets: &[Option<f64>]) -> Vec<String> {
    let mut summary = Vec::new();
    for (f, target) in figures.iter().zip(targets) {
        println!("\n{} ({}):", f.title, f.unit);
        super::record::figure(f.title, f.unit);
        if let Some(why) = &f.failed {
            println!("not yet supported ({why})");
            summary.push(format!("{}: not yet supported", f.title));
            continue;
        }
        f.rounds.print(f.unit);
        let r = match target {
            Some(t) => f.rounds.print_ratio("ours", "nginx", *t),
            None => {
                let (o, n) = (f.rounds.median("ours"), f.rounds.median("nginx"));
                super::record::ratio(("ours", o), ("nginx", n), None);
                let r = o / n;
                println!("ours / nginx = {r:.2}   (for information: no target)");
                r
            }
        };
        summary.push(format!("{} {r:.2}", f.title));
    }
    summary
}

/// Runs the benchmark (the figures `args` selects) and prints the table.
pub fn run(args: &EdgeArgs) -> anyhow::Result<()> {
    if which("wrk").is_none() {
        bail!(crate::doctor::not_installed("wrk"));
    }
    super::edge_idle::raise_nofile();
    let exe = std::env::current_exe().context("cannot find the proxylab binary")?;
    println!(
        "proxylab bench edge: one worker each, same config, {} alternating rounds of {SECONDS} s, \
         {CONNS} connections (proxylab loadgen for TLS, wrk for static files)",
        args.rounds
    );
    println!("before: {}", machine_load());
    let (nginx, _nd) = start("nginx", &exe, "")?;
    let ours = start("ours", &exe, "");
    let (ours, _od) = match ours {
        Ok(o) => o,
        Err(e) => {
            println!(
                "our proxy does not start with the TLS/static config: not yet supported ({e:#})"
            );
            return Ok(());
        }
    };
    let cached = if args.wants("static-cached") {
        Some(start("nginx", &exe, OPEN_FILE_CACHE)?)
    } else {
        None
    };
    let targets = [nginx, ours];
    // Each proxy on the last CPU, the clients on the others (as in `bench proxy`).
    let split = super::pin::Split::new();
    if let Some(sp) = &split {
        for t in targets.iter().chain(cached.as_ref().map(|c| &c.0)) {
            super::pin::pin_tree(t.child.pid(), &sp.proxy);
        }
        println!(
            "pinned: proxies on CPU {:?}, clients on CPUs {:?}",
            sp.proxy, sp.rest
        );
    }
    let rest = split.as_ref().map(|sp| sp.rest.as_slice());
    let tmp = tempfile::tempdir()?;
    let https = |t: &Target| format!("https://127.0.0.1:{}/", t.tls_port);
    let static_url = |t: &Target, f: &str| format!("http://127.0.0.1:{}/{f}", t.plain_port);
    let wrk = Wrk {
        threads: 2,
        connections: CONNS,
        seconds: SECONDS,
    };
    let wrk_run = |url: String| -> anyhow::Result<f64> {
        let r = wrk.run_on(&url, rest)?;
        if r.non_2xx > 0 || r.socket_errors > 0 {
            bail!("{} non-2xx, {} socket errors", r.non_2xx, r.socket_errors);
        }
        Ok(r.requests_per_sec)
    };
    let mut figures = Vec::new();
    let mut goals = Vec::new();
    let pair: Vec<&Target> = targets.iter().collect();
    if args.wants("handshake") {
        figures.push(measure(
            "TLS 1.3 handshakes/s (new connection per request)",
            args.rounds,
            &pair,
            |t| loadgen(&exe, &https(t), &["--per-request"], tmp.path(), rest),
        ));
        goals.push(Some(0.8));
    }
    if args.wants("h1") {
        figures.push(measure(
            "HTTPS keep-alive HTTP/1.1",
            args.rounds,
            &pair,
            |t| loadgen(&exe, &https(t), &[], tmp.path(), rest),
        ));
        goals.push(Some(1.0));
    }
    if args.wants("h2") {
        figures.push(measure(
            "HTTPS keep-alive HTTP/2",
            args.rounds,
            &pair,
            |t| loadgen(&exe, &https(t), &["--protocol", "h2"], tmp.path(), rest),
        ));
        goals.push(Some(1.0));
    }
    if args.wants("static") {
        figures.push(measure("static 4 KiB", args.rounds, &pair, |t| {
            wrk_run(static_url(t, "4k.bin"))
        }));
        figures.push(measure("static 1 MiB", args.rounds, &pair, |t| {
            wrk_run(static_url(t, "1m.bin"))
        }));
        // Our proxy keeps recently served files open per worker; this nginx has no
        // open_file_cache, so these two are not like with like: for information, and the
        // target is judged against nginx with its own cache (`static-cached`).
        goals.extend([None, None]);
    }
    if let Some((c, _)) = &cached {
        figures.push(measure(
            "static 4 KiB, nginx with open_file_cache max=16 inactive=10s",
            args.rounds,
            &[c, &targets[1]],
            |t| wrk_run(static_url(t, "4k.bin")),
        ));
        goals.push(Some(1.0));
    }
    let mut summary = report(&figures, &goals);
    if args.wants("idle") {
        idle_figure(&targets, &mut summary);
    }
    println!("\nsummary (ours / nginx): {}", summary.join("; "));
    println!("after: {}", machine_load());
    Ok(())
}

/// The idle-connection memory figure.
fn idle_figure(targets: &[Target], summary: &mut Vec<String>) {
    println!("\nRSS with {IDLE_CONNS} idle client connections (MiB, process and children):");
    let mut rss = Vec::new();
    for t in targets {
        match idle_rss(t, IDLE_CONNS) {
            Ok((base, held)) => {
                println!(
                    "{:<28} before {:>7.1}  with {IDLE_CONNS} idle {:>7.1}  (+{:.1} KiB per connection)",
                    t.name,
                    base,
                    held,
                    (held - base) * 1024.0 / IDLE_CONNS as f64
                );
                rss.push(held);
            }
            Err(e) => println!("{:<28} not yet supported ({e:#})", t.name),
        }
    }
    if let [n, o] = rss[..] {
        super::record::figure("RSS with idle client connections", "MiB");
        super::record::ratio(("ours", o), ("nginx", n), Some(("<=", 1.0)));
        let r = o / n;
        let verdict = if r <= 1.0 { "meets" } else { "ABOVE" };
        println!("ours / nginx = {r:.2}   (target ≤ 1.0: {verdict})");
        summary.push(format!("idle RSS {r:.2}"));
    } else {
        summary.push("idle RSS: not measured".into());
    }
}
