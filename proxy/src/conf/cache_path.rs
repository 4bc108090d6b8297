//! `proxy_cache_path` (http level): directory, `levels`, `keys_zone` with its size limit,
//! `inactive`, `max_size`, `min_free`, `use_temp_path`, the loader's and the manager's batch
//! limits (`loader_files`, `_sleep`, `_threshold`; `manager_*`), with `nginx -t`'s wording.

use super::error::ConfError;
use super::lexer::Directive;
use super::values::{parse_offset, parse_size, parse_time};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An error located at `d`.
pub(super) fn at(d: &Directive, msg: impl Into<String>) -> ConfError {
    ConfError::at(msg, &d.file, d.line)
}

/// How the loader or the manager works through files: at most `files` per iteration, an
/// iteration of at most `threshold`, then a pause of `sleep` (nginx: 100, 200ms, 50ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batches {
    /// `loader_files` / `manager_files`.
    pub files: u64,
    /// `loader_sleep` / `manager_sleep`.
    pub sleep: Duration,
    /// `loader_threshold` / `manager_threshold`.
    pub threshold: Duration,
}

impl Default for Batches {
    fn default() -> Self {
        Batches {
            files: 100,
            sleep: Duration::from_millis(50),
            threshold: Duration::from_millis(200),
        }
    }
}

/// One `proxy_cache_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePath {
    /// `keys_zone` name.
    pub name: String,
    /// Directory (absolute, without a trailing slash).
    pub dir: PathBuf,
    /// `levels=1:2` → [1, 2].
    pub levels: Vec<usize>,
    /// `keys_zone` size in bytes (bounds the number of keys, about 8000 per megabyte).
    pub zone_size: u64,
    /// `inactive` (10m).
    pub inactive: Duration,
    /// `max_size` in bytes (0: unlimited).
    pub max_size: u64,
    /// `use_temp_path` (on): responses are written in `proxy_temp_path`, then moved.
    pub use_temp_path: bool,
    /// `min_free` in bytes (0: none): the manager evicts while the file system has less free.
    pub min_free: u64,
    /// The cache loader's batches.
    pub loader: Batches,
    /// The cache manager's batches.
    pub manager: Batches,
    /// Where it was defined (errors at run time name it).
    pub at: (String, usize),
}

/// Parses `proxy_cache_path DIR [levels=..] keys_zone=NAME:SIZE [..]`; relative directories
/// are taken against `prefix`.
pub fn parse_path(d: &Directive, prefix: &Path) -> Result<CachePath, ConfError> {
    let dir = d.args[0].trim_end_matches('/');
    let dir = PathBuf::from(if dir.is_empty() { "/" } else { dir });
    let mut p = CachePath {
        name: String::new(),
        dir: if dir.is_absolute() {
            dir
        } else {
            prefix.join(dir)
        },
        levels: Vec::new(),
        zone_size: 0,
        inactive: Duration::from_secs(600),
        max_size: 0,
        use_temp_path: true,
        min_free: 0,
        loader: Batches::default(),
        manager: Batches::default(),
        at: (d.file.to_string(), d.line as usize),
    };
    for a in &d.args[1..] {
        if let Some(v) = a.strip_prefix("levels=") {
            p.levels =
                parse_levels(v).ok_or_else(|| at(d, format!("invalid \"levels\" \"{a}\"")))?;
        } else if let Some(v) = a.strip_prefix("use_temp_path=") {
            p.use_temp_path = match v {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(at(
                        d,
                        format!(
                            "invalid use_temp_path value \"{a}\", it must be \"on\" or \"off\""
                        ),
                    ));
                }
            };
        } else if let Some(v) = a.strip_prefix("keys_zone=") {
            let bad = || at(d, format!("invalid keys zone size \"{a}\""));
            let (name, size) = v.split_once(':').ok_or_else(bad)?;
            let size = parse_size(size).ok_or_else(bad)?;
            if size < 2 * 4096 {
                return Err(at(d, format!("keys zone \"{a}\" is too small")));
            }
            p.name = name.to_string();
            p.zone_size = size;
        } else if let Some(v) = a.strip_prefix("inactive=") {
            p.inactive = parse_time(v, true)
                .ok_or_else(|| at(d, format!("invalid inactive value \"{a}\"")))?;
        } else if let Some(v) = a.strip_prefix("max_size=") {
            p.max_size =
                parse_offset(v).ok_or_else(|| at(d, format!("invalid max_size value \"{a}\"")))?;
        } else if !tuning(&mut p, a).map_err(|e| at(d, e))? {
            return Err(at(d, format!("invalid parameter \"{a}\"")));
        }
    }
    if p.name.is_empty() || p.zone_size == 0 {
        return Err(at(
            d,
            "\"proxy_cache_path\" must have \"keys_zone\" parameter",
        ));
    }
    Ok(p)
}

/// `min_free=` and the loader's and manager's batch parameters into `p`: Ok(false) when `a`
/// is none of them, Err with nginx's words when its value is bad.
fn tuning(p: &mut CachePath, a: &str) -> Result<bool, String> {
    let Some((name, v)) = a.split_once('=') else {
        return Ok(false);
    };
    let bad = || format!("invalid {name} value \"{a}\"");
    let batches = match name.split_once('_') {
        Some(("loader", _)) => &mut p.loader,
        Some(("manager", _)) => &mut p.manager,
        _ if name == "min_free" => {
            p.min_free = parse_offset(v).ok_or_else(bad)?;
            return Ok(true);
        }
        _ => return Ok(false),
    };
    match &name[name.find('_').map_or(0, |i| i + 1)..] {
        "files" => batches.files = super::values::parse_number(v).ok_or_else(bad)?,
        "sleep" => batches.sleep = parse_time(v, false).ok_or_else(bad)?,
        "threshold" => batches.threshold = parse_time(v, false).ok_or_else(bad)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `1:2` → [1, 2]: up to three levels of 1 or 2 hex digits.
fn parse_levels(v: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in v.split(':') {
        match part {
            "1" => out.push(1),
            "2" => out.push(2),
            _ => return None,
        }
    }
    (out.len() <= 3).then_some(out)
}
