//! Stand-alone binary, identical to `proxylab loadgen`.

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "proxylab-loadgen",
    version,
    about = "Load generator: open and closed loop, slow clients, WebSockets, HDR histograms."
)]
struct Cli {
    #[command(flatten)]
    args: proxylab_loadgen::cli::Args,
}

fn main() -> ExitCode {
    proxylab_loadgen::cli::main(Cli::parse().args)
}
