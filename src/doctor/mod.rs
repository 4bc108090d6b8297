//! `proxylab doctor`: which optional programs this machine has, their versions, what each
//! enables and how to install the missing ones; and the same table's check of a scenario before
//! `run` starts anything ([`missing_for`]).

pub mod app_imports;
pub mod needs;
pub mod programs;

pub use needs::{Missing, missing_for};
pub use programs::{Found, PROGRAMS, Program};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab doctor`.
#[derive(clap::Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Print the table of programs as Markdown (what the README's requirements show), without
    /// looking for them.
    #[arg(long)]
    pub markdown: bool,
    /// Also list which scenarios and variants of this directory need each program (nothing is
    /// listed when it does not exist).
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
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
    let uses = needs::uses_in(&args.scenarios);
    // Each probe starts a program (chromium, a Python import): run them side by side.
    let found: Vec<Option<Found>> = std::thread::scope(|sc| {
        let probes: Vec<_> = PROGRAMS
            .iter()
            .map(|p| sc.spawn(move || programs::detect(p)))
            .collect();
        probes
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut missing = 0;
    for (p, found) in PROGRAMS.iter().zip(found) {
        let state = match found {
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
        if let Some(u) = uses.get(p.name) {
            println!(
                "{:<11} needed by ({}): {}",
                "",
                args.scenarios.display(),
                u.join(", ")
            );
        }
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
