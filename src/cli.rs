//! Flags and entry points of the runner's subcommands: `run`, `compare`, `claims`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario file (.toml) or a directory of them.
    pub path: PathBuf,
}

/// Flags of `proxylab compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Run directories to overlay.
    pub runs: Vec<PathBuf>,
}

/// Flags of `proxylab claims`.
#[derive(clap::Args, Debug, Clone)]
pub struct ClaimsArgs {}

/// `proxylab run`.
pub fn run(_args: RunArgs) -> ExitCode {
    eprintln!("proxylab run: not implemented yet");
    ExitCode::from(2)
}

/// `proxylab compare`.
pub fn compare(_args: CompareArgs) -> ExitCode {
    eprintln!("proxylab compare: not implemented yet");
    ExitCode::from(2)
}

/// `proxylab claims`.
pub fn claims(_args: ClaimsArgs) -> ExitCode {
    eprintln!("proxylab claims: not implemented yet");
    ExitCode::from(2)
}
