//! Helpers shared by the proxy-facing attack tests (h2_abuse, attacker_timeouts, h2_heads,
//! h2_recv_buffer): our proxy started as a real process with an nginx.conf, the CPU and RSS
//! of a process tree, and a blocking HTTP/2 frame client ([`h2wire`]).
#![allow(dead_code)]

pub mod h2wire;

use proxylab_testkit::{Proc, free_port, proxylab_bin};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

pub fn proc_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
}

/// Our proxy as a real process on a free port (`{PORT}`).
pub fn start_ours(conf: &str) -> (Proc, tempfile::TempDir, SocketAddr) {
    let (proc, dir, ports) = start_ours_ports(conf);
    (proc, dir, ([127, 0, 0, 1], ports[0]).into())
}

/// Our proxy as a real process; `{PORT}`, `{PORT2}`, `{PORT3}` become free ports (returned)
/// and `{DIR}` its prefix, as testkit's nginx does.
pub fn start_ours_ports(conf: &str) -> (Proc, tempfile::TempDir, [u16; 3]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port()];
    let text = conf
        .replace("{PORT}", &ports[0].to_string())
        .replace("{PORT2}", &ports[1].to_string())
        .replace("{PORT3}", &ports[2].to_string())
        .replace("{DIR}", &dir.path().display().to_string());
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, text).expect("write conf");
    let mut cmd = Command::new(proxylab_bin());
    cmd.arg("proxy")
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir.path());
    let proc = Proc::spawn("proxylab-proxy", cmd).expect("spawn");
    proc.wait_stdout_line(
        |l| l.starts_with("proxylab-proxy ready"),
        Duration::from_secs(60),
    )
    .unwrap_or_else(|| panic!("our proxy did not start: {}", proc.describe()));
    (proc, dir, ports)
}

/// The process and its children (nginx's workers): CPU ticks and RSS in KiB, summed.
pub fn usage(pid: u32) -> (u64, u64) {
    let mut pids = vec![pid];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
            if after.split(' ').nth(1).and_then(|v| v.parse::<u32>().ok()) == Some(pid) {
                pids.push(p);
            }
        }
    }
    let (mut ticks, mut rss) = (0, 0);
    for p in pids {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let f: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|x| x.1)
            .unwrap_or("")
            .split(' ')
            .collect();
        ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        rss += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    (ticks, rss)
}
