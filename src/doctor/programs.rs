//! The optional programs proxylab can use: what each enables, how to install it, and how to find
//! it and its version on this machine. One table, read by `proxylab doctor`, by `run`'s
//! check before it starts anything, by the benchmarks' messages and by the tests' SKIPPED hints
//! (`proxylab_testkit::require_listed` includes this file). Only `std` here, for that reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a program is found.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// An executable: the first of `names` on `PATH` (then in `extra_dirs`, glob-free prefixes
    /// scanned one level deep), its version from `<name> <version_args>`.
    Binary {
        /// Executable names, in order of preference.
        names: &'static [&'static str],
        /// Arguments that print the version.
        version_args: &'static [&'static str],
        /// Directories holding versioned subdirectories (`/usr/lib/postgresql` → `15/bin`).
        extra_dirs: &'static [&'static str],
    },
    /// Python modules importable by `python3`; the version is the first module's `__version__`.
    Python {
        /// Modules that must import.
        modules: &'static [&'static str],
    },
}

/// One optional program.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Short name, as `doctor` prints it and as error messages name it.
    pub name: &'static str,
    /// How to find it.
    pub probe: Probe,
    /// What it enables: scenarios, variants, benches, tests.
    pub enables: &'static str,
    /// The command that installs it (Debian / pip).
    pub install: &'static str,
}

/// Every optional program, in the order `doctor` lists them.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "nginx",
        probe: bin(&["nginx"], &["-v"]),
        enables: "the `nginx` variant of the scenarios and `--proxy nginx`; bench proxy, \
                  bench edge, bench upstream; the proxy's comparison tests against nginx",
        install: "apt-get install nginx",
    },
    Program {
        name: "uvicorn",
        probe: Probe::Python {
            modules: &["uvicorn", "fastapi"],
        },
        enables: "upstreams with kind = \"uvicorn\" (real Uvicorn + FastAPI): offload, \
                  uvicorn-throughput, workers-per-core; bench upstream; the fake upstream's \
                  comparison tests against real Uvicorn",
        install: "pip install 'uvicorn[standard]' fastapi sqlalchemy",
    },
    Program {
        name: "gunicorn",
        probe: Probe::Python {
            modules: &["gunicorn"],
        },
        enables: "upstreams with kind = \"uvicorn\" and supervisor = \"gunicorn\" (real \
                  gunicorn with UvicornWorker; the library's max-requests-restart emulates it \
                  with the fake upstream instead)",
        install: "pip install gunicorn",
    },
    Program {
        name: "wrk",
        probe: bin(&["wrk"], &["--version"]),
        enables: "bench loadgen, bench upstream and bench proxy (wrk is the closed-loop \
                  reference); the fake upstream's wrk test",
        install: "apt-get install wrk",
    },
    Program {
        name: "h2load",
        probe: bin(&["h2load"], &["--version"]),
        enables: "HTTP/2 load comparisons against nghttp2's h2load",
        install: "apt-get install nghttp2-client",
    },
    Program {
        name: "chromium",
        probe: bin(&["chromium", "chromium-browser"], &["--version"]),
        enables: "the HTML report's browser tests (charts render, hover values, screenshot)",
        install: "apt-get install chromium",
    },
    Program {
        name: "postgresql",
        probe: Probe::Binary {
            names: &["postgres"],
            version_args: &["--version"],
            extra_dirs: &["/usr/lib/postgresql"],
        },
        enables: "scenarios with a real database ([[service]] kind = \"postgres\")",
        install: "apt-get install postgresql",
    },
    Program {
        name: "redis",
        probe: bin(&["redis-server"], &["--version"]),
        enables: "scenarios with a real cache ([[service]] kind = \"redis\")",
        install: "apt-get install redis-server",
    },
    Program {
        name: "prometheus",
        probe: bin(&["prometheus"], &["--version"]),
        enables: "the live-metrics test that scrapes a run with a real Prometheus server",
        install: "apt-get install prometheus",
    },
    Program {
        name: "afl++",
        // cargo-afl builds and ships its own AFL++ (fuzz/run.sh uses that one).
        probe: bin(&["cargo-afl"], &["afl", "--version"]),
        enables: "coverage-guided fuzzing of the parsers (fuzz/run.sh, docs/fuzzing.md)",
        install: "cargo install cargo-afl --locked",
    },
];

