//! Flags of `proxylab audit`.

use std::path::PathBuf;

/// `proxylab audit PATH/nginx.conf`: the deployed file, unmodified, under the outage battery.
#[derive(clap::Args, Debug, Clone)]
pub struct AuditArgs {
    /// The nginx.conf exactly as deployed (includes are followed, nothing is written to it).
    pub config: PathBuf,
    /// nginx's `-p`: prefix for relative log and root paths (default: the config's directory).
    #[arg(short = 'p', long)]
    pub prefix: Option<PathBuf>,
    /// Which proxy runs the probes: proxylab, nginx, or both (findings that differ are
    /// flagged as fidelity defects of proxylab). Default: both when nginx is installed.
    #[arg(long, value_parser = ["proxylab", "nginx", "both"])]
    pub proxy: Option<String>,
    /// Where the report goes: `<out>/audit-<config name>/<timestamp>/`.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Exit 1 when a finding reaches this severity (high, medium, low, info, none).
    #[arg(long, default_value = "high")]
    pub fail_on: String,
    /// Every probe at a short length, two runs at a time (the whole battery in about 2
    /// minutes).
    #[arg(long)]
    pub quick: bool,
    /// Probe runs at once (default 1, 2 with --quick). Each run is its own set of processes;
    /// more than one shares the CPU, so latency and capacity figures then mean less.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: Option<u16>,
    /// Static findings only: start nothing.
    #[arg(long)]
    pub no_probes: bool,
    /// Run only these probes (comma-separated names, see docs/audit.md).
    #[arg(long, value_delimiter = ',')]
    pub probe: Vec<String>,
    /// Do not try the fixes (no second run of a probe with the remedy applied).
    #[arg(long)]
    pub no_fix: bool,
    /// Your own ASGI app (`module:attr`) under real uvicorn instead of the fake upstream.
    #[arg(long)]
    pub app: Option<String>,
    /// `--app-dir` for `--app` (default: the current directory).
    #[arg(long)]
    pub app_dir: Option<PathBuf>,
    /// A fake route table (TOML, docs/upstream.md) for the fake upstreams.
    #[arg(long)]
    pub upstream_app: Option<PathBuf>,
    /// The upstream's idle keep-alive timeout (Uvicorn's --timeout-keep-alive).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub upstream_keepalive: std::time::Duration,
    /// No progress bar.
    #[arg(long)]
    pub ci: bool,
}

impl AuditArgs {
    /// Probe runs at once: `--jobs`, else 2 with `--quick` (both proxies side by side), else 1.
    pub fn jobs(&self) -> usize {
        usize::from(self.jobs.unwrap_or(if self.quick { 2 } else { 1 }))
    }
}
