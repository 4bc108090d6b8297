//! Flags and entry points of `proxylab merge-shards` and `proxylab deploy k8s`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab merge-shards`.
#[derive(clap::Args, Debug, Clone)]
pub struct MergeShardsArgs {
    /// The shared results directory (holds `shard-0/`, `shard-1/`, … written by
    /// `proxylab run --shards N --out DIR`).
    pub dir: PathBuf,
    /// Number of shards to expect (default: the count the shards recorded).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Wait this long for every shard to finish (e.g. 30m); default: do not wait.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub wait: humantime::Duration,
    /// The scenario to judge by (default: the file shard 0 ran, else its copy).
    #[arg(long, value_name = "FILE.toml")]
    pub scenario: Option<PathBuf>,
    /// Where to write the merged run (default: DIR/merged).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `proxylab merge-shards`: exit 0 every assertion held on the merged data, 1 one failed, 2
/// bad input, 3 a shard is missing or failed.
pub fn merge_shards(a: MergeShardsArgs) -> ExitCode {
    ExitCode::from(super::merge::run(
        &a.dir,
        a.shards,
        a.wait.into(),
        a.scenario.as_deref(),
        a.out.as_deref(),
    ))
}

/// Flags of `proxylab deploy`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    /// Where to deploy.
    #[command(subcommand)]
    pub target: DeployTarget,
}

/// Deployment targets.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DeployTarget {
    /// Kubernetes manifests: ConfigMap, PVC, an Indexed Job of shards, a merge Job.
    K8s(super::k8s::K8sArgs),
}

/// `proxylab deploy k8s …`: exit 0 written, 2 bad scenario or flags, 3 cannot write.
pub fn deploy(a: DeployArgs) -> ExitCode {
    match a.target {
        DeployTarget::K8s(k) => ExitCode::from(super::k8s::main(&k)),
    }
}
