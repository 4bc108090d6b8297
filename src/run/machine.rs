//! Where and when a run happened: the commit of the working tree, the start time, and how busy
//! the whole machine was (`/proc/stat`, `/proc/loadavg`), so a reader can tell a run on a quiet
//! machine from one squeezed by other processes.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The run's provenance, written into `summary.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// `git rev-parse --short=12 HEAD` of the working directory, `-dirty` when tracked files
    /// differ from it; `unknown` outside a checkout.
    pub commit: String,
    /// Start of the run, RFC 3339 UTC.
    pub started: String,
    /// Online CPUs.
    pub cpus: u32,
    /// 1-minute load average when the load ended.
    pub load_avg_1m: f64,
    /// CPU used by the whole machine while the load ran, percent of one core, interrupt
    /// handling excluded (see `interrupts_cpu_pct`).
    pub machine_cpu_pct: f64,
    /// Time in hard and soft interrupts (`irq` + `softirq` of `/proc/stat`), percent of one
    /// core. On a test machine this is mostly the run's own loopback traffic, and what of it
    /// runs on an idle CPU (charged to the idle task) or in ksoftirqd is charged to none of the
    /// run's processes, so counting it as "others" would call a quiet machine busy at high
    /// request rates. Absent in older summaries.
    #[serde(default)]
    pub interrupts_cpu_pct: f64,
    /// `machine_cpu_pct` minus the run's own components' mean CPU (proxy, pools, loadgen,
    /// runner): what other processes took, percent of one core. Filled in by the summary.
    pub others_cpu_pct: f64,
}

/// Busy (interrupts excluded), interrupt and total jiffies of the machine (first line of
/// `/proc/stat`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    busy: u64,
    interrupts: u64,
    total: u64,
}

/// Reads `/proc/stat`'s aggregate line; zeros when unreadable.
pub fn cpu_times() -> CpuTimes {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_cpu_line(t.lines().next()?))
        .unwrap_or_default()
}

fn parse_cpu_line(line: &str) -> Option<CpuTimes> {
    let mut f = line.split_ascii_whitespace();
    if f.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = f.filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let interrupts = v.get(5).copied().unwrap_or(0) + v.get(6).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total - idle - interrupts,
        interrupts,
        total,
    })
}

/// Percent of one core the machine used between two readings, interrupts excluded.
pub fn machine_cpu_pct(from: CpuTimes, to: CpuTimes, cpus: u32) -> f64 {
    share(to.busy.saturating_sub(from.busy), from, to, cpus)
}

/// Percent of one core spent in hard and soft interrupts between two readings.
pub fn interrupts_cpu_pct(from: CpuTimes, to: CpuTimes, cpus: u32) -> f64 {
    share(
        to.interrupts.saturating_sub(from.interrupts),
        from,
        to,
        cpus,
    )
}

fn share(jiffies: u64, from: CpuTimes, to: CpuTimes, cpus: u32) -> f64 {
    let total = to.total.saturating_sub(from.total);
    if total == 0 {
        return 0.0;
    }
    jiffies as f64 / total as f64 * 100.0 * f64::from(cpus)
}

fn load_avg_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_ascii_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit of the checkout holding `dir` (`abc123def456`, `abc123def456-dirty`, `unknown`).
pub fn commit_of(dir: &Path) -> String {
    let Some(head) = git(dir, &["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    match git(dir, &["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}

/// Everything but `others_cpu_pct`, from two `/proc/stat` readings around the load.
pub fn provenance(started: std::time::SystemTime, from: CpuTimes, to: CpuTimes) -> Provenance {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    Provenance {
        commit: commit_of(Path::new(".")),
        started: humantime::format_rfc3339_seconds(started).to_string(),
        cpus,
        load_avg_1m: load_avg_1m(),
        machine_cpu_pct: machine_cpu_pct(from, to, cpus),
        interrupts_cpu_pct: interrupts_cpu_pct(from, to, cpus),
        others_cpu_pct: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_cpu_from_two_stat_lines() {
        let a = parse_cpu_line("cpu  100 0 100 700 100 0 0 0 0 0").unwrap();
        let b = parse_cpu_line("cpu  200 0 200 1100 100 0 0 0 0 0").unwrap();
        // 200 busy of 600 jiffies on 2 CPUs: two thirds of one core.
        assert!((machine_cpu_pct(a, b, 2) - 66.666).abs() < 0.01);
        assert!(parse_cpu_line("cpu0 1 2 3 4").is_none());
        // 60 of the 200 busy jiffies in softirq: busy 140, interrupts 60 (of 600, 2 CPUs).
        let c = parse_cpu_line("cpu  200 0 140 1100 100 0 60 0 0 0").unwrap();
        assert!((machine_cpu_pct(a, c, 2) - 46.666).abs() < 0.01);
        assert!((interrupts_cpu_pct(a, c, 2) - 20.0).abs() < 0.01);
        assert_eq!(machine_cpu_pct(b, b, 2), 0.0);
        assert!(cpu_times().total > 0, "this test runs on Linux");
    }
}
