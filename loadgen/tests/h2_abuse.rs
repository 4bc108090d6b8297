//! The HTTP/2 attacks of `transport::h2attack` (the `h2_abuse` behaviour) against our proxy
//! and real nginx with the same config (h2c, `http2_max_concurrent_streams 128`,
//! `http2_recv_buffer_size 256k`, `keepalive_requests 1000`): while four connections attack,
//! a normal HTTP/2 client must keep being served, and the proxy's memory must stay bounded.
//! The table printed per attack sets ours beside nginx (CPU seconds used, RSS before and
//! after, how the attack connections ended, probes served). Ours must also stay within a CPU
//! bound set against nginx's, and end attacking connections when nginx ends some. Numbers
//! come from a shared machine: they show orders of magnitude, not benchmarks.

use proxylab_loadgen::transport::h2attack::{self, H2Attack};
use proxylab_loadgen::transport::h2raw::{self, END_HEADERS, END_STREAM, kind};
mod proxies;

use proxies::{proc_uid, start_ours, usage};
use proxylab_testkit::Nginx;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ATTACKERS: usize = 4;
const HOLD: Duration = Duration::from_secs(2);
/// The most ours may grow during one attack.
const RSS_BOUND_KB: u64 = 64 * 1024;
/// Ours may use at most this many times nginx's CPU during an attack, or [`CPU_FLOOR_S`],
/// whichever is more (ours runs as a debug build here, on a shared machine).
const CPU_RATIO: f64 = 4.0;
/// CPU seconds ours may always use during one attack (a fifth of the four attackers' time).
const CPU_FLOOR_S: f64 = 1.6;

fn conf() -> String {
    let user = if proc_uid() == 0 { "user root;\n" } else { "" };
    format!(
        "{user}worker_processes 1;\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {{DIR}}/cb;\n  proxy_temp_path {{DIR}}/pt;\n  \
         http2_max_concurrent_streams 128;\n  http2_recv_buffer_size 256k;\n  keepalive_requests 1000;\n  \
         server {{ listen 127.0.0.1:{{PORT}} http2; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
    )
}

/// One ordinary HTTP/2 GET on a new connection: the time to its response HEADERS, if any
/// came within 5 s.
async fn probe(addr: SocketAddr) -> Option<Duration> {
    let t0 = Instant::now();
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut out = h2raw::PREFACE.to_vec();
        h2raw::settings(&mut out, &[]);
        h2raw::frame(
            &mut out,
            kind::HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &h2raw::get_block("a.test", "/"),
        );
        s.write_all(&out).await.ok()?;
        let mut buf = Vec::new();
        let mut tmp = [0u8; 16384];
        loop {
            let n = s.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
            for (k, flags, stream, _) in h2raw::read_frames(&mut buf) {
                if k == kind::SETTINGS && flags & 1 == 0 {
                    let mut ack = Vec::new();
                    h2raw::frame(&mut ack, kind::SETTINGS, 1, 0, &[]);
                    s.write_all(&ack).await.ok()?;
                }
                if k == kind::HEADERS && stream == 1 {
                    return Some(t0.elapsed());
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

/// What one attack did to one proxy.
struct Result {
    ends: Vec<&'static str>,
    frames: u64,
    cpu_s: f64,
    rss_before: u64,
    rss_after: u64,
    served: usize,
    probes: usize,
    worst: Duration,
}

async fn attack(addr: SocketAddr, pid: u32, a: H2Attack) -> Result {
    let (t0, rss_before) = usage(pid);
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|_| {
            tokio::spawn(async move {
                let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                    return None;
                };
                Some(h2attack::run(&mut s, a, "a.test", "/", HOLD).await)
            })
        })
        .collect();
    let (mut served, mut probes, mut worst) = (0, 0, Duration::ZERO);
    let end = Instant::now() + HOLD;
    while Instant::now() < end {
        probes += 1;
        match probe(addr).await {
            Some(d) => {
                served += 1;
                worst = worst.max(d);
            }
            None => worst = Duration::from_secs(5),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut ends = Vec::new();
    let mut frames = 0;
    for h in attackers {
        if let Ok(Some(e)) = h.await {
            ends.push(e.end);
            frames += e.frames;
        }
    }
    let (t1, rss_after) = usage(pid);
    Result {
        ends,
        frames,
        cpu_s: (t1 - t0) as f64 / 100.0,
        rss_before,
        rss_after,
        served,
        probes,
        worst,
    }
}

fn row(name: &str, who: &str, r: &Result) -> String {
    format!(
        "{name:<19} {who:<6} cpu {:>5.2}s  rss {:>7} -> {:>7} KiB  probes {}/{} worst {:>5} ms  frames {:>8}  ends {:?}",
        r.cpu_s,
        r.rss_before,
        r.rss_after,
        r.served,
        r.probes,
        r.worst.as_millis(),
        r.frames,
        r.ends
    )
}

#[test]
fn http2_attacks_are_held_off_like_nginx() {
    let Some(nginx) = Nginx::start_full(&conf()) else {
        return;
    };
    let (ours, _dir, oaddr) = start_ours(&conf());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut failures = Vec::new();
    for a in H2Attack::ALL {
        let n = rt.block_on(attack(nginx.addr(), nginx.proc().pid(), a));
        let o = rt.block_on(attack(oaddr, ours.pid(), a));
        println!(
            "{}\n{}",
            row(a.name(), "nginx", &n),
            row(a.name(), "ours", &o)
        );
        if o.served < o.probes {
            failures.push(format!(
                "{}: ours served {}/{} normal requests",
                a.name(),
                o.served,
                o.probes
            ));
        }
        let cpu_bound = (n.cpu_s * CPU_RATIO).max(CPU_FLOOR_S);
        if o.cpu_s > cpu_bound {
            failures.push(format!(
                "{}: ours used {:.2} CPU s (nginx {:.2}, bound {cpu_bound:.2})",
                a.name(),
                o.cpu_s,
                n.cpu_s
            ));
        }
        // nginx ends flooding connections by its frame-queue and byte-ratio rules: ours must
        // end some too when nginx does (how many depends on how far each falls behind).
        let closed = |r: &Result| r.ends.iter().filter(|e| **e == "closed_by_server").count();
        if closed(&n) > 0 && closed(&o) == 0 {
            failures.push(format!(
                "{}: nginx closed {} attacking connections, ours none",
                a.name(),
                closed(&n)
            ));
        }
        if o.rss_after > o.rss_before + RSS_BOUND_KB {
            failures.push(format!(
                "{}: ours grew from {} to {} KiB",
                a.name(),
                o.rss_before,
                o.rss_after
            ));
        }
        if rt.block_on(probe(oaddr)).is_none() {
            failures.push(format!(
                "{}: ours does not serve after the attack",
                a.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
