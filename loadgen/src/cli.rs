//! Command-line interface of `proxylab loadgen` (also the stand-alone `proxylab-loadgen` binary).

use std::process::ExitCode;

/// Flags of `proxylab loadgen`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {}

/// Runs `proxylab loadgen` with parsed flags and returns the process exit code.
pub fn main(_args: Args) -> ExitCode {
    eprintln!("proxylab loadgen: not implemented yet");
    ExitCode::from(1)
}
