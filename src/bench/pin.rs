//! CPU pinning for the side-by-side benches: the proxies under test on one CPU of their own,
//! the client and the upstream on the others, so that a proxy's rounds are not decided by
//! which process the scheduler happened to preempt (on 2 vCPUs everything else shares CPU 0).
#![allow(unsafe_code)] // sched_setaffinity through libc, in a pre_exec hook and for running tasks

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Which CPUs the proxies and the rest get; `None` on a machine with a single CPU.
#[derive(Debug, Clone)]
pub struct Split {
    /// CPUs of the proxy under test (the last CPU).
    pub proxy: Vec<usize>,
    /// CPUs of the load generator and the upstream (all the others).
    pub rest: Vec<usize>,
}

impl Split {
    /// The last CPU for the proxies, the others for everything else.
    pub fn new() -> Option<Split> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        (n >= 2).then(|| Split {
            proxy: vec![n - 1],
            rest: (0..n - 1).collect(),
        })
    }
}

fn set(tid: libc::pid_t, cpus: &[usize]) -> bool {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside it; the call reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Pins every thread of `pid` and of its direct children (nginx's workers) to `cpus`.
/// Threads they start later inherit it. Returns how many threads were pinned.
pub fn pin_tree(pid: u32, cpus: &[usize]) -> usize {
    let mut pids = vec![pid];
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            if let Ok(st) = p.stat()
                && st.ppid as u32 == pid
            {
                pids.push(st.pid as u32);
            }
        }
    }
    let mut n = 0;
    for p in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok())
                && set(tid, cpus)
            {
                n += 1;
            }
        }
    }
    n
}

/// Makes `cmd` start on `cpus` (set in the child before exec, inherited by its threads).
pub fn on_cpus(cmd: &mut Command, cpus: &[usize]) {
    let cpus = cpus.to_vec();
    // SAFETY: the hook only calls sched_setaffinity, which is async-signal-safe, and
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            set(0, &cpus);
            Ok(())
        });
    }
}
