//! `proxylab bench …`: end-to-end comparisons against reference programs, measured side by side
//! in one run and printed as ratios (medians over alternating rounds, never one absolute time).

mod cache;
mod edge_idle;
pub mod gzip;
mod gzip_sweep;
pub mod loadgen;
pub mod pin;
pub mod proxy;
pub mod proxy_edge;
pub mod record;
pub mod relay;
pub mod support;
pub mod table;
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
    /// What an idle link relay costs: p50/p99 and CPU at 5,000 req/s with the relay on the
    /// client link and on the upstream link against the same run without it.
    Relay(relay::RelayArgs),
    /// Our proxy vs nginx gzipping a 16 KiB JSON response at levels 1 and 6: req/s, CPU per
    /// request and compressed size.
    Gzip(gzip::GzipArgs),
    /// Cache hits of a 4 KiB response (proxy_cache): our proxy vs nginx, req/s and CPU per request.
    Cache,
    /// The reference table at the top of docs/benchmarks.md from the runs the benches saved.
    Table(table::TableArgs),
}

/// Runs the chosen benchmark.
pub fn main(args: BenchArgs) -> ExitCode {
    let started = std::time::SystemTime::now();
    let (name, result) = match args.which {
        Which::Upstream => ("upstream", upstream::run()),
        Which::Proxy => ("proxy", proxy::run()),
        Which::Loadgen => ("loadgen", loadgen::run()),
        Which::Edge(a) => ("edge", proxy_edge::run(&a)),
        Which::Relay(a) => ("relay", relay::run(&a)),
        Which::Gzip(a) => ("gzip", gzip::run(&a)),
        Which::Cache => ("cache", cache::run()),
        Which::Table(a) => ("", table::run(&a)),
    };
    // Saved for `proxylab bench table` (reports/bench/); the table step cites them.
    if result.is_ok() && !name.is_empty() {
        match record::save(std::path::Path::new("reports/bench"), name, started) {
            Ok(p) => println!("saved: {} (`proxylab bench table` reads it)", p.display()),
            Err(e) => eprintln!("warning: saving the results: {e}"),
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
