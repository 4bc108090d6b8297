//! The memory figure of `proxylab bench edge`: RSS of a server (process and its children)
//! before and while it holds N idle client connections (connected, nothing sent).
#![allow(unsafe_code)] // getrlimit/setrlimit to hold 10,000 sockets, see `raise_nofile`

use super::proxy_edge::Target;
use anyhow::{Context, bail};
use std::net::TcpStream;
use std::time::Duration;

/// Raises the soft open-files limit to the hard limit (children inherit it).
pub fn raise_nofile() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Resident set size in MiB of `pid` plus its direct children (nginx master + worker).
fn rss_mib(pid: u32) -> f64 {
    let page = procfs::page_size() as f64;
    let mut pages = 0u64;
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            if let Ok(st) = p.stat()
                && (st.pid as u32 == pid || st.ppid as u32 == pid)
            {
                pages += st.rss;
            }
        }
    }
    pages as f64 * page / (1024.0 * 1024.0)
}

fn settled_rss(pid: u32) -> f64 {
    let mut v = Vec::new();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        v.push(rss_mib(pid));
    }
    super::support::median(&v)
}

/// Opens `n` idle connections to the target's plain port; returns (RSS before, RSS while
/// holding them) in MiB. Fails if the server closes or refuses connections meanwhile.
pub fn idle_rss(t: &Target, n: usize) -> anyhow::Result<(f64, f64)> {
    let pid = t.child.pid();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], t.plain_port));
    let before = settled_rss(pid);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .with_context(|| format!("connection {i} of {n}"))?;
        conns.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let held = settled_rss(pid);
    // Still open? A server that dropped them did not hold them.
    let mut closed = 0;
    for s in conns.iter().step_by(97) {
        s.set_nonblocking(true)?;
        let mut b = [0u8; 1];
        if matches!(std::io::Read::read(&mut &*s, &mut b), Ok(0)) {
            closed += 1;
        }
    }
    drop(conns);
    if closed > 0 {
        bail!("{closed} sampled idle connections were closed by the server");
    }
    Ok((before, held))
}