const fn bin(names: &'static [&'static str], version_args: &'static [&'static str]) -> Probe {
    Probe::Binary {
        names,
        version_args,
        extra_dirs: &[],
    }
}

/// The table row named `name`.
pub fn program(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.name == name)
}

/// A program found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The executable (for Python modules: the interpreter).
    pub path: PathBuf,
    /// The version it printed, when one could be read.
    pub version: Option<String>,
}

/// Looks for `p` with the default interpreter (`python3`) for Python modules.
pub fn detect(p: &Program) -> Option<Found> {
    detect_with(p, Path::new("python3"))
}

/// Looks for `p`; Python modules are imported by `python`.
pub fn detect_with(p: &Program, python: &Path) -> Option<Found> {
    match p.probe {
        Probe::Binary {
            names,
            version_args,
            extra_dirs,
        } => {
            let path = names
                .iter()
                .find_map(|n| on_path(n).or_else(|| in_versioned_dirs(n, extra_dirs)))?;
            let version = output_of(&path, version_args).and_then(|o| version_in(&o));
            Some(Found { path, version })
        }
        Probe::Python { modules } => {
            let python = resolve(python)?;
            let code = format!(
                "import {m}; print(getattr({first}, '__version__', ''))",
                m = modules.join(", "),
                first = modules[0]
            );
            let out = Command::new(&python)
                .args(["-c", &code])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())?;
            let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Some(Found {
                path: python,
                version: (!v.is_empty()).then_some(v),
            })
        }
    }
}

/// `program` as `Command::new` would find it: a path with a `/` as is, else the first match on
/// `PATH`.
pub fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_path_buf());
    }
    on_path(program.to_str()?)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|c| is_executable(c))
}

fn in_versioned_dirs(name: &str, dirs: &[&str]) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path().join("bin").join(name)))
        .filter(|c| is_executable(c))
        .collect();
    found.sort();
    found.pop()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// stdout and stderr of `path args`, whatever its exit status (wrk exits 1 after `--version`).
fn output_of(path: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The first version-looking word in a program's banner: `nginx/1.22.1` → `1.22.1`,
/// `Redis server v=7.0.15` → `7.0.15`, `afl-fuzz++4.04c` → `4.04c` (colour codes skipped).
pub fn version_in(text: &str) -> Option<String> {
    let chars = strip_ansi(text);
    let part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-');
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '.'));
        if starts {
            let end = (i..chars.len())
                .find(|&j| !part(chars[j]))
                .unwrap_or(chars.len());
            let word: String = chars[i..end].iter().collect();
            let word = word.trim_end_matches(['.', '-', '+']);
            if word.contains('.') && word.chars().nth(word.find('.')? + 1)?.is_ascii_digit() {
                return Some(word.to_string());
            }
            i = end;
        }
        i += 1;
    }
    None
}

/// `text` without terminal colour sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_banners() {
        let cases = [
            ("nginx version: nginx/1.22.1", "1.22.1"),
            (
                "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012",
                "4.1.0-3+b2",
            ),
            (
                "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0",
                "7.0.15",
            ),
            ("\x1b[0;36mafl-fuzz++4.04c\x1b[0m based on afl", "4.04c"),
            (
                "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)",
                "15.18",
            ),
            ("h2load nghttp2/1.52.0", "1.52.0"),
            ("Chromium 156.0.8078.129 built on Debian", "156.0.8078.129"),
        ];
        for (text, want) in cases {
            assert_eq!(version_in(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(version_in("no version here 2 h2 x86_64"), None);
    }

    #[test]
    fn names_are_unique_and_hints_are_commands() {
        for (i, p) in PROGRAMS.iter().enumerate() {
            assert!(PROGRAMS[..i].iter().all(|q| q.name != p.name), "{}", p.name);
            assert!(
                ["apt-get install ", "pip install ", "cargo install "]
                    .iter()
                    .any(|c| p.install.starts_with(c)),
                "{}",
                p.install
            );
        }
    }
}
