//! Validated scenario: the domain types the runner works with. Every reference is resolved,
//! every duration is a `Duration`, every path is absolute (relative to the scenario file).

pub use super::raw::{ProxyKind, ServiceKind, Supervisor, UpstreamKind};
use proxylab_loadgen::plan::{
    Behaviour, ConnectionPolicy, Load, Protocol, RequestSpec, TlsOptions,
};
use std::path::PathBuf;
use std::time::Duration;

/// A checked scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (default: the file stem); names the report directory.
    pub name: String,
    /// Free text shown in the report.
    pub description: String,
    /// Length of the load phase (the loadgen's `duration`).
    pub duration: Duration,
    /// Seed handed to the loadgen and (plus the pool index) to the fake upstreams.
    pub seed: u64,
    /// Sampling period of CPU / RSS / status counters. Default 1 s.
    pub sample_interval: Duration,
    /// Deadline for each component to become ready. Default 15 s.
    pub ready_timeout: Duration,
    /// The scenario file.
    pub path: PathBuf,
    /// Its text, copied into the report.
    pub text: String,
    /// Directory relative paths are resolved against.
    pub dir: PathBuf,
    /// The proxy.
    pub proxy: ProxySpec,
    /// Upstream pools.
    pub upstreams: Vec<UpstreamPool>,
    /// `[target]`: a deployment outside this machine (no proxy, no upstreams started).
    pub target: Option<RemoteTarget>,
    /// Plan-wide loadgen settings.
    pub loadgen: LoadgenSettings,
    /// Client populations.
    pub loads: Vec<LoadSpec>,
    /// Fault timeline, sorted by time.
    pub faults: Vec<Fault>,
    /// Named windows (`all` = the whole run is implicit).
    pub phases: Vec<Phase>,
    /// Thresholds.
    pub asserts: Vec<Assertion>,
    /// Variants declared in the file (names and descriptions).
    pub variants: Vec<VariantInfo>,
    /// The variant applied to build this scenario, if any.
    pub variant: Option<String>,
    /// Real databases and caches (`[[service]]`), started before the upstreams.
    pub services: Vec<ServiceSpec>,
}

/// `[[service]]`: a real PostgreSQL or Redis on a free port with a throwaway data directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Name (`{{service.NAME.url}}`, component name in samples).
    pub name: String,
    /// postgres or redis.
    pub kind: ServiceKind,
    /// Directory holding the server programs (`postgres`, `initdb` / `redis-server`); None when
    /// they are not installed (`run` stops before starting: `crate::doctor::missing_for`).
    pub bin_dir: Option<PathBuf>,
    /// PostgreSQL `max_connections` (default 100, PostgreSQL's own); Redis `maxclients`.
    pub max_connections: Option<u32>,
    /// PostgreSQL `statement_timeout` for every session (default none, PostgreSQL's own).
    pub statement_timeout: Option<Duration>,
    /// PostgreSQL: SQL run once when the server is first ready.
    pub init_sql: Option<String>,
}

/// `[proxy]`.
#[derive(Debug, Clone)]
pub struct ProxySpec {
    /// proxylab (default), nginx or none.
    pub kind: ProxyKind,
    /// nginx-syntax config template (required unless `none`).
    pub config: Option<PathBuf>,
    /// Template text.
    pub config_text: String,
    /// Named listeners in the template (`""` is `{{listen}}`).
    pub listeners: Vec<String>,
    /// CPUs the proxy is pinned to (empty: no pinning).
    pub cpus: Vec<usize>,
    /// stub_status path sampled every interval, if any.
    pub status_path: Option<String>,
    /// Listener serving `status_path` and `cache_status_path` (`""` = the main one).
    pub status_listener: String,
    /// Our proxy's `proxylab_cache_status` page, sampled every interval when it answers 200
    /// (`proxy.cache.*` columns: responses per second by `$upstream_cache_status`).
    pub cache_status_path: Option<String>,
    /// nginx binary (default `nginx` from PATH).
    pub binary: PathBuf,
    /// RLIMIT_NOFILE of the proxy's processes (None: inherited).
    pub rlimit_nofile: Option<u64>,
    /// Size in bytes of `{{dir}}/limited`, a tmpfs in the proxy's own mount namespace (None:
    /// no such directory).
    pub disk_limit: Option<u64>,
}

/// `[target]`: where the populations go when the system under test runs elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTarget {
    /// `http(s)://authority[/prefix]` (no trailing slash).
    pub url: String,
    /// `https://`.
    pub tls: bool,
    /// `Host` header to send instead of the URL's authority.
    pub host: Option<String>,
}

