//! Does the rewritten copy load? Our proxy's config reader and `nginx -t` both read it (with
//! placeholder ports); their errors are mapped back to the deployed file:line. Every directive
//! our proxy refuses is listed (each is commented out of a scratch copy in turn and the copy
//! read again). A directive nginx accepts and our proxy does not leaves the audit to real
//! nginx.

use super::error::AuditError;
use super::rewrite::Rewritten;
use crate::scenario::template::{Bindings, expand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What each proxy says about the rewritten config.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Our proxy's errors, each mapped to the deployed file, in file order of discovery
    /// (empty: loads).
    pub ours: Vec<AuditError>,
    /// nginx's error (None: `nginx -t` passed or nginx is not installed).
    pub nginx: Option<AuditError>,
    /// nginx is installed.
    pub nginx_present: bool,
}

/// The nginx binary, if installed.
pub fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// Expands the template with stand-in ports into `dir/proxy.conf`.
pub fn expand_for_check(rw: &Rewritten, dir: &Path, tls_dir: &Path) -> Result<PathBuf, AuditError> {
    let mut b = Bindings {
        dir: dir.to_path_buf(),
        scenario_dir: dir.to_path_buf(),
        tls_cert: tls_dir.join("tls/selfsigned.crt"),
        tls_key: tls_dir.join("tls/selfsigned.key"),
        ..Bindings::default()
    };
    let mut port = 20000u16;
    for l in &rw.mapping.listeners {
        port += 1;
        b.listeners.insert(l.name.clone(), port);
    }
    for p in &rw.mapping.pools {
        let addrs: Vec<SocketAddr> = p
            .instances
            .iter()
            .map(|_| {
                port += 1;
                SocketAddr::from(([127, 0, 0, 1], port))
            })
            .collect();
        b.pools.insert(p.name.clone(), addrs);
    }
    let text = expand(&rw.template, &b)
        .map_err(|e| AuditError::Component(format!("rewritten config: {e}")))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| AuditError::Component(format!("{}: {e}", dir.display())))?;
    let conf = dir.join("proxy.conf");
    std::fs::write(&conf, text)
        .map_err(|e| AuditError::Component(format!("{}: {e}", conf.display())))?;
    Ok(conf)
}

/// Loads the expanded config in our proxy's reader and in `nginx -t`.
pub fn check(rw: &Rewritten, conf: &Path, nginx: Option<&Path>) -> Verdict {
    let dir = conf.parent().unwrap_or(Path::new("."));
    let ours = refused_by_ours(conf, dir)
        .into_iter()
        .map(|(m, l)| map_back(rw, m, l))
        .collect();
    let nginx_err = nginx.and_then(|bin| nginx_t(bin, conf, dir).map(|(m, l)| map_back(rw, m, l)));
    Verdict {
        ours,
        nginx: nginx_err,
        nginx_present: nginx.is_some(),
    }
}

fn map_back(rw: &Rewritten, msg: String, line: Option<u32>) -> AuditError {
    let at = line.and_then(|l| rw.origin_of(l)).map(|o| {
        let (f, l) = super::finding::split_at(o);
        (f, l)
    });
    AuditError::Config { msg, at }
}

/// At most this many refusals are listed (each costs one more read of the file).
const MAX_REFUSALS: usize = 64;

/// Every error of our proxy's reader on `conf`, with its line: after each, the refused
/// directive (a block directive with its block) is commented out of a scratch copy
/// (`proxy-ours.conf`, lines kept) and the copy read again, until it loads, an error has no
/// line in the file, or the same line fails twice.
fn refused_by_ours(conf: &Path, dir: &Path) -> Vec<(String, Option<u32>)> {
    let mut out: Vec<(String, Option<u32>)> = Vec::new();
    let mut text = std::fs::read_to_string(conf).unwrap_or_default();
    let scratch = dir.join("proxy-ours.conf");
    let mut path = conf.to_path_buf();
    while out.len() < MAX_REFUSALS {
        let Err(e) = proxylab_proxy::conf::load(&path, Some(dir)) else {
            break;
        };
        let line =
            e.at.as_ref()
                .filter(|(f, _)| Path::new(&**f) == path)
                .map(|(_, l)| *l);
        let again = line.is_some() && out.iter().any(|(_, l)| *l == line);
        out.push((e.msg, e.at.map(|(_, l)| l)));
        let Some(l) = line.filter(|_| !again) else {
            break;
        };
        if !comment_out(&mut text, l) || std::fs::write(&scratch, &text).is_err() {
            break;
        }
        path = scratch.clone();
    }
    out
}

/// Comments out the directive at 1-based `line` (through its `;`, or its whole `{ }` block);
/// line numbers stay. false when there is nothing there to comment out.
fn comment_out(text: &mut String, line: u32) -> bool {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let Some(first) = (line as usize).checked_sub(1).filter(|i| *i < lines.len()) else {
        return false;
    };
    if lines[first].trim_start().starts_with('#') || lines[first].trim().is_empty() {
        return false;
    }
    let mut depth = 0i32;
    for l in lines.iter_mut().skip(first) {
        let code = l.split('#').next().unwrap_or("").to_string();
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        let ends = depth <= 0 && (code.contains(';') || code.contains('}'));
        l.insert_str(0, "# ");
        if ends {
            break;
        }
    }
    *text = lines.join("\n") + "\n";
    true
}

/// Runs `nginx -t`; returns the first `[emerg]` message and its line in the checked file.
fn nginx_t(bin: &Path, conf: &Path, dir: &Path) -> Option<(String, Option<u32>)> {
    let g = format!("pid {};", dir.join("nginx.pid").display());
    let out = Command::new(bin)
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .args(["-e", "stderr", "-g", &g])
        .output()
        .ok()?;
    if out.status.success() {
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("[emerg]"))
        .or_else(|| err.lines().next())
        .unwrap_or("nginx -t failed");
    let msg = line.split("[emerg] ").nth(1).unwrap_or(line);
    let msg = match msg.split_once(": ") {
        Some((pid, m)) if pid.chars().all(|c| c.is_ascii_digit() || c == '#') => m,
        _ => msg,
    };
    let conf_s = conf.display().to_string();
    match msg.rsplit_once(&format!(" in {conf_s}:")) {
        Some((m, l)) => Some((m.to_string(), l.trim().parse().ok())),
        None => Some((msg.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::comment_out;

    #[test]
    fn a_directive_or_a_whole_block_is_commented_out_lines_kept() {
        let mut t =
            "http {\n    ssi on;\n    charset_map a b {\n        C0 D0B0;\n    }\n    x 1;\n}\n"
                .to_string();
        assert!(comment_out(&mut t, 2));
        assert!(comment_out(&mut t, 3));
        assert_eq!(
            t,
            "http {\n#     ssi on;\n#     charset_map a b {\n#         C0 D0B0;\n#     }\n    x 1;\n}\n"
        );
        assert!(!comment_out(&mut t, 2), "already a comment");
        assert!(!comment_out(&mut t, 99));
    }

    #[test]
    fn a_directive_over_two_lines_is_commented_through_its_semicolon() {
        let mut t = "a {\n  sub_filter 'x'\n     'y';\n  b;\n}\n".to_string();
        assert!(comment_out(&mut t, 2));
        assert_eq!(t, "a {\n#   sub_filter 'x'\n#      'y';\n  b;\n}\n");
    }
}
