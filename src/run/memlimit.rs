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

/// Where the cgroup filesystem is mounted (v2: the unified hierarchy; v1: one directory per
/// controller under it).
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The runner's own memory cgroup directory and its version, from /proc/self/cgroup.
fn own_cgroup() -> Result<(u8, PathBuf), String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    parse_own(&text, Path::new(CGROUP_ROOT))
}

/// The memory cgroup named by a /proc/PID/cgroup `text`, under the cgroup filesystem at
/// `root`: a v1 `N:…memory…:/PATH` line (`root/memory/PATH`), else the v2 `0::/PATH` line when
/// `root` is a v2 hierarchy (it has `cgroup.controllers`).
fn parse_own(text: &str, root: &Path) -> Result<(u8, PathBuf), String> {
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (parts.next(), parts.next(), parts.next());
        let (Some(ctrl), Some(path)) = (ctrl, path) else {
            continue;
        };
        if ctrl.split(',').any(|c| c == "memory") {
            let dir = root.join("memory").join(path.trim_start_matches('/'));
            return Ok((1, dir));
        }
    }
    let v2 = text.lines().find_map(|l| l.strip_prefix("0::"));
    match v2 {
        Some(path) if root.join("cgroup.controllers").is_file() => {
            Ok((2, root.join(path.trim_start_matches('/'))))
        }
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
    make_cgroup_in(v, &base, name, bytes).map(|dir| (v, dir))
}

/// [`make_cgroup`] under the runner's cgroup `base` of version `v`. On v2 the child has a
/// `memory.max` only if `base` delegates the memory controller to its children (`memory` in
/// its `cgroup.subtree_control`); the runner does not enable it (v2 forbids that on a cgroup
/// holding processes, the runner's own), so without it the run says why and uses the rlimit.
fn make_cgroup_in(v: u8, base: &Path, name: &str, bytes: u64) -> Result<PathBuf, String> {
    if v == 2 {
        let control = base.join("cgroup.subtree_control");
        let text = std::fs::read_to_string(&control).unwrap_or_default();
        if !text.split_whitespace().any(|c| c == "memory") {
            return Err(format!(
                "cgroup v2: {} does not delegate the memory controller (no `memory` in it)",
                control.display()
            ));
        }
    }
    let dir = dir_of(base, name);
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
    Ok(dir)
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
    oom_kills_in(v, &dir_of(&base, name))
}

/// The `oom_kill N` count of the cgroup at `dir`: v1 `memory.oom_control`, v2 `memory.events`.
fn oom_kills_in(v: u8, dir: &Path) -> Option<u64> {
    let file = if v == 1 {
        "memory.oom_control"
    } else {
        "memory.events"
    };
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
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

/// The path and file logic of both cgroup versions, on a temporary directory standing in for
/// the cgroup filesystem. It checks which directory and files the runner picks and what it
/// writes and reads there, not that a kernel enforces the limit: this machine has cgroup v1,
/// so a v2 limit was never enforced under test (docs/scenarios.md, leaking-app).
#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn finds_the_runners_cgroup_of_either_version() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let v1 = "12:cpu,cpuacct:/a\n4:memory:/user.slice/run\n0::/x\n";
        assert_eq!(parse_own(v1, r), Ok((1, r.join("memory/user.slice/run"))));
        let v2 = "0::/user.slice/session-1.scope\n";
        assert!(
            parse_own(v2, r).is_err(),
            "no cgroup.controllers: not a v2 hierarchy"
        );
        std::fs::write(r.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        assert_eq!(
            parse_own(v2, r),
            Ok((2, r.join("user.slice/session-1.scope")))
        );
    }

    #[test]
    fn v2_sets_memory_max_and_no_swap_where_memory_is_delegated() {
        let base = tempfile::tempdir().unwrap();
        let b = base.path();
        let refused = make_cgroup_in(2, b, "api.0", 48 << 20).unwrap_err();
        assert!(
            refused.contains("does not delegate the memory controller"),
            "{refused}"
        );
        std::fs::write(b.join("cgroup.subtree_control"), "cpu memory\n").unwrap();
        let dir = make_cgroup_in(2, b, "api.0", 48 << 20).unwrap();
        assert_eq!(dir, dir_of(b, "api.0"));
        assert_eq!(read(&dir.join("memory.max")), (48u64 << 20).to_string());
        assert_eq!(read(&dir.join("memory.swap.max")), "0");
        assert!(!dir.join("memory.limit_in_bytes").exists());
        // A restarted instance reuses its cgroup.
        assert_eq!(make_cgroup_in(2, b, "api.0", 1 << 20).unwrap(), dir);
        assert_eq!(read(&dir.join("memory.max")), (1u64 << 20).to_string());
        std::fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 41\noom 3\noom_kill 2\noom_group_kill 0\n",
        )
        .unwrap();
        assert_eq!(oom_kills_in(2, &dir), Some(2));
        assert_eq!(oom_kills_in(1, &dir), None, "v1 reads memory.oom_control");
    }

    #[test]
    fn v1_sets_the_limit_and_the_memory_plus_swap_limit() {
        let base = tempfile::tempdir().unwrap();
        let dir = make_cgroup_in(1, base.path(), "api", 4096).unwrap();
        assert_eq!(read(&dir.join("memory.limit_in_bytes")), "4096");
        assert_eq!(read(&dir.join("memory.memsw.limit_in_bytes")), "4096");
        std::fs::write(
            dir.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .unwrap();
        assert_eq!(oom_kills_in(1, &dir), Some(3));
        let missing = make_cgroup_in(1, &base.path().join("gone"), "api", 4096).unwrap_err();
        assert!(missing.starts_with("mkdir "), "{missing}");
    }
}
