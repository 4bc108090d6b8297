//! Stand-alone binary, identical to `proxylab proxy`.

use clap::Parser;
use std::process::ExitCode;

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
