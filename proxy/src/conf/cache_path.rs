//! `proxy_cache_path` (http level): directory, `levels`, `keys_zone` with its size limit,
//! `inactive`, `max_size`, `use_temp_path`, with `nginx -t`'s wording.

use super::error::ConfError;
use super::lexer::Directive;
use super::values::{parse_offset, parse_size, parse_time};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An error located at `d`.
pub(super) fn at(d: &Directive, msg: impl Into<String>) -> ConfError {
    ConfError::at(msg, &d.file, d.line)
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
    /// `use_temp_path` (on).
    pub use_temp_path: bool,
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
        } else if !known_tuning(a) {
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

/// The loader/manager tuning parameters, accepted and ignored (our loader reads the index at
/// start, our manager runs once a second).
fn known_tuning(a: &str) -> bool {
    [
        "min_free=",
        "loader_files=",
        "loader_sleep=",
        "loader_threshold=",
        "manager_files=",
        "manager_sleep=",
        "manager_threshold=",
    ]
    .iter()
    .any(|p| a.starts_with(p))
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
