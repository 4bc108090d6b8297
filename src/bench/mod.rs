//! `proxylab bench …`: end-to-end comparisons against reference programs, measured side by side
//! in one run and printed as ratios (medians over alternating rounds, never one absolute time).

mod edge_idle;
pub mod loadgen;
pub mod pin;
pub mod proxy;
pub mod proxy_edge;
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
    /// Our proxy vs nginx at the edge: TLS 1.3 handshakes, HTTPS keep-alive over HTTP/1.1 and
    /// HTTP/2, static files (4 KiB, 1 MiB), RSS with 10,000 idle connections.
    Edge(proxy_edge::EdgeArgs),
}

/// Runs the chosen benchmark.
pub fn main(args: BenchArgs) -> ExitCode {
    let result = match args.which {
        Which::Upstream => upstream::run(),
        Which::Proxy => proxy::run(),
        Which::Loadgen => loadgen::run(),
        Which::Edge(a) => proxy_edge::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
