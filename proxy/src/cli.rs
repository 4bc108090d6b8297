//! Command-line interface of `proxylab proxy` (also the stand-alone `proxylab-proxy` binary).

use std::process::ExitCode;

/// Flags of `proxylab proxy`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {}

/// Runs `proxylab proxy` with parsed flags and returns the process exit code.
pub fn main(_args: Args) -> ExitCode {
    eprintln!("proxylab proxy: not implemented yet");
    ExitCode::from(1)
}
