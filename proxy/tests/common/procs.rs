//! The processes of a running proxy seen from /proc: nginx's worker under its master, and a
//! process's open descriptors (numbers, and the files behind them).

/// Open descriptor numbers of process `pid`.
pub fn open_fds(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// The process that serves connections: nginx's worker (the master's child), or `pid` itself
/// (our proxy's workers are threads).
pub fn worker_of(pid: u32) -> u32 {
    let child = std::fs::read_dir("/proc").ok().and_then(|d| {
        d.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                    s.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
                        == Some(pid)
                })
            })
    });
    child.unwrap_or(pid)
}

/// Sizes of the files process `pid` holds open whose path contains `under` (unlinked temp
/// files included: /proc shows them as `PATH (deleted)`).
pub fn open_file_sizes(pid: u32, under: &str) -> Vec<u64> {
    open_fds(pid)
        .into_iter()
        .filter_map(|fd| {
            let link = format!("/proc/{pid}/fd/{fd}");
            let target = std::fs::read_link(&link).ok()?;
            target
                .to_string_lossy()
                .contains(under)
                .then(|| std::fs::metadata(&link).ok().map(|m| m.len()))?
        })
        .collect()
}
