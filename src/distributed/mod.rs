//! Beyond one machine: one scenario's load split over shards (`run --shards N`, the index from
//! Kubernetes' `JOB_COMPLETION_INDEX`), a synchronised start (`--start-at`), each shard's run
//! directory in a shared directory, and [`merge`] turning them into one report, one summary,
//! one JUnit file and one exit code, with assertions evaluated on the merged histograms and
//! counts. [`k8s`] writes the Kubernetes manifests that run it. See docs/distributed.md.

pub mod cmd;
pub mod combine;
pub mod k8s;
pub mod manifests;
pub mod merge;
pub mod shard;
pub mod yaml;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Flags of `proxylab run` for sharded runs and live metrics (flattened into `RunArgs`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DistFlags {
    /// Run one of N shards of the load (rates and connections split as evenly as integers
    /// allow); the 0-based index comes from `JOB_COMPLETION_INDEX` unless --shard gives it.
    /// The run directory is `<out>/shard-<index>`; assertions are left to `merge-shards`.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// This shard, 1-based `i/n` (like `loadgen --shard`).
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Start the load at this time (RFC 3339 UTC, `@UNIX_SECONDS` or `+DURATION`).
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Live metrics of the run (runner and loadgen together).
    #[command(flatten)]
    pub metrics: proxylab_loadgen::cli::live::MetricsFlags,
}

impl DistFlags {
    /// The shard to run (0-based index, count), if any.
    pub fn shard(&self) -> Result<Option<(u32, u32)>, String> {
        let args = proxylab_loadgen::cli::Args {
            shard: self.shard.clone(),
            shards: self.shards,
            ..Default::default()
        };
        proxylab_loadgen::cli::shard_of(&args)
    }
}

/// `shard.json` in a shard's run directory: written last, so its presence means the shard
/// finished and its outputs are complete.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    /// 0-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
    /// The scenario file the shard ran.
    pub scenario: PathBuf,
    /// Variants applied (`base`, `nginx+ci`).
    pub variant: String,
    /// `--start-at` as given.
    pub start_at: Option<String>,
    /// The run's exit code before assertions (0 finished, 3 a component failed, 130
    /// interrupted).
    pub code: u8,
}

/// File name of [`ShardInfo`].
pub const SHARD_INFO: &str = "shard.json";

/// The run directory of shard `index` under `out`.
pub fn shard_dir(out: &Path, index: u32) -> PathBuf {
    out.join(format!("shard-{index}"))
}

impl ShardInfo {
    /// Writes `dir/shard.json`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let p = dir.join(SHARD_INFO);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&p, text + "\n"))
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Reads `dir/shard.json`.
    pub fn read(dir: &Path) -> Result<ShardInfo, String> {
        let p = dir.join(SHARD_INFO);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    }
}
