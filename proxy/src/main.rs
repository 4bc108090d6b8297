//! Stand-alone binary, identical to `proxylab proxy`.

use clap::Parser;
use std::process::ExitCode;

/// The allocator `proxylab proxy` runs with (see the `proxylab` binary), so that this binary
/// measures the same as the subcommand.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "proxylab-proxy",
    version,
    about = "Reverse proxy that reads an nginx.conf subset and behaves as nginx 1.22."
)]
struct Cli {
    #[command(flatten)]
    args: proxylab_proxy::cli::Args,
}

fn main() -> ExitCode {
    proxylab_proxy::cli::main(Cli::parse().args)
}
