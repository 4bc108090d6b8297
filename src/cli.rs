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
    /// Skip (with a `skipped:` line) the scenarios and variants whose optional program is not
    /// installed, instead of stopping with exit 2 before anything starts.
    #[arg(long)]
    pub skip_missing: bool,
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
    /// Where the cited evidence is copied (and read back: committed runs count as runs).
    #[arg(long, default_value = "docs/claims")]
    pub evidence: PathBuf,
    /// The scenario files' directory. Default: the ledger's directory.
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// First run exactly the scenario variants the ledger needs (full length; `--ci`: short).
    #[arg(long)]
    pub run: bool,
    /// With `--run`: the CI-length runs.
    #[arg(long)]
    pub ci: bool,
    /// Only list the runs the ledger needs (scenario file, full-length and CI variants).
    #[arg(long)]
    pub list: bool,
    /// Write the page even when measured rows would become unmeasured.
    #[arg(long)]
    pub force: bool,
    /// A run judges claims only if other processes used at most this much CPU meanwhile
    /// (percent of one core); stated on the page.
    #[arg(long, default_value_t = crate::claims::verdict::MAX_OTHERS_CPU_PCT)]
    pub max_others_cpu: f64,
}

/// Flags of `proxylab schema`.
#[derive(clap::Args, Debug, Clone)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of standard output (the committed copy is
    /// `scenarios/scenario.schema.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `proxylab schema`: the JSON Schema of scenario files.
pub fn schema(args: SchemaArgs) -> ExitCode {
    let text = crate::scenario::schema::text();
    match args.out {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("proxylab schema: {}: {e}", path.display());
                return ExitCode::from(3);
            }
            println!("scenario schema: {}", path.display());
        }
    }
    ExitCode::SUCCESS
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

/// `proxylab claims`: judges the article's claims on the latest sound runs and writes the
/// ledger page (exit 0 written, 2 bad ledger, 3 not written).
pub fn claims(args: ClaimsArgs) -> ExitCode {
    ExitCode::from(crate::claims::command::main(&args))
}
