//! proxy_cache storage, faithful to nginx 1.22: keys ([`key`]: MD5 file names under the
//! `levels` directories), files in nginx's layout ([`file`]), the keys zone index with the
//! update lock, the loader and the manager's eviction ([`zone`]), and the storing decision
//! from the upstream's headers ([`policy`]). The request flow (lookup, stale answers,
//! revalidation, storing a response) is `upstream::cache_flow`, one layer up.
//!
//! Zones are kept in a process-wide registry by name and directory, so a reload that keeps a
//! `proxy_cache_path` keeps its index, as nginx keeps the shared memory zone.

pub mod file;
pub mod key;
pub mod policy;
pub mod zone;

use crate::conf::cache::CachePath;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
pub use zone::Zone;

/// `$upstream_cache_status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not found, fetched.
    Miss,
    /// `proxy_cache_bypass` matched.
    Bypass,
    /// Found expired, fetched again.
    Expired,
    /// Expired and served (upstream failed, or a background update started).
    Stale,
    /// Expired and served while another request updates it.
    Updating,
    /// Expired, the upstream answered 304, served.
    Revalidated,
    /// Found fresh.
    Hit,
}

impl Status {
    /// The variable's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Miss => "MISS",
            Status::Bypass => "BYPASS",
            Status::Expired => "EXPIRED",
            Status::Stale => "STALE",
            Status::Updating => "UPDATING",
            Status::Revalidated => "REVALIDATED",
            Status::Hit => "HIT",
        }
    }

    /// Every status, in the order of [`Stats::by_status`].
    pub const ALL: [Status; 7] = [
        Status::Miss,
        Status::Bypass,
        Status::Expired,
        Status::Stale,
        Status::Updating,
        Status::Revalidated,
        Status::Hit,
    ];
}

/// Counters of one zone (Prometheus and the status page).
#[derive(Debug, Default)]
pub struct Stats {
    /// Responses by [`Status`] (same order as [`Status::ALL`]).
    pub by_status: [AtomicU64; 7],
    /// Responses written to the cache.
    pub stored: AtomicU64,
    /// Files removed by the manager (`inactive`, `max_size`, zone full).
    pub evicted: AtomicU64,
    /// Files refused when read (corrupt, other key, other version).
    pub refused: AtomicU64,
}

impl Stats {
    /// Counts one response answered with `s`.
    pub fn count(&self, s: Status) {
        let i = Status::ALL.iter().position(|x| *x == s).unwrap_or(0);
        self.by_status[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// Seconds since the epoch (the times stored in cache files and nodes).
pub fn unix_now() -> i64 {
    crate::logs::time::now_wall()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

type Registry = Mutex<HashMap<(String, std::path::PathBuf), Arc<Zone>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The zone for `path`: the one already running under the same name and directory (a
/// reload), or a new one whose index the loader fills from the directory. The directory is
/// created as nginx creates it (the last component only); failing that is nginx's
/// `mkdir() "DIR" failed (…)`.
pub fn open_zone(path: &Arc<CachePath>) -> Result<Arc<Zone>, String> {
    if let Err(e) = std::fs::create_dir(&path.dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(format!(
            "mkdir() \"{}\" failed ({})",
            path.dir.display(),
            crate::logs::error::os_error(&e)
        ));
    }
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    let id = (path.name.clone(), path.dir.clone());
    if let Some(z) = reg.get(&id)
        && *z.path == **path
    {
        return Ok(z.clone());
    }
    let z = Arc::new(Zone::new(path.clone()));
    start_loader(&z);
    reg.insert(id, z.clone());
    Ok(z)
}

/// nginx starts its cache loader process a minute after the server: until the loader is done
/// the zone is cold (unknown keys are looked for on disk).
const LOADER_DELAY: std::time::Duration = std::time::Duration::from_secs(60);

fn start_loader(z: &Arc<Zone>) {
    let weak = Arc::downgrade(z);
    let _ = std::thread::Builder::new()
        .name("cache loader".into())
        .spawn(move || {
            std::thread::sleep(LOADER_DELAY);
            if let Some(z) = weak.upgrade() {
                z.load();
            }
        });
}

/// Bytes available to unprivileged users on the file system of `dir` (`min_free`).
pub fn free_space(dir: &std::path::Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Starts the cache manager for `zones` (once per zone): a thread that runs the eviction
/// pass while the zone is in use, again when the pass says (`manager_sleep` after a full
/// batch, else when the next entry becomes inactive, at most 10 s, at least 10 ms).
pub fn start_manager(zones: &[Arc<Zone>]) {
    static STARTED: OnceLock<Mutex<Vec<usize>>> = OnceLock::new();
    let started = STARTED.get_or_init(|| Mutex::new(Vec::new()));
    for z in zones {
        let id = Arc::as_ptr(z) as usize;
        let mut s = started.lock().unwrap_or_else(|p| p.into_inner());
        if s.contains(&id) {
            continue;
        }
        s.push(id);
        let weak = Arc::downgrade(z);
        let _ = std::thread::Builder::new()
            .name("cache manager".into())
            .spawn(move || {
                while let Some(z) = weak.upgrade() {
                    let next = z.manage();
                    drop(z);
                    std::thread::sleep(next.max(std::time::Duration::from_millis(10)));
                }
            });
    }
}
