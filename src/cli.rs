//! Flags and entry points of the runner's subcommands: `run`, `compare`, `claims`.

use crate::run_cmd;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario file (.toml) or a directory of them (every `*.toml` directly in it).
    pub path: PathBuf,
    /// CI mode: no progress bar, and the variant named `ci` (when the scenario has one) is
    /// applied on top of every run.
    #[arg(long)]
    pub ci: bool,
    /// Variants to run, comma-separated or repeated; `base` is the file without variants and
    /// `a+b` applies `a` then `b`. Default: `base` plus every variant with `compare = true`.
    #[arg(long, value_delimiter = ',')]
    pub variant: Vec<String>,
    /// Overrides the proxy of every scenario.
    #[arg(long, value_parser = ["proxylab", "nginx", "none"])]
    pub proxy: Option<String>,
    /// Where run directories go (`<out>/<scenario>/<timestamp>/`).
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Only check the scenario files (exit 0 or 2); start nothing.
    #[arg(long)]
    pub check: bool,
    /// Do not write a comparison report when several variants ran.
    #[arg(long)]
    pub no_compare: bool,
    /// Shards, synchronised start and live metrics (docs/distributed.md).
    #[command(flatten)]
    pub dist: crate::distributed::DistFlags,
}

/// Flags of `proxylab compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Run directories to overlay (each holds a summary.json); the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Output directory. Default: `reports/compare/<timestamp>/`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Flags of `proxylab claims`.
#[derive(clap::Args, Debug, Clone)]
pub struct ClaimsArgs {
    /// The claims list (TOML, `[[claim]]` tables; format in `src/claims.rs` and docs/runner.md).
    #[arg(long, default_value = "scenarios/claims.toml")]
    pub ledger: PathBuf,
    /// Where run directories are (`<reports>/<scenario>/<run>/summary.json`).
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// The page to write.
    #[arg(long, default_value = "docs/claims.md")]
    pub out: PathBuf,
}

/// `proxylab run`: exit 0 all assertions held, 1 an assertion failed, 2 bad scenario, 3 a
/// component failed to start or died, 130 interrupted.
pub fn run(args: RunArgs) -> ExitCode {
    ExitCode::from(run_cmd::main(&args))
}

/// `proxylab compare`.
pub fn compare(args: CompareArgs) -> ExitCode {
    let mut runs = Vec::new();
    for d in &args.runs {
        match crate::report::compare::LoadedRun::read(d) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("proxylab compare: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join("compare")
            .join(run_cmd::timestamp())
    });
    match crate::report::compare::write(&runs, &out) {
        Ok(index) => {
            println!("comparison report: {}", index.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proxylab compare: {e}");
            ExitCode::from(3)
        }
    }
}

/// `proxylab claims`: writes the claims ledger page from the latest runs.
pub fn claims(args: ClaimsArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.ledger) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("proxylab claims: {}: {e}", args.ledger.display());
            return ExitCode::from(2);
        }
    };
    let ledger: crate::claims::Ledger = match toml::from_str(&text) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: {}",
                crate::scenario::error::from_toml(&args.ledger, &text, &e)
            );
            return ExitCode::from(2);
        }
    };
    let out_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let md = crate::claims::render(&ledger, &args.reports, out_dir);
    match std::fs::create_dir_all(out_dir).and_then(|_| std::fs::write(&args.out, md)) {
        Ok(()) => {
            println!(
                "claims ledger: {} ({} claims)",
                args.out.display(),
                ledger.claim.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proxylab claims: {}: {e}", args.out.display());
            ExitCode::from(3)
        }
    }
}
