//! `proxylab deploy k8s SCENARIO.toml --shards N --out DIR`: the manifests of a distributed
//! run. A ConfigMap holds the scenario; a PersistentVolumeClaim (ReadWriteMany) is the shared
//! results directory; an Indexed Job runs N pods, each `proxylab run --shards N` (its shard
//! from `JOB_COMPLETION_INDEX`) with one `--start-at`; a merge Job waits for the N shards and
//! gives the one verdict (its exit code is the Job's success or failure).

use super::manifests::{RESULTS_DIR, manifests};
use super::yaml::to_yaml;
use crate::scenario::{self, Overrides};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Flags of `proxylab deploy k8s`.
#[derive(clap::Args, Debug, Clone)]
pub struct K8sArgs {
    /// The scenario (it should aim at a `[target]`: each pod starts only its loadgen).
    pub scenario: PathBuf,
    /// Number of load pods (shards).
    #[arg(long, value_name = "N")]
    pub shards: u32,
    /// Directory to write the YAML files to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Container image with the `proxylab` binary (see Dockerfile).
    #[arg(long, default_value = "proxylab:latest")]
    pub image: String,
    /// Name prefix of the objects (default: the scenario's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace of every object (default: none, i.e. kubectl's current one).
    #[arg(long)]
    pub namespace: Option<String>,
    /// The shards' common start (RFC 3339, `@UNIX_SECONDS`). Default: now + --start-delay,
    /// fixed when the manifests are written (apply them right away).
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// With no --start-at: how far after writing the manifests the load starts.
    #[arg(long, default_value = "2m")]
    pub start_delay: humantime::Duration,
    /// Size of the results volume.
    #[arg(long, default_value = "1Gi")]
    pub storage: String,
    /// Storage class of the results volume (it must offer ReadWriteMany, e.g. NFS or CephFS).
    #[arg(long)]
    pub storage_class: Option<String>,
    /// CPU request and limit of each load pod.
    #[arg(long, default_value = "2")]
    pub cpu: String,
    /// Memory request and limit of each load pod.
    #[arg(long, default_value = "1Gi")]
    pub memory: String,
    /// Variant of the scenario to run (one combination, e.g. `ci`).
    #[arg(long)]
    pub variant: Option<String>,
    /// Every shard pushes its live metrics here (Prometheus remote write, http://), labelled
    /// with the run id and its shard.
    #[arg(long, value_name = "URL")]
    pub metrics_push: Option<String>,
    /// Every shard serves /metrics on this container port (annotated for Prometheus'
    /// pod discovery).
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Extra flags for every shard's `proxylab run` (e.g. `--metrics-push=URL`), repeatable.
    #[arg(long = "run-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub run_args: Vec<String>,
}

/// A Kubernetes object name: lowercase letters, digits and `-`, at most `max` characters.
pub fn dns_name(s: &str, max: usize) -> String {
    let mut n: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    n.truncate(max);
    let n = n.trim_matches('-').to_string();
    if n.is_empty() { "proxylab".into() } else { n }
}

/// Everything the manifests need, resolved.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Object name prefix.
    pub name: String,
    /// Results subdirectory of this run on the volume.
    pub run_id: String,
    /// The scenario's text.
    pub scenario_text: String,
    /// Scenario duration (bounds the merge's wait).
    pub duration: Duration,
    /// `--start-at` value.
    pub start_at: String,
    /// The flags.
    pub args: K8sArgs,
}

/// Resolves the flags: reads and checks the scenario, fixes the start time.
pub fn deployment(a: &K8sArgs) -> Result<Deployment, String> {
    if a.shards == 0 {
        return Err("--shards must be at least 1".into());
    }
    let ov = Overrides {
        variants: a
            .variant
            .iter()
            .flat_map(|v| v.split('+'))
            .map(str::to_string)
            .collect(),
        proxy: None,
    };
    let s = scenario::load(&a.scenario, &ov).map_err(|e| format!("error: {e}"))?;
    if s.target.is_none() {
        eprintln!(
            "warning: {} has no [target]: every pod would start its own proxy and upstreams",
            a.scenario.display()
        );
    }
    let start = match &a.start_at {
        Some(t) => proxylab_loadgen::cli::start_at::parse(t)?,
        None => SystemTime::now() + Duration::from(a.start_delay),
    };
    let start_at = humantime::format_rfc3339_seconds(start).to_string();
    let name = dns_name(a.name.as_deref().unwrap_or(&s.name), 40);
    let stamp = start_at.replace(['-', ':'], "").to_ascii_lowercase();
    Ok(Deployment {
        run_id: format!("{name}-{stamp}"),
        name,
        scenario_text: std::fs::read_to_string(&a.scenario)
            .map_err(|e| format!("{}: {e}", a.scenario.display()))?,
        duration: s.duration,
        start_at,
        args: a.clone(),
    })
}

/// Writes the manifests into `dir`; returns their paths.
pub fn write(d: &Deployment, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for (file, v) in manifests(d) {
        let p = dir.join(file);
        std::fs::write(&p, to_yaml(&v)).map_err(|e| format!("{}: {e}", p.display()))?;
        out.push(p);
    }
    Ok(out)
}

/// `proxylab deploy k8s`: returns the exit code.
pub fn main(a: &K8sArgs) -> u8 {
    let d = match deployment(a) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("proxylab deploy k8s: {e}");
            return crate::run_cmd::BAD_SCENARIO;
        }
    };
    match write(&d, &a.out) {
        Ok(files) => {
            for f in &files {
                println!("wrote {}", f.display());
            }
            println!(
                "{} shards start at {} (results in {RESULTS_DIR}/{}):\n  kubectl apply -f {}\n  kubectl wait --for=condition=complete --timeout=1h job/{}-merge\n  kubectl logs job/{}-merge",
                a.shards,
                d.start_at,
                d.run_id,
                a.out.display(),
                d.name,
                d.name
            );
            0
        }
        Err(e) => {
            eprintln!("proxylab deploy k8s: {e}");
            crate::run_cmd::COMPONENT
        }
    }
}
