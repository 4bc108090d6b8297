//! Command-line interface of `proxylab upstream` (also the stand-alone `proxylab-upstream` binary).

use std::process::ExitCode;

/// Flags of `proxylab upstream`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {}

/// Runs `proxylab upstream` with parsed flags and returns the process exit code.
pub fn main(_args: Args) -> ExitCode {
    eprintln!("proxylab upstream: not implemented yet");
    ExitCode::from(1)
}
