//! Client-body and connection-close settings of a location: `client_body_temp_path` (with
//! levels), `client_body_in_file_only`, `lingering_close`, `lingering_time`,
//! `lingering_timeout`.

use std::path::PathBuf;

/// `client_body_temp_path DIR [L1 [L2 [L3]]]`: where bodies larger than
/// `client_body_buffer_size` are written (default `<prefix>/client_body_temp`, no levels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempPath {
    /// The directory (relative paths resolved against the prefix).
    pub dir: PathBuf,
    /// Subdirectory levels: digits taken from the end of the 10-digit file name.
    pub levels: Vec<usize>,
}

impl TempPath {
    /// Parses the directive's arguments; `None` when a level is not a positive number or the
    /// levels use more than 10 digits (nginx: `invalid value`).
    pub fn parse(args: &[String], prefix: &std::path::Path) -> Option<TempPath> {
        let p = PathBuf::from(args.first()?);
        let mut levels = Vec::new();
        for a in &args[1..] {
            let n: usize = a.parse().ok().filter(|n| *n > 0)?;
            levels.push(n);
        }
        if levels.iter().sum::<usize>() > 10 {
            return None;
        }
        Some(TempPath {
            dir: if p.is_absolute() { p } else { prefix.join(p) },
            levels,
        })
    }

    /// The path of temp file number `n`: `DIR/<levels>/NNNNNNNNNN` (nginx's hashed name: the
    /// first level is the last digits of the name, the next level the digits before them).
    pub fn file(&self, n: u32) -> PathBuf {
        let name = format!("{n:010}");
        let mut p = self.dir.clone();
        let mut end = name.len();
        for &l in &self.levels {
            p.push(&name[end - l..end]);
            end -= l;
        }
        p.push(&name);
        p
    }
}

/// `client_body_in_file_only` (default off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InFileOnly {
    /// Bodies up to `client_body_buffer_size` stay in memory; a temp file is unlinked as
    /// soon as it is created.
    #[default]
    Off,
    /// Every body goes to a named file that is kept after the request.
    On,
    /// Every body goes to a named file removed after the request.
    Clean,
}

impl InFileOnly {
    /// `on` / `clean` / `off`.
    pub fn parse(v: &str) -> Option<InFileOnly> {
        match v {
            "off" => Some(InFileOnly::Off),
            "on" => Some(InFileOnly::On),
            "clean" => Some(InFileOnly::Clean),
            _ => None,
        }
    }
}

/// `lingering_close` (default on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lingering {
    /// Close at once.
    Off,
    /// Linger when the client may still be sending (a request body not read, bytes left).
    #[default]
    On,
    /// Always linger before closing.
    Always,
}

impl Lingering {
    /// `on` / `off` / `always`.
    pub fn parse(v: &str) -> Option<Lingering> {
        match v {
            "off" => Some(Lingering::Off),
            "on" => Some(Lingering::On),
            "always" => Some(Lingering::Always),
            _ => None,
        }
    }
}

/// The body and close settings of a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyConf {
    /// `client_body_temp_path`.
    pub temp_path: TempPath,
    /// `client_body_in_file_only`.
    pub in_file_only: InFileOnly,
    /// `lingering_close`.
    pub lingering_close: Lingering,
    /// `lingering_time` (default 30s): the most time spent reading after the response.
    pub lingering_time: std::time::Duration,
    /// `lingering_timeout` (default 5s): the longest wait for more client data.
    pub lingering_timeout: std::time::Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_as_nginx() {
        let args: Vec<String> = ["cbt", "1", "2"].iter().map(|s| s.to_string()).collect();
        let t = TempPath::parse(&args, std::path::Path::new("/p")).unwrap();
        assert_eq!(t.file(1), PathBuf::from("/p/cbt/1/00/0000000001"));
        assert_eq!(t.file(1234), PathBuf::from("/p/cbt/4/23/0000001234"));
        let none = TempPath::parse(&args[..1], std::path::Path::new("/p")).unwrap();
        assert_eq!(none.file(7), PathBuf::from("/p/cbt/0000000007"));
        let bad: Vec<String> = ["x", "0"].iter().map(|s| s.to_string()).collect();
        assert!(TempPath::parse(&bad, std::path::Path::new("/")).is_none());
        let long: Vec<String> = ["x", "5", "6"].iter().map(|s| s.to_string()).collect();
        assert!(TempPath::parse(&long, std::path::Path::new("/")).is_none());
    }
}
