//! `proxylab doctor`: which optional programs this machine has, their versions, what each
//! enables and how to install the missing ones; and the same table's check of a scenario before
//! `run` starts anything ([`missing_for`]).

pub mod programs;

use crate::scenario::{ProxyKind, Scenario, Supervisor, UpstreamKind};
pub use programs::{Found, PROGRAMS, Program};
use std::path::Path;
use std::process::ExitCode;

/// Flags of `proxylab doctor`.
#[derive(clap::Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Print the table of programs as Markdown (what the README's requirements show), without
    /// looking for them.
    #[arg(long)]
    pub markdown: bool,
}

/// `proxylab doctor`: always exit 0 (a missing optional program is information, not an error).
pub fn main(args: DoctorArgs) -> ExitCode {
    if args.markdown {
        print!("{}", markdown());
        return ExitCode::SUCCESS;
    }
    let os = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "system: {} {} (proxylab needs Linux; everything else below is optional)\n",
        std::env::consts::OS,
        os.trim()
    );
    let mut missing = 0;
    for p in PROGRAMS {
        let state = match programs::detect(p) {
            Some(f) => format!(
                "found {} ({})",
                f.version.as_deref().unwrap_or("(version unknown)"),
                f.path.display()
            ),
            None => {
                missing += 1;
                format!("MISSING, install: {}", p.install)
            }
        };
        println!("{:<11} {state}\n{:<11} enables: {}", p.name, "", p.enables);
    }
    println!(
        "\n{} of {} optional programs found. Scenarios and variants that need a missing one \
         stop with exit 2 before starting (`proxylab run --skip-missing` skips them instead).",
        PROGRAMS.len() - missing,
        PROGRAMS.len()
    );
    ExitCode::SUCCESS
}

/// The table as Markdown: program, what it enables, install command.
pub fn markdown() -> String {
    let mut s = String::from("| program | enables | install |\n| --- | --- | --- |\n");
    for p in PROGRAMS {
        s.push_str(&format!(
            "| {} | {} | `{}` |\n",
            p.name,
            p.enables.replace('|', "\\|"),
            p.install
        ));
    }
    s
}

/// `NAME not installed (INSTALL COMMAND)`, for a program of the table (benchmarks' messages).
pub fn not_installed(name: &str) -> String {
    match programs::program(name) {
        Some(p) => format!("{name} not installed ({})", p.install),
        None => format!("{name} not installed"),
    }
}

/// A program a scenario needs and this machine lacks.
#[derive(Debug, Clone)]
pub struct Missing {
    /// The table row.
    pub program: &'static Program,
    /// What in the scenario needs it (`proxy kind "nginx"`, `upstream "api"`).
    pub needed_by: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} not installed (needed by {}; install: {})",
            self.program.name, self.needed_by, self.program.install
        )
    }
}

/// Every optional program `s` needs that cannot be found, found the way the runner will start it
/// (`PATH`, the scenario's `binary` and `python`).
pub fn missing_for(s: &Scenario) -> Vec<Missing> {
    let mut out = Vec::new();
    let mut need = |name: &str, needed_by: String, ok: bool| {
        if let (false, Some(program)) = (ok, programs::program(name)) {
            out.push(Missing { program, needed_by });
        }
    };
    if s.proxy.kind == ProxyKind::Nginx {
        let ok = programs::resolve(&s.proxy.binary).is_some();
        need("nginx", format!("proxy {}", s.proxy.binary.display()), ok);
    }
    for pool in s
        .upstreams
        .iter()
        .filter(|u| u.kind == UpstreamKind::Uvicorn)
    {
        let by = format!("upstream {:?}, kind = \"uvicorn\"", pool.name);
        need("uvicorn", by.clone(), has_python(&pool.python, "uvicorn"));
        if pool.supervisor == Some(Supervisor::Gunicorn) {
            need("gunicorn", by, has_python(&pool.python, "gunicorn"));
        }
    }
    out
}

fn has_python(python: &Path, name: &str) -> bool {
    programs::program(name).is_some_and(|p| programs::detect_with(p, python).is_some())
}