/// `[loadgen]`.
#[derive(Debug, Clone, Default)]
pub struct LoadgenSettings {
    /// h1, h2, h2c.
    pub protocol: Protocol,
    /// TLS client options.
    pub tls: TlsOptions,
    /// Connect timeout (default 5 s).
    pub connect_timeout: Option<Duration>,
    /// Request timeout (default 30 s).
    pub request_timeout: Option<Duration>,
    /// Threads (0 = one per CPU).
    pub threads: usize,
    /// CPU pinning.
    pub cpus: Vec<usize>,
}

/// `[[upstream]]`: a pool of identical instances.
#[derive(Debug, Clone)]
pub struct UpstreamPool {
    /// Pool name (referenced by `{{upstream.NAME}}`, load targets, fault targets).
    pub name: String,
    /// fake or uvicorn.
    pub kind: UpstreamKind,
    /// Number of instances (separate processes, separate ports). Default 1.
    pub instances: u32,
    /// Workers per instance (`--workers`). Default 1.
    pub workers: u32,
    /// `--limit-concurrency`.
    pub limit_concurrency: Option<u32>,
    /// `--limit-max-requests`.
    pub limit_max_requests: Option<u64>,
    /// `--timeout-keep-alive`.
    pub timeout_keep_alive: Option<Duration>,
    /// `--backlog`.
    pub backlog: Option<u32>,
    /// `--timeout-graceful-shutdown`.
    pub timeout_graceful_shutdown: Option<Duration>,
    /// `--supervisor`.
    pub supervisor: Option<Supervisor>,
    /// Seed (default: scenario seed + pool index).
    pub seed: u64,
    /// Route table: inline (written to a file at run time) or a file.
    pub app: AppSource,
    /// ASGI app `module:attr` (uvicorn kind).
    pub asgi: Option<String>,
    /// `--app-dir` for uvicorn (default: the scenario's directory).
    pub app_dir: PathBuf,
    /// Python interpreter (default `python3`).
    pub python: PathBuf,
    /// Extra command-line arguments, appended.
    pub args: Vec<String>,
    /// `[upstream.flags]`: any other `proxylab upstream` flag (`pool_size = 10` → `--pool-size 10`).
    pub flags: Vec<String>,
    /// CPU pinning.
    pub cpus: Vec<usize>,
    /// `leak_per_request` (fake only): bytes each request leaks.
    pub leak_per_request: Option<u64>,
    /// `memory_limit`: bytes per instance (a memory cgroup, or RLIMIT_AS per process).
    pub memory_limit: Option<u64>,
    /// Restart any exited instance after this delay (systemd `Restart=always` + `RestartSec`).
    pub restart_sec: Option<Duration>,
    /// An instance exiting by itself is not an error (e.g. `limit_max_requests` without a
    /// supervisor).
    pub may_exit: bool,
    /// Environment the runner adds at start (`PROXYLAB_SERVICE_<NAME>_URL` per service);
    /// empty in a checked scenario.
    pub env: Vec<(String, String)>,
}

/// Where a fake upstream's route table comes from.
#[derive(Debug, Clone)]
pub enum AppSource {
    /// The fake's default app.
    Default,
    /// Inline `[upstream.app]` table.
    Inline(proxylab_upstream::app::AppSpec),
    /// `app_file`.
    File(PathBuf),
}

/// What a population targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadTarget {
    /// The proxy's listener (`""` = `{{listen}}`); with proxy `none`, the first pool.
    Proxy(String),
    /// Every instance of an upstream pool, directly.
    Pool(String),
}

