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
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    #[schemars(with = "Dur")]
    pub duration: Spanned<Dur>,
    pub seed: Option<u64>,
    #[schemars(with = "Option<Dur>")]
    pub sample_interval: Option<Spanned<Dur>>,
    #[schemars(with = "Option<Dur>")]
    pub ready_timeout: Option<Spanned<Dur>>,
    #[schemars(with = "Option<RawProxy>")]
    pub proxy: Option<Spanned<RawProxy>>,
    #[schemars(with = "Option<RawTarget>")]
    pub target: Option<Spanned<RawTarget>>,
    pub loadgen: Option<RawLoadgen>,
    #[serde(default)]
    #[schemars(with = "Vec<RawUpstream>")]
    pub upstream: Vec<Spanned<RawUpstream>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawLoad>")]
    pub load: Vec<Spanned<RawLoad>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawFault>")]
    pub fault: Vec<Spanned<RawFault>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawPhase>")]
    pub phase: Vec<Spanned<RawPhase>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawAssert>")]
    pub assert: Vec<Spanned<RawAssert>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawVariant>")]
    pub variant: Vec<Spanned<RawVariant>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawService>")]
    pub service: Vec<Spanned<RawService>>,
}

/// Kind of a `[[service]]`.
#[derive(
    Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// Real PostgreSQL (Debian's `postgresql` package).
    Postgres,
    /// Real Redis (Debian's `redis-server` package).
    Redis,
}

/// `[[service]]`: a real database or cache the apps use.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "ServiceKind")]
    pub kind: Spanned<ServiceKind>,
    #[schemars(with = "Option<u32>")]
    pub max_connections: Option<Spanned<u32>>,
    /// PostgreSQL only: server-wide `statement_timeout`.
    #[schemars(with = "Option<Dur>")]
    pub statement_timeout: Option<Spanned<Dur>>,
    /// PostgreSQL only: SQL run once when the server is first ready (the apps' schema).
    #[schemars(with = "Option<String>")]
    pub init_sql: Option<Spanned<String>>,
}

/// Which proxy sits between the clients and the upstreams.
#[derive(
    Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema,
)]
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
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    #[schemars(with = "Option<ProxyKind>")]
    pub kind: Option<Spanned<ProxyKind>>,
    #[schemars(with = "Option<PathBuf>")]
    pub config: Option<Spanned<PathBuf>>,
    #[schemars(with = "Option<Vec<usize>>")]
    pub cpus: Option<Spanned<Vec<usize>>>,
    pub status_path: Option<String>,
    pub cache_status_path: Option<String>,
    #[schemars(with = "Option<String>")]
    pub status_listener: Option<Spanned<String>>,
    pub binary: Option<PathBuf>,
    #[schemars(with = "Option<u64>")]
    pub rlimit_nofile: Option<Spanned<u64>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub disk_limit: Option<Spanned<toml::Value>>,
}

/// `[target]`: a deployment outside this machine.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    pub host: Option<String>,
    pub sni: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub insecure: Option<bool>,
}

/// `[loadgen]`: plan-wide settings of the load generator.
#[derive(Deserialize, Debug, Clone, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoadgen {
    pub protocol: Option<Protocol>,
    pub tls: Option<TlsOptions>,
    pub connect_timeout: Option<Dur>,
    pub request_timeout: Option<Dur>,
    pub threads: Option<usize>,
    #[schemars(with = "Option<Vec<usize>>")]
    pub cpus: Option<Spanned<Vec<usize>>>,
}

/// Kind of an upstream pool.
#[derive(
    Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// `proxylab upstream` (fake Uvicorn).
    Fake,
    /// Real `python3 -m uvicorn` (or gunicorn with `supervisor = "gunicorn"`).
    Uvicorn,
}

/// Process supervisor emulated (fake) or used (uvicorn kind).
#[derive(
    Deserialize, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Supervisor {
    /// uvicorn's own `--workers` supervisor.
    Uvicorn,
    /// gunicorn with UvicornWorker.
    Gunicorn,
}

