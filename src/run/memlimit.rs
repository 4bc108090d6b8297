//! `[[upstream]] memory_limit`: where the kernel and the runner's privileges allow it, each
//! instance runs in a memory cgroup of its own (v2 `memory.max`, or v1 `memory.limit_in_bytes`)
//! created under the runner's own cgroup: the instance's processes together are limited, as a
//! container's are, and the kernel OOM-kills the largest (`oom_kill` in the cgroup's events).
//! Otherwise each process gets an rlimit: RLIMIT_DATA, its writable private memory (heap and
//! anonymous mappings), so that an allocation beyond it fails (the fake worker then aborts).
//! RLIMIT_DATA rather than RLIMIT_AS: the address space also counts the mapped executable
//! (hundreds of MiB for a debug build) and glibc's reserved 64 MiB arenas, so an RLIMIT_AS of
//! a few dozen MiB would stop the process from starting at all. The run prints which, never
//! falling back silently; the cgroups are removed at teardown.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Environment variable that forces the rlimit (`PROXYLAB_MEMORY_LIMIT=rlimit`), to exercise
/// it on machines where cgroups work.
pub const FORCE_ENV: &str = "PROXYLAB_MEMORY_LIMIT";

/// How an instance's memory limit is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// A memory cgroup (version 1 or 2) at this directory.
    Cgroup(u8, PathBuf),
    /// RLIMIT_DATA per process, and why no cgroup.
    Rlimit(String),
}

impl How {
    /// One line for the console and the instance's log.
    pub fn describe(&self, name: &str, bytes: u64) -> String {
        let mib = bytes as f64 / 1048576.0;
        match self {
            How::Cgroup(v, dir) => format!(
                "upstream {name}: memory_limit {mib:.1} MiB via a cgroup v{v} memory limit ({}): the instance's processes together; the kernel OOM-kills the largest",
                dir.display()
            ),
            How::Rlimit(why) => format!(
                "upstream {name}: memory_limit {mib:.1} MiB via RLIMIT_DATA on each process (heap and anonymous memory; an allocation beyond it fails): no memory cgroup ({why})"
            ),
        }
    }
}

/// The runner's own memory cgroup directory and its version, from /proc/self/cgroup.
fn own_cgroup() -> Result<(u8, PathBuf), String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (parts.next(), parts.next(), parts.next());
        let (Some(ctrl), Some(path)) = (ctrl, path) else {
            continue;
        };
        if ctrl.split(',').any(|c| c == "memory") {
            let dir = Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'));
            return Ok((1, dir));
        }
    }
    let v2 = text.lines().find_map(|l| l.strip_prefix("0::"));
    match v2 {
        Some(path) if Path::new("/sys/fs/cgroup/cgroup.controllers").is_file() => Ok((
            2,
            Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/')),
        )),
        _ => Err("no memory controller in /proc/self/cgroup".into()),
    }
}

/// The cgroup directory of instance `name` of this runner.
fn dir_of(base: &Path, name: &str) -> PathBuf {
    base.join(format!("proxylab-{}-{name}", std::process::id()))
}

/// Creates (or reuses, for a restarted instance) the cgroup of `name` with the limit set.
fn make_cgroup(name: &str, bytes: u64) -> Result<(u8, PathBuf), String> {
    let (v, base) = own_cgroup()?;
    let dir = dir_of(&base, name);
    if !dir.is_dir() {
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    let (limit, swap) = if v == 1 {
        ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
    } else {
        ("memory.max", "memory.swap.max")
    };
    let set = std::fs::write(dir.join(limit), bytes.to_string());
    if let Err(e) = set {
        let _ = std::fs::remove_dir(&dir);
        return Err(format!("{}: {e}", dir.join(limit).display()));
    }
    // No swap beyond the limit where the kernel accounts it (else the leak swaps out).
    let swap_value = if v == 1 {
        bytes.to_string()
    } else {
        "0".into()
    };
    let _ = std::fs::write(dir.join(swap), swap_value);
    Ok((v, dir))
}

/// Limits the instance `name` that `cmd` starts to `bytes`, and says how.
pub fn apply(cmd: &mut Command, name: &str, bytes: u64) -> How {
    let forced = std::env::var(FORCE_ENV).is_ok_and(|v| v == "rlimit");
    let cgroup = if forced {
        Err(format!("{FORCE_ENV}=rlimit"))
    } else {
        make_cgroup(name, bytes)
    };
    match cgroup {
        Ok((v, dir)) => {
            let procs = dir.join("cgroup.procs");
            match std::ffi::CString::new(procs.as_os_str().as_encoded_bytes()) {
                Ok(c) => {
                    super::os::join_cgroup(cmd, c);
                    How::Cgroup(v, dir)
                }
                Err(_) => rlimit(cmd, bytes, "cgroup path with a NUL byte".into()),
            }
        }
        Err(why) => rlimit(cmd, bytes, why),
    }
}

fn rlimit(cmd: &mut Command, bytes: u64, why: String) -> How {
    super::os::limit_data(cmd, bytes);
    How::Rlimit(why)
}

/// OOM kills in instance `name`'s cgroup so far (None: no cgroup, or the kernel does not say).
pub fn oom_kills(name: &str) -> Option<u64> {
    let (v, base) = own_cgroup().ok()?;
    let file = if v == 1 {
        "memory.oom_control"
    } else {
        "memory.events"
    };
    let text = std::fs::read_to_string(dir_of(&base, name).join(file)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// Removes instance `name`'s cgroup once its processes are gone (waits up to 2 s for them).
pub fn remove(name: &str) {
    let Ok((_, base)) = own_cgroup() else { return };
    let dir = dir_of(&base, name);
    let end = Instant::now() + Duration::from_secs(2);
    while dir.is_dir() && std::fs::remove_dir(&dir).is_err() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
}