/// `[[load]]`: one population, in the loadgen's own types.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Population name.
    pub name: String,
    /// What it hits.
    pub target: LoadTarget,
    /// `https://` / `wss://`.
    pub tls: bool,
    /// Offset from the start.
    pub start: Duration,
    /// Length (None: to the end / the stages' total).
    pub duration: Option<Duration>,
    /// Bound on requests.
    pub max_requests: Option<u64>,
    /// Load model.
    pub load: Load,
    /// Connection policy.
    pub connection: ConnectionPolicy,
    /// Request mix.
    pub requests: Vec<RequestSpec>,
    /// Behaviour.
    pub behaviour: Behaviour,
    /// Clients come from this many loopback addresses (None: the kernel's choice).
    pub source_addresses: Option<u32>,
    /// Response headers whose values the loadgen counts (`header_rate` assertions).
    pub record_headers: Vec<String>,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Send `signal` (default KILL) to the instance's process group; restart after a delay.
    Kill {
        /// Signal number.
        signal: i32,
        /// Restart the instance after this delay.
        restart_after: Option<Duration>,
    },
    /// Start a stopped instance again (same ports).
    Restart,
    /// SIGSTOP the process group (SIGCONT after `for`).
    Pause,
    /// SIGCONT.
    Resume,
    /// Admin API: health route fails (healthy again after `for`).
    Unhealthy,
    /// Admin API: health route passes.
    Healthy,
    /// Admin API: multiply latencies by `factor` (back to 1 after `for`).
    Latency(f64),
    /// Admin API: stop accepting connections (resume after `for`).
    StopAccepting,
    /// Admin API: accept again.
    ResumeAccepting,
    /// Admin API: crash one worker.
    CrashWorker,
    /// Admin API: crash every worker (the supervisor keeps the listening socket).
    CrashWorkers,
    /// A `[[service]]`: the runner holds this many idle client connections (released after
    /// `for`), so the server's connection limit is reached.
    HoldConnections(u32),
    /// A PostgreSQL `[[service]]`: the runner takes `ACCESS EXCLUSIVE` on this table in an
    /// open transaction (released after `for`), so every query on it waits in the server.
    LockTable(String),
    /// A Redis `[[service]]`: the runner sends one command that runs this long (`DEBUG
    /// SLEEP`), so the single-threaded server answers nobody meanwhile (a slow query).
    SlowQuery(Duration),
    /// Reload the proxy with another config template (SIGHUP).
    Reload(PathBuf),
    /// A network fault on a link, carried out by the in-path relay (removed after `for`).
    Toxic(proxylab_relay::ToxicSpec),
}

/// What a fault acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// The proxy.
    Proxy,
    /// Every instance of a pool.
    Pool(String),
    /// One instance.
    Instance(String, u32),
    /// A network hop (`link:…`), relayed.
    Link(Hop),
    /// A `[[service]]` (kill, restart, pause, resume).
    Service(String),
}

/// A network hop a relay can sit on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hop {
    /// `loadgen->proxy`: every proxy listener the populations use (with proxy `none`, the
    /// instances they hit instead).
    ClientProxy,
    /// `proxy->POOL`: every instance of the pool.
    ProxyPool(String),
    /// `proxy->POOL.I`: one instance.
    ProxyInstance(String, u32),
    /// `apps->SERVICE`: every upstream's connections to a `[[service]]` (the URL the apps get
    /// names the relay).
    AppsService(String),
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hop::ClientProxy => write!(f, "loadgen->proxy"),
            Hop::ProxyPool(p) => write!(f, "proxy->{p}"),
            Hop::ProxyInstance(p, i) => write!(f, "proxy->{p}.{i}"),
            Hop::AppsService(s) => write!(f, "apps->{s}"),
        }
    }
}

/// `[[fault]]`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// When, from the start of the load.
    pub at: Duration,
    /// What.
    pub action: FaultAction,
    /// On what.
    pub target: FaultTarget,
    /// Undo after this long (pause, unhealthy, latency, stop_accepting).
    pub undo_after: Option<Duration>,
    /// Marker label on plots.
    pub label: String,
}

/// `[[phase]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Name.
    pub name: String,
    /// Start offset.
    pub start: Duration,
    /// End offset (exclusive).
    pub end: Duration,
}

/// `[[assert]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    /// Display name (default: the expression).
    pub name: String,
    /// The metric.
    pub metric: super::metric::Metric,
    /// Phase name (None = whole run).
    pub phase: Option<String>,
    /// Population (None = all).
    pub population: Option<String>,
    /// Comparison.
    pub op: super::metric::Op,
    /// Limit in the metric's unit (µs for latency, fraction for rates, % for CPU, MiB for RSS).
    pub limit: f64,
    /// The line in the file (1-based) for messages.
    pub line: usize,
}

/// A `[[variant]]` as listed in the file.
#[derive(Debug, Clone)]
pub struct VariantInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Part of the default comparison set (false: a modifier such as `ci`, applied on request).
    pub compare: bool,
    /// Whether `--ci` runs it in the default comparison set (default: `compare`; false for a
    /// comparison CI can do without: one a test already makes, or one whose outcome is not
    /// the proxy's).
    pub ci_compare: bool,
    /// Its overrides, one `path = value` per entry.
    pub set: Vec<String>,
}
