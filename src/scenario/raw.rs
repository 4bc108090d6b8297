//! The scenario file as written: serde structs mirroring the TOML, every table
//! `deny_unknown_fields`, spans kept where validation needs to point at a line.
//!
//! Nothing here is checked beyond TOML types; [`super::validate`] turns these into the domain
//! types of [`super::model`].

use proxylab_loadgen::plan::{
    Arrivals, Behaviour, ConnectionPolicy, Dur, Protocol, RequestSpec, Stage, TlsOptions,
};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// The whole file.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub duration: Spanned<Dur>,
    pub seed: Option<u64>,
    pub sample_interval: Option<Spanned<Dur>>,
    pub ready_timeout: Option<Spanned<Dur>>,
    pub proxy: Option<Spanned<RawProxy>>,
    pub loadgen: Option<RawLoadgen>,
    #[serde(default)]
    pub upstream: Vec<Spanned<RawUpstream>>,
    #[serde(default)]
    pub load: Vec<Spanned<RawLoad>>,
    #[serde(default)]
    pub fault: Vec<Spanned<RawFault>>,
    #[serde(default)]
    pub phase: Vec<Spanned<RawPhase>>,
    #[serde(default)]
    pub assert: Vec<Spanned<RawAssert>>,
    #[serde(default)]
    pub variant: Vec<Spanned<RawVariant>>,
    #[serde(default)]
    pub service: Vec<Spanned<RawService>>,
}

/// Kind of a `[[service]]`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// Real PostgreSQL (Debian's `postgresql` package).
    Postgres,
    /// Real Redis (Debian's `redis-server` package).
    Redis,
}

/// `[[service]]`: a real database or cache the apps use.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Spanned<String>,
    pub kind: Spanned<ServiceKind>,
    pub max_connections: Option<Spanned<u32>>,
}

/// Which proxy sits between the clients and the upstreams.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// `proxylab proxy` (ours).
    Proxylab,
    /// Real nginx from PATH (or `binary`).
    Nginx,
    /// No proxy: clients hit the upstreams directly.
    None,
}

/// `[proxy]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    pub kind: Option<Spanned<ProxyKind>>,
    pub config: Option<Spanned<PathBuf>>,
    pub cpus: Option<Spanned<Vec<usize>>>,
    pub status_path: Option<String>,
    pub status_listener: Option<Spanned<String>>,
    pub binary: Option<PathBuf>,
    pub rlimit_nofile: Option<Spanned<u64>>,
    pub disk_limit: Option<Spanned<toml::Value>>,
}

/// `[loadgen]`: plan-wide settings of the load generator.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLoadgen {
    pub protocol: Option<Protocol>,
    pub tls: Option<TlsOptions>,
    pub connect_timeout: Option<Dur>,
    pub request_timeout: Option<Dur>,
    pub threads: Option<usize>,
    pub cpus: Option<Spanned<Vec<usize>>>,
}

/// Kind of an upstream pool.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// `proxylab upstream` (fake Uvicorn).
    Fake,
    /// Real `python3 -m uvicorn` (or gunicorn with `supervisor = "gunicorn"`).
    Uvicorn,
}

/// Process supervisor emulated (fake) or used (uvicorn kind).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Supervisor {
    /// uvicorn's own `--workers` supervisor.
    Uvicorn,
    /// gunicorn with UvicornWorker.
    Gunicorn,
}

/// `[[upstream]]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub name: Spanned<String>,
    pub kind: Option<UpstreamKind>,
    pub instances: Option<Spanned<u32>>,
    pub workers: Option<Spanned<u32>>,
    pub limit_concurrency: Option<u32>,
    pub limit_max_requests: Option<u64>,
    pub timeout_keep_alive: Option<Dur>,
    pub backlog: Option<u32>,
    pub timeout_graceful_shutdown: Option<Dur>,
    pub supervisor: Option<Supervisor>,
    pub seed: Option<u64>,
    pub app: Option<Spanned<proxylab_upstream::app::AppSpec>>,
    pub app_file: Option<Spanned<PathBuf>>,
    pub asgi: Option<Spanned<String>>,
    pub app_dir: Option<PathBuf>,
    pub python: Option<PathBuf>,
    #[serde(default)]
    pub args: Vec<String>,
    pub flags: Option<Spanned<std::collections::BTreeMap<String, toml::Value>>>,
    pub cpus: Option<Spanned<Vec<usize>>>,
    pub restart_sec: Option<Dur>,
    #[serde(default)]
    pub may_exit: bool,
}

/// `[[load]]`: one client population.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub name: Spanned<String>,
    pub target: Option<Spanned<String>>,
    #[serde(default)]
    pub tls: bool,
    pub start: Option<Dur>,
    pub duration: Option<Dur>,
    pub max_requests: Option<u64>,
    pub model: Option<Spanned<String>>,
    pub stages: Option<Vec<Stage>>,
    pub arrivals: Option<Arrivals>,
    pub max_connections: Option<u32>,
    pub connections: Option<Spanned<u32>>,
    pub think_time: Option<Dur>,
    pub connection: Option<ConnectionPolicy>,
    pub requests: Option<Vec<RequestSpec>>,
    pub behaviour: Option<Behaviour>,
    pub source_addresses: Option<u32>,
}

/// `[[fault]]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Spanned<Dur>,
    pub action: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub restart_after: Option<Dur>,
    #[serde(rename = "for")]
    pub for_: Option<Dur>,
    pub factor: Option<Spanned<f64>>,
    pub signal: Option<Spanned<String>>,
    pub config: Option<Spanned<PathBuf>>,
    pub label: Option<String>,
    /// Link faults (`target = "link:…"`): see `validate::links`.
    pub latency: Option<Spanned<String>>,
    pub jitter: Option<Spanned<String>>,
    pub delay: Option<Spanned<String>>,
    pub close_after: Option<Spanned<String>>,
    pub rate: Option<Spanned<toml::Value>>,
    pub bytes: Option<Spanned<toml::Value>>,
    pub average_size: Option<Spanned<toml::Value>>,
    pub size_variation: Option<Spanned<toml::Value>>,
    pub direction: Option<Spanned<String>>,
    pub toxicity: Option<Spanned<f64>>,
    pub mode: Option<Spanned<String>>,
}

/// `[[phase]]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: Spanned<String>,
    pub start: Spanned<Dur>,
    pub end: Option<Spanned<Dur>>,
}

/// `[[assert]]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAssert {
    pub name: Option<String>,
    pub metric: Spanned<String>,
    pub phase: Option<Spanned<String>>,
    pub population: Option<Spanned<String>>,
    pub op: Spanned<String>,
    pub value: Spanned<toml::Value>,
}

/// `[[variant]]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub compare: Option<bool>,
    #[serde(default)]
    pub set: toml::Table,
}
