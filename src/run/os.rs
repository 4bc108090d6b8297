//! The few OS calls std does not wrap: signals to process groups, CPU affinity of a child,
//! the effective uid, the CPUs online. The only `unsafe` of the runner lives here, each call a plain syscall.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Sends `sig` to every process of group `pgid`. Errors (already gone) are ignored.
pub fn signal_group(pgid: u32, sig: i32) -> bool {
    if pgid == 0 {
        return false;
    }
    // SAFETY: killpg has no memory-safety preconditions; a stale pgid only yields ESRCH.
    unsafe { libc::killpg(pgid as libc::pid_t, sig) == 0 }
}

/// CPUs online, `sysconf(_SC_NPROCESSORS_ONLN)`: what nginx 1.22 starts for
/// `worker_processes auto` (it does not look at the affinity mask or a cgroup quota).
pub fn cpus_online() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 on error.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u64::try_from(n).unwrap_or(1).max(1)
}

/// True when process group `pgid` still has a member.
pub fn group_alive(pgid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    pgid != 0 && unsafe { libc::killpg(pgid as libc::pid_t, 0) == 0 }
}

/// Runs the child in its own process group, pinned to `cpus` when not empty, and asks the
/// kernel to SIGKILL it if the runner dies without tearing down (a SIGKILLed runner).
pub fn prepare(cmd: &mut Command, cpus: &[usize]) {
    cmd.process_group(0);
    let cpus = cpus.to_vec();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // syscalls (prctl, sched_setaffinity) on stack data.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if cpus.is_empty() {
                return Ok(());
            }
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &c in &cpus {
                libc::CPU_SET(c, &mut set);
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sets the child's RLIMIT_NOFILE (soft and hard) to `n` before it runs: the proxy's
/// open-file limit reached, as when a unit file or ulimit sets it low.
pub fn limit_nofile(cmd: &mut Command, n: u64) {
    // SAFETY: runs between fork and exec; setrlimit is async-signal-safe and reads only the
    // struct on the stack.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// True when running as root (nginx then needs `user root;` to write its temp files).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Moves the child into the cgroup whose `cgroup.procs` file is `procs` before it runs
/// (writing "0" moves the writer), so that it and every process it forks share the cgroup's
/// memory limit.
pub fn join_cgroup(cmd: &mut Command, procs: std::ffi::CString) {
    // SAFETY: runs between fork and exec; open, write and close are async-signal-safe and read
    // only the C string moved into the closure and a static byte.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if n != 1 {
                return Err(err);
            }
            Ok(())
        });
    }
}

/// Sets the child's RLIMIT_DATA (soft and hard) to `bytes` before it runs: an allocation that
/// would grow its writable private memory (heap, anonymous mappings) beyond it fails.
pub fn limit_data(cmd: &mut Command, bytes: u64) {
    // SAFETY: runs between fork and exec; setrlimit is async-signal-safe and reads only the
    // struct on the stack.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
