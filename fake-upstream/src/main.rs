//! Stand-alone binary, identical to `proxylab upstream`.

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "proxylab-upstream",
    version,
    about = "Fake Uvicorn: workers, limits, latency models, faults and a default httpbin-style app."
)]
struct Cli {
    #[command(flatten)]
    args: proxylab_upstream::cli::Args,
}

fn main() -> ExitCode {
    proxylab_upstream::cli::main(Cli::parse().args)
}
