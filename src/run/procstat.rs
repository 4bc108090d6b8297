//! CPU, memory and context switches of process groups from /proc: one pass over `/proc/*/stat`
//! per sample, summed by process group, so every worker a component forks is counted with it;
//! context switches are summed over every thread (`/proc/PID/task/TID/status`).

use std::collections::HashMap;
use std::time::Instant;

/// CPU ticks and RSS of one process group at one instant.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    ticks: u64,
    rss_pages: u64,
    procs: u32,
    switches: u64,
}

/// Turns successive scans into CPU% per process group.
#[derive(Debug)]
pub struct ProcStat {
    ticks_per_sec: f64,
    page_bytes: u64,
    last: HashMap<u32, (Instant, u64, u64)>,
    last_self: Option<(Instant, u64)>,
}

/// One group's figures for one sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupSample {
    /// CPU since the previous sample, percent of one core.
    pub cpu_pct: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Processes in the group.
    pub procs: u32,
    /// Context switches (voluntary + involuntary, every thread) per second since the previous
    /// sample.
    pub switches_per_s: f64,
}

impl Default for ProcStat {
    fn default() -> Self {
        ProcStat {
            ticks_per_sec: procfs::ticks_per_second() as f64,
            page_bytes: procfs::page_size(),
            last: HashMap::new(),
            last_self: None,
        }
    }
}

/// Voluntary plus involuntary context switches in a `/proc/PID/task/TID/status` text.
fn parse_switches(status: &str) -> u64 {
    status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k, "voluntary_ctxt_switches" | "nonvoluntary_ctxt_switches")
                .then(|| v.trim().parse::<u64>().ok())?
        })
        .sum()
}

/// Context switches of every thread of process `pid` (threads that exited are not counted).
fn process_switches(pid: &str) -> u64 {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    rd.flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|s| parse_switches(&s))
        .sum()
}

/// Parses `/proc/PID/stat`: (pgrp, utime + stime, rss pages).
fn parse_stat(text: &str) -> Option<(u32, u64, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the comm field: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... rss(21).
    let pgrp = f.get(2)?.parse().ok()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    let rss: i64 = f.get(21)?.parse().ok()?;
    Some((pgrp, ut + st, rss.max(0) as u64))
}

impl ProcStat {
    /// CPU% of the runner itself (this process, all threads) since the previous call: the
    /// cost of sampling, fault handling and the progress bar.
    /// Also returns its RSS in MiB.
    pub fn own_usage(&mut self) -> Option<(Option<f64>, f64)> {
        let now = Instant::now();
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let (_, ticks, rss) = parse_stat(&text)?;
        let rss_mib = (rss * self.page_bytes) as f64 / (1024.0 * 1024.0);
        let cpu = self.last_self.replace((now, ticks)).and_then(|(then, t0)| {
            let dt = now.duration_since(then).as_secs_f64();
            (dt > 0.0).then(|| (ticks.saturating_sub(t0) as f64 / self.ticks_per_sec) / dt * 100.0)
        });
        Some((cpu, rss_mib))
    }

    /// Samples the given process groups.
    pub fn sample(&mut self, groups: &[u32]) -> HashMap<u32, GroupSample> {
        let now = Instant::now();
        let mut totals: HashMap<u32, Totals> =
            groups.iter().map(|g| (*g, Totals::default())).collect();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(n) = name.to_str() else { continue };
                if !n.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(format!("/proc/{n}/stat")) else {
                    continue;
                };
                if let Some((pg, ticks, rss)) = parse_stat(&text)
                    && let Some(t) = totals.get_mut(&pg)
                {
                    t.ticks += ticks;
                    t.rss_pages += rss;
                    t.procs += 1;
                    t.switches += process_switches(n);
                }
            }
        }
        let mut out = HashMap::new();
        for (pg, t) in totals {
            let (cpu_pct, switches_per_s) = match self.last.get(&pg) {
                Some((then, ticks, sw)) => {
                    let dt = now.duration_since(*then).as_secs_f64();
                    if dt > 0.0 {
                        let cpu = t.ticks.saturating_sub(*ticks) as f64 / self.ticks_per_sec;
                        (cpu / dt * 100.0, t.switches.saturating_sub(*sw) as f64 / dt)
                    } else {
                        (0.0, 0.0)
                    }
                }
                None => (0.0, 0.0),
            };
            self.last.insert(pg, (now, t.ticks, t.switches));
            out.insert(
                pg,
                GroupSample {
                    cpu_pct,
                    rss_mib: (t.rss_pages * self.page_bytes) as f64 / (1024.0 * 1024.0),
                    procs: t.procs,
                    switches_per_s,
                },
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_odd_names() {
        let line = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 100 1000 250 18446744073709551615";
        assert_eq!(parse_stat(line), Some((1234, 12, 250)));
    }

    #[test]
    fn sums_both_kinds_of_context_switch() {
        let status = "Name:\tx\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(parse_switches(status), 127);
        assert_eq!(parse_switches("Name:\tx\n"), 0);
    }

    #[test]
    fn counts_own_context_switches() {
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (pg, _, _) = parse_stat(&me).unwrap();
        let mut ps = ProcStat::default();
        ps.sample(&[pg]);
        // Sleeping blocks this thread: at least one voluntary switch per sleep.
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let s = ps.sample(&[pg]);
        assert!(s[&pg].switches_per_s > 0.0, "{:?}", s[&pg]);
    }

    #[test]
    fn measures_own_group() {
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (pg, _, _) = parse_stat(&me).unwrap();
        let mut ps = ProcStat::default();
        let s = ps.sample(&[pg]);
        assert!(s[&pg].procs >= 1 && s[&pg].rss_mib > 0.0);
    }
}
