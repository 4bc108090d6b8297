//! Helpers of the runner's end-to-end tests: run `proxylab` as a real process (bounded in
//! time), find the run directories it wrote, read their summary, list processes from /proc.
#![allow(dead_code)]

pub mod audit;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_proxylab"))
}

/// A scenario under `tests/scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("scenarios")
        .join(name)
}

/// Output of one `proxylab` invocation.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Everything it printed, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `proxylab ARGS` in its own process group; kills it after `limit`.
pub fn proxylab(args: &[&str], limit: Duration) -> Out {
    proxylab_env(args, &[], limit)
}

/// `proxylab run FILE --ci [EXTRA…] --out OUT`, bounded to 120 s.
pub fn run_ci(file: &Path, extra: &[&str], out: &Path) -> Out {
    let file = file.to_str().expect("utf8");
    let out = out.to_str().expect("utf8");
    let mut args = vec!["run", file, "--ci"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out]);
    proxylab(&args, Duration::from_secs(120))
}

/// [`proxylab`] with environment variables set (`PATH` without a program, say).
pub fn proxylab_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Out {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn proxylab");
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("proxylab {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Run directories under `out/<scenario>/` (sorted by name, i.e. by time then variant).
pub fn run_dirs(out: &Path, scenario: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out.join(scenario))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `summary.json` of a run directory.
pub fn summary(dir: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(dir.join("summary.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_json::from_str(&t).expect("summary.json parses")
}

/// (pid, ppid, pgid, start time) of every process.
pub fn processes() -> Vec<(u32, u32, u32, u64)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 20 {
            continue;
        }
        let (Ok(ppid), Ok(pgid), Ok(start)) = (f[1].parse(), f[2].parse(), f[19].parse()) else {
            continue;
        };
        v.push((pid, ppid, pgid, start));
    }
    v
}

/// Every descendant of `root` (pid and start time).
pub fn descendants(root: u32) -> Vec<(u32, u64)> {
    let ps = processes();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid, _, start) in &ps {
            if *ppid == p && !out.iter().any(|(x, _)| x == pid) {
                out.push((*pid, *start));
                frontier.push(*pid);
            }
        }
    }
    out
}

/// True when a process with this pid and start time still exists (and is not a zombie).
pub fn alive(pid: u32, start: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.len() > 19 && f[19].parse::<u64>().ok() == Some(start) && f[0] != "Z"
}

/// Reads a column of a CSV file as numbers (empty cells → None).
pub fn csv_column(path: &Path, col: &str) -> Vec<Option<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers = rd.headers().expect("csv header").clone();
    let i = headers
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col} in {}: {headers:?}", path.display()));
    rd.records()
        .flatten()
        .map(|r| r.get(i).and_then(|v| v.parse().ok()))
        .collect()
}
