//! The proxy's access logs after a run, counted by request path for the `log_lines` metric:
//! every file under the proxy's run directory (`{{dir}}`, i.e. `<run>/proxy/`, and its
//! `logs/`) whose name contains `access`, one request per line, in any `log_format` that keeps
//! `$request` (`"GET /path HTTP/1.1"`) or at least the path as a field of its own.

use std::path::{Path, PathBuf};

/// The access log files of a run directory, sorted.
pub fn files(run_dir: &Path) -> Vec<PathBuf> {
    let proxy = run_dir.join("proxy");
    let mut out: Vec<PathBuf> = [proxy.clone(), proxy.join("logs")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("access"))
        })
        .collect();
    out.sort();
    out
}

/// The request target of one log line: the path of the quoted `$request` (`"GET /a?b HTTP/1.1"`),
/// or else the first field that starts with `/`.
pub fn target(line: &str) -> Option<&str> {
    let quoted = line.split('"').skip(1).step_by(2).find_map(|q| {
        let mut w = q.split_ascii_whitespace();
        let (_method, path) = (w.next()?, w.next()?);
        path.starts_with('/').then_some(path)
    });
    quoted.or_else(|| line.split_ascii_whitespace().find(|f| f.starts_with('/')))
}

/// Lines of `text` (all, or those whose request target starts with `prefix`).
pub fn count(text: &str, prefix: Option<&str>) -> u64 {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| prefix.is_none_or(|p| target(l).is_some_and(|t| t.starts_with(p))))
        .count() as u64
}

/// Lines of every access log of the run (None: the run wrote no access log).
pub fn lines(run_dir: &Path, prefix: Option<&str>) -> Option<f64> {
    let files = files(run_dir);
    if files.is_empty() {
        return None;
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .map(|b| count(&String::from_utf8_lossy(&b), prefix))
        .sum();
    Some(total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMBINED: &str = "127.0.0.1 - - [07/Dec/2026:15:00:00 +0000] \"GET /api/items?page=2 HTTP/1.1\" 200 2048 \"-\" \"proxylab-loadgen\"\n\
127.0.0.1 - - [07/Dec/2026:15:00:00 +0000] \"GET /health HTTP/1.1\" 200 2 \"-\" \"-\"\n\
127.0.0.1 - - [07/Dec/2026:15:00:01 +0000] \"POST /api/echo HTTP/1.1\" 413 183 \"https://x/\" \"-\"\n\n";

    #[test]
    fn reads_the_path_of_the_request() {
        assert_eq!(
            target(COMBINED.lines().next().unwrap()),
            Some("/api/items?page=2")
        );
        assert_eq!(target("127.1.0.7 /plain/path 200"), Some("/plain/path"));
        assert_eq!(target("127.0.0.1 \"-\" 400"), None);
    }

    #[test]
    fn counts_lines_by_prefix() {
        assert_eq!(count(COMBINED, None), 3);
        assert_eq!(count(COMBINED, Some("/api/")), 2);
        assert_eq!(count(COMBINED, Some("/health")), 1);
        assert_eq!(count(COMBINED, Some("/static/")), 0);
    }

    #[test]
    fn finds_access_logs_in_the_proxy_dir() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(lines(tmp.path(), None), None, "no log: no data");
        let proxy = tmp.path().join("proxy");
        std::fs::create_dir_all(proxy.join("logs")).unwrap();
        std::fs::write(proxy.join("access.log"), COMBINED).unwrap();
        std::fs::write(proxy.join("logs").join("access-2.log"), "1 /health 200\n").unwrap();
        std::fs::write(proxy.join("logs").join("error.log"), "GET /health\n").unwrap();
        assert_eq!(lines(tmp.path(), Some("/health")), Some(2.0));
        assert_eq!(lines(tmp.path(), None), Some(4.0));
    }
}
