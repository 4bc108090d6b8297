//! The one `proxylab` binary: parses the command line and hands each subcommand to its library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the proxy's per-request buffers (8 KiB reads, response
/// heads) are past glibc's thread cache and paid `_int_malloc`/`_int_free` bin work each time
/// (12 % of the proxy's user-space instructions per request under callgrind; nginx allocates
/// from per-request pools instead).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "proxylab",
    version,
    about = "Testbed for clients -> reverse proxy -> Uvicorn workers: run scenarios, proxy, load, fake upstreams",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only obscure the dispatch
enum Command {
    /// Run a scenario file (or every scenario in a directory) and write a report.
    Run(proxylab::cli::RunArgs),
    /// Overlay several run directories in one comparison report.
    Compare(proxylab::cli::CompareArgs),
    /// Build docs/claims.md from run summaries: the article's claims and their verdicts.
    Claims(proxylab::cli::ClaimsArgs),
    /// Audit a deployed nginx.conf, unmodified: static findings and the outage battery.
    Audit(proxylab::audit::AuditArgs),
    /// List the optional programs (nginx, uvicorn, wrk, chromium, ...): found or not, version,
    /// what each enables and how to install it.
    Doctor(proxylab::doctor::DoctorArgs),
    /// Print the JSON Schema of scenario files (for editors; committed as
    /// scenarios/scenario.schema.json).
    Schema(proxylab::cli::SchemaArgs),
    /// Side-by-side benchmarks against the reference programs (nginx, wrk, uvicorn).
    Bench(proxylab::bench::BenchArgs),
    /// Run the reverse proxy on an nginx.conf (`-t` tests the config like `nginx -t`).
    Proxy(proxylab_proxy::cli::Args),
    /// Merge the shards of a distributed run into one report, summary, JUnit file and verdict.
    MergeShards(proxylab::distributed::cmd::MergeShardsArgs),
    /// Write deployment manifests for a distributed run (`deploy k8s`).
    Deploy(proxylab::distributed::cmd::DeployArgs),
    /// Generate load: open loop (--rate) or closed loop (--connections).
    Loadgen(proxylab_loadgen::cli::Args),
    /// Run fake Uvicorn workers (flags as uvicorn names them).
    Upstream(proxylab_upstream::cli::Args),
    /// In-path TCP relay with network faults (started by `run` for `link:` faults).
    Relay(proxylab_relay::cli::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(a) => proxylab::cli::run(a),
        Command::Compare(a) => proxylab::cli::compare(a),
        Command::Claims(a) => proxylab::cli::claims(a),
        Command::Audit(a) => ExitCode::from(proxylab::audit::main(&a)),
        Command::Doctor(a) => proxylab::doctor::main(a),
        Command::Schema(a) => proxylab::cli::schema(a),
        Command::Bench(a) => proxylab::bench::main(a),
        Command::Proxy(a) => proxylab_proxy::cli::main(a),
        Command::MergeShards(a) => proxylab::distributed::cmd::merge_shards(a),
        Command::Deploy(a) => proxylab::distributed::cmd::deploy(a),
        Command::Loadgen(a) => proxylab_loadgen::cli::main(a),
        Command::Upstream(a) => proxylab_upstream::cli::main(a),
        Command::Relay(a) => proxylab_relay::cli::main(a),
    }
}