/// `[[upstream]]`.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    pub kind: Option<UpstreamKind>,
    #[schemars(with = "Option<u32>")]
    pub instances: Option<Spanned<u32>>,
    #[schemars(with = "Option<u32>")]
    pub workers: Option<Spanned<u32>>,
    pub limit_concurrency: Option<u32>,
    pub limit_max_requests: Option<u64>,
    pub timeout_keep_alive: Option<Dur>,
    pub backlog: Option<u32>,
    pub timeout_graceful_shutdown: Option<Dur>,
    pub supervisor: Option<Supervisor>,
    pub seed: Option<u64>,
    #[schemars(with = "Option<proxylab_upstream::app::AppSpec>")]
    pub app: Option<Spanned<proxylab_upstream::app::AppSpec>>,
    #[schemars(with = "Option<PathBuf>")]
    pub app_file: Option<Spanned<PathBuf>>,
    #[schemars(with = "Option<String>")]
    pub asgi: Option<Spanned<String>>,
    pub app_dir: Option<PathBuf>,
    pub python: Option<PathBuf>,
    #[serde(default)]
    pub args: Vec<String>,
    #[schemars(with = "Option<std::collections::BTreeMap<String, serde_json::Value>>")]
    pub flags: Option<Spanned<std::collections::BTreeMap<String, toml::Value>>>,
    #[schemars(with = "Option<Vec<usize>>")]
    pub cpus: Option<Spanned<Vec<usize>>>,
    pub restart_sec: Option<Dur>,
    #[serde(default)]
    pub may_exit: bool,
    #[schemars(with = "Option<serde_json::Value>")]
    pub leak_per_request: Option<Spanned<toml::Value>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub memory_limit: Option<Spanned<toml::Value>>,
}

/// `[[load]]`: one client population.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
    #[serde(default)]
    pub tls: bool,
    pub start: Option<Dur>,
    pub duration: Option<Dur>,
    pub max_requests: Option<u64>,
    #[schemars(with = "Option<String>")]
    pub model: Option<Spanned<String>>,
    pub stages: Option<Vec<Stage>>,
    pub arrivals: Option<Arrivals>,
    pub max_connections: Option<u32>,
    #[schemars(with = "Option<u32>")]
    pub connections: Option<Spanned<u32>>,
    pub think_time: Option<Dur>,
    pub connection: Option<ConnectionPolicy>,
    pub requests: Option<Vec<RequestSpec>>,
    pub behaviour: Option<Behaviour>,
    pub source_addresses: Option<u32>,
    pub record_headers: Option<Vec<String>>,
}

/// `[[fault]]`.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    #[schemars(with = "Dur")]
    pub at: Spanned<Dur>,
    #[schemars(with = "String")]
    pub action: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
    pub restart_after: Option<Dur>,
    #[serde(rename = "for")]
    pub for_: Option<Dur>,
    #[schemars(with = "Option<f64>")]
    pub factor: Option<Spanned<f64>>,
    #[schemars(with = "Option<String>")]
    pub signal: Option<Spanned<String>>,
    #[schemars(with = "Option<PathBuf>")]
    pub config: Option<Spanned<PathBuf>>,
    pub label: Option<String>,
    /// Link faults (`target = "link:…"`): see `validate::links`.
    #[schemars(with = "Option<String>")]
    pub latency: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub jitter: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub delay: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub close_after: Option<Spanned<String>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub rate: Option<Spanned<toml::Value>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub bytes: Option<Spanned<toml::Value>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub average_size: Option<Spanned<toml::Value>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub size_variation: Option<Spanned<toml::Value>>,
    #[schemars(with = "Option<String>")]
    pub direction: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    pub toxicity: Option<Spanned<f64>>,
    #[schemars(with = "Option<String>")]
    pub mode: Option<Spanned<String>>,
    /// `hold_connections`: how many.
    #[schemars(with = "Option<u32>")]
    pub connections: Option<Spanned<u32>>,
    /// `lock_table`: the table to lock.
    #[schemars(with = "Option<String>")]
    pub table: Option<Spanned<String>>,
}

/// `[[phase]]`.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Dur")]
    pub start: Spanned<Dur>,
    #[schemars(with = "Option<Dur>")]
    pub end: Option<Spanned<Dur>>,
}

/// `[[assert]]`.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAssert {
    pub name: Option<String>,
    #[schemars(with = "String")]
    pub metric: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub phase: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub population: Option<Spanned<String>>,
    #[schemars(with = "String")]
    pub op: Spanned<String>,
    #[schemars(with = "serde_json::Value")]
    pub value: Spanned<toml::Value>,
}

/// `[[variant]]`.
#[derive(Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub compare: Option<bool>,
    /// Whether `--ci` runs it as a comparison too (default: `compare`).
    pub ci_compare: Option<bool>,
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub set: toml::Table,
}
