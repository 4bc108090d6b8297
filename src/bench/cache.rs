//! `proxylab bench cache`: proxy_cache hits of a 4 KiB response, our proxy and nginx with the
//! same config (one worker each, each in front of its own static origin `server` in the same
//! process, which sees one request), driven by wrk in alternating rounds of one run: medians
//! and the ratios ours / nginx of req/s (target ≥ 1.0) and CPU seconds per 100,000 requests
//! (target ≤ 1.0).

use super::proxy::{cpu_secs, nginx_master_pid, start_ours_with};
use super::support::{Nginx, Rounds, Wrk, free_port, machine_load, which};
use anyhow::{Context, bail};

const ROUNDS: usize = 5;

/// The http body: a cached location in front of a static origin on `origin_port`.
fn http_body(cache_dir: &std::path::Path, www: &std::path::Path, origin_port: u16) -> String {
    format!(
        "  proxy_cache_path {} levels=1:2 keys_zone=c:10m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_cache c; proxy_cache_valid 200 10m; proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\"; proxy_pass http://127.0.0.1:{origin_port}; }} }}\n\
         server {{ listen 127.0.0.1:{origin_port}; location / {{ root {}; }} }}",
        cache_dir.display(),
        www.display()
    )
}

/// Runs the benchmark and prints the table.
pub fn run() -> anyhow::Result<()> {
    if which("wrk").is_none() {
        bail!(crate::doctor::not_installed("wrk"));
    }
    let wrk = Wrk::ROUND;
    println!(
        "proxylab bench cache: HITs of a 4 KiB response, wrk -t{} -c{} -d{}s, {ROUNDS} alternating rounds; one worker each",
        wrk.threads, wrk.connections, wrk.seconds
    );
    println!("before: {}", machine_load());
    let tmp = tempfile::tempdir()?;
    let www = tmp.path().join("www");
    std::fs::create_dir_all(&www)?;
    let data: Vec<u8> = (0..4096u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(www.join("4k.txt"), data)?;
    let exe = std::env::current_exe().context("cannot find the proxylab binary")?;
    let nginx = Nginx::start(&http_body(&tmp.path().join("cn"), &www, free_port()?))?;
    let nginx_pid = nginx_master_pid(&nginx)?;
    let (ours, ours_url, _dir) =
        start_ours_with(&exe, &http_body(&tmp.path().join("co"), &www, free_port()?))?;
    let split = super::pin::Split::new();
    if let Some(sp) = &split {
        super::pin::pin_tree(nginx_pid, &sp.proxy);
        super::pin::pin_tree(ours.pid(), &sp.proxy);
    }
    let rest = split.as_ref().map(|sp| sp.rest.as_slice());
    let targets = [
        (
            "nginx",
            format!("http://{}/4k.txt", nginx.addr()),
            nginx_pid,
        ),
        ("ours", format!("{ours_url}4k.txt"), ours.pid()),
    ];
    for (_, url, _) in &targets {
        Wrk::WARMUP.run_on(url, rest)?;
    }
    let mut rps = Rounds::new(&["nginx", "ours"]);
    let mut cpu = Rounds::new(&["nginx", "ours"]);
    for round in 0..ROUNDS {
        for (name, url, pid) in &targets {
            let c0 = cpu_secs(*pid);
            let r = wrk.run_on(url, rest)?;
            let c1 = cpu_secs(*pid);
            if r.non_2xx > 0 || r.socket_errors > 0 {
                bail!(
                    "{name}: {} non-2xx, {} socket errors",
                    r.non_2xx,
                    r.socket_errors
                );
            }
            rps.push(name, r.requests_per_sec);
            cpu.push(name, (c1 - c0) / r.requests.max(1) as f64 * 100_000.0);
            println!(
                "  round {round} {name:<6} {:>9.0} req/s",
                r.requests_per_sec
            );
        }
    }
    println!("\ncache hits, 4 KiB (req/s):");
    super::record::figure("cache hits, 4 KiB", "req/s");
    rps.print("req/s");
    let rps_ratio = rps.print_ratio("ours", "nginx", 1.0);
    let cpu_ratio = cpu.print_cpu_ratio("cache hits");
    println!("\nsummary: req/s ratio {rps_ratio:.2}, CPU/100k ratio {cpu_ratio:.2}");
    println!("after: {}", machine_load());
    Ok(())
}
