//! Command-line interface of `proxylab loadgen` (also the stand-alone `proxylab-loadgen`
//! binary): flags → a one-population `Plan` (or `--plan FILE.toml`), run, print, write outputs.
//! Usage errors (bad URL, unreachable target, bad rate or stage) print one line and exit 2.

mod flags;
pub mod live;
mod merge;
mod run;
pub mod start_at;

pub use flags::shard_of;

use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab loadgen`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    /// `merge`: combine shard outputs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Target URL (http://, https://, ws://, wss://); its path is the request path.
    pub url: Option<String>,
    /// Run a plan file (TOML) instead of building one from flags.
    #[arg(long, value_name = "FILE.toml")]
    pub plan: Option<PathBuf>,
    /// Open loop at this constant rate (requests/s) for the whole duration.
    #[arg(long, short = 'R', allow_hyphen_values = true)]
    pub rate: Option<String>,
    /// Open-loop rate stage (repeatable): constant:RATE:DUR, ramp:FROM:TO:DUR,
    /// step:FROM:TO:STEPS:DUR, spike:BASE:HEIGHT:AT:HOLD:DUR.
    #[arg(long = "stage", value_name = "SPEC")]
    pub stages: Vec<String>,
    /// Open-loop arrival spacing: uniform or poisson.
    #[arg(long, default_value = "uniform")]
    pub arrivals: String,
    /// Closed loop: N connections back to back. With --rate/--stage: cap on open connections.
    #[arg(long, short = 'c')]
    pub connections: Option<u32>,
    /// Closed loop: pause between a response and the next request (e.g. 10ms).
    #[arg(long)]
    pub think_time: Option<String>,
    /// Run length (e.g. 10s, 1m). Default 10s.
    #[arg(long, short = 'd')]
    pub duration: Option<String>,
    /// Stop after this many requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Worker threads (default: one per CPU).
    #[arg(long, short = 't')]
    pub threads: Option<usize>,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// Extra request header "Name: value" (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body of N bytes.
    #[arg(long)]
    pub body_size: Option<u64>,
    /// Request body from a file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// New connection for every request.
    #[arg(long)]
    pub per_request: bool,
    /// Close keep-alive connections after N requests.
    #[arg(long)]
    pub max_requests_per_conn: Option<u64>,
    /// h1, h2 (TLS + ALPN) or h2c (prior knowledge).
    #[arg(long, default_value = "h1")]
    pub protocol: String,
    /// PEM CA file to trust for https.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Accept any TLS certificate.
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// TLS server name (SNI).
    #[arg(long)]
    pub sni: Option<String>,
    /// Client behaviour: a kind (normal, slow_headers, slow_body, slow_reader, large_upload,
    /// idle_hoarder, ws_idle, ws_chatty, reconnect_storm) or an inline TOML table such as
    /// '{ kind = "slow_headers", interval = "5s" }' or
    /// '{ kind = "h2_abuse", attack = "rapid_reset" }' (with --protocol h2 or h2c).
    #[arg(long)]
    pub behaviour: Option<String>,
    /// TCP+TLS connect timeout (default 5s).
    #[arg(long)]
    pub connect_timeout: Option<String>,
    /// Request timeout (default 30s).
    #[arg(long)]
    pub timeout: Option<String>,
    /// Seed for Poisson arrivals and random choices.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the summary JSON here.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write the per-second series CSV here.
    #[arg(long, value_name = "FILE")]
    pub series_csv: Option<PathBuf>,
    /// Write the HdrHistogram interval log here.
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// Run shard i of n (1-based), e.g. 2/4: rates and connections divided by n.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Run one of N shards, the 0-based index taken from `JOB_COMPLETION_INDEX` (set by a
    /// Kubernetes Indexed Job) unless --shard gives it.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Start the load at this time (RFC 3339 UTC, `@UNIX_SECONDS` or `+DURATION`), so that
    /// shards on different machines start together without a coordinator.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Live metrics: serve and push.
    #[command(flatten)]
    pub metrics: live::MetricsFlags,
    /// Do not check that the targets accept connections before starting.
    #[arg(long)]
    pub no_preflight: bool,
    /// No live progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the plan as TOML and exit.
    #[arg(long)]
    pub print_plan: bool,
}

/// Subcommands of `proxylab loadgen`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Merge summary JSON files of shards (HDR histograms merged, counters summed).
    Merge(merge::MergeArgs),
}

/// Runs `proxylab loadgen` with parsed flags and returns the process exit code.
pub fn main(args: Args) -> ExitCode {
    match &args.command {
        Some(Command::Merge(m)) => merge::main(m),
        None => run::main(args),
    }
}

/// Prints a one-line usage error and returns exit code 2.
fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("proxylab loadgen: {msg}");
    ExitCode::from(2)
}
