//! Finding reference programs (nginx, wrk, uvicorn, chromium) and the SKIPPED / required rule.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// True when `PROXYLAB_REQUIRE_REFERENCES=1`: a missing reference program fails the test.
pub fn references_required() -> bool {
    std::env::var("PROXYLAB_REQUIRE_REFERENCES").is_ok_and(|v| v == "1")
}

fn missing(what: &str, install_hint: &str) {
    if references_required() {
        panic!(
            "{what} not installed ({install_hint}) and PROXYLAB_REQUIRE_REFERENCES=1: references are required"
        );
    }
    println!("SKIPPED: {what} not installed ({install_hint})");
    eprintln!("SKIPPED: {what} not installed ({install_hint})");
}

/// Finds `program` on `PATH` (and in `/usr/sbin`, `/sbin`, where Debian puts nginx).
///
/// Returns `None` after printing `SKIPPED: …` when it is missing, or panics when references are
/// required. Use as `let Some(nginx) = require("nginx", "apt-get install nginx") else { return };`.
pub fn require(program: &str, install_hint: &str) -> Option<PathBuf> {
    match find_program(program) {
        Some(p) => Some(p),
        None => {
            missing(program, install_hint);
            None
        }
    }
}

/// Finds a `python3` that can import every module in `modules`; same rule as [`require`].
pub fn require_python(modules: &[&str], install_hint: &str) -> Option<PathBuf> {
    let what = format!("python3 with {}", modules.join(", "));
    let Some(python) = find_program("python3") else {
        missing(&what, install_hint);
        return None;
    };
    let code = format!("import {}", modules.join(", "));
    let ok = Command::new(&python)
        .args(["-c", &code])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(python)
    } else {
        missing(&what, install_hint);
        None
    }
}

fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// [`require`] or [`require_python`] for a program of `proxylab doctor`'s table (`nginx`,
/// `uvicorn`, `chromium`, …), with the table's install command as the hint, so tests, `doctor`
/// and `run` name the same command.
pub fn require_listed(name: &str) -> Option<PathBuf> {
    use crate::programs::Probe;
    let Some(p) = crate::programs::program(name) else {
        panic!("{name} is not in proxylab doctor's table (src/doctor/programs.rs)");
    };
    match p.probe {
        Probe::Binary { names, .. } => names
            .iter()
            .find_map(|n| find_program(n))
            .or_else(|| require(names[0], p.install)),
        Probe::Python { modules } => require_python(modules, p.install),
    }
}
