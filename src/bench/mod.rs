//! `proxylab bench …`: end-to-end comparisons against reference programs, measured side by side
//! in one run and printed as ratios (medians over alternating rounds, never one absolute time).

pub mod loadgen;
pub mod proxy;
pub mod support;
pub mod upstream;

use std::process::ExitCode;

/// Flags of `proxylab bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Which,
}

/// Which comparison to run.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Which {
    /// Fake upstream vs nginx `return 200` vs real uvicorn, driven by wrk.
    Upstream,
    /// Our closed-loop generator vs wrk (and oha) against nginx `return 200`; open-loop and WS figures.
    Loadgen,
    /// Our proxy vs nginx with the same config in front of the same fake upstream.
    Proxy,
}

/// Runs the chosen benchmark.
pub fn main(args: BenchArgs) -> ExitCode {
    let result = match args.which {
        Which::Upstream => upstream::run(),
        Which::Proxy => proxy::run(),
        Which::Loadgen => loadgen::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
