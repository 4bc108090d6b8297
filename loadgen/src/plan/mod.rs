//! The `Plan`: a complete, serde-(de)serializable description of one load-generator run.
//!
//! A plan is what `proxylab loadgen --plan FILE.toml` reads and what the scenario runner writes;
//! the ordinary flags (`URL --rate … --connections …`) build a one-population plan. Every key is
//! documented in `docs/loadgen.md`. Unknown keys are errors (`deny_unknown_fields`); durations
//! are humantime strings (`"10s"`, `"250ms"`). [`Plan::validate`] checks everything that can be
//! checked before a run starts.

mod behaviour;
mod dur;
mod load;
mod shard;
mod stage_syntax;
mod target;
mod validate;

pub use behaviour::{Behaviour, TlsCipherClass, TlsVersion};
pub use dur::Dur;
pub use load::{Arrivals, ConnectionPolicy, Load, Stage};
pub use shard::{INDEX_ENV, index_from, index_from_env, parse_shard};
pub use stage_syntax::parse_stage;
pub use target::Target;
pub use validate::PlanError;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One run of the load generator: targets, protocol, bounds, populations and outputs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Base URLs (`http://`, `https://`, `ws://`, `wss://`); connections are spread over them
    /// round robin. At least one, unless every population sets its own `targets`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Wire protocol for HTTP requests. Default `h1`.
    #[serde(default)]
    pub protocol: Protocol,
    /// TLS options for `https://` / `wss://` targets.
    #[serde(default)]
    pub tls: TlsOptions,
    /// Hard bound on the whole run, from the start of the first population. Default `"10s"`.
    #[serde(default = "default_duration")]
    pub duration: Dur,
    /// Bound on requests sent over all populations. Default: unbounded (the duration bounds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// TCP (+TLS) connect timeout. Default `"5s"`.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Dur,
    /// Time from send to the end of the response body after which a request counts as a
    /// `read_timeout` error. Default `"30s"`.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Dur,
    /// Worker threads (each runs its own single-threaded runtime). Default 0 = one per CPU.
    #[serde(default)]
    pub threads: usize,
    /// Seed for Poisson arrivals, `{rand}` and request-mix choices. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Where to write results (all optional).
    #[serde(default)]
    pub output: Output,
    /// The client populations, run concurrently (TOML: `[[population]]`).
    #[serde(rename = "population")]
    pub populations: Vec<Population>,
}

/// Wire protocol of HTTP requests.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 (over TLS for `https://`).
    #[default]
    H1,
    /// HTTP/2 over TLS, negotiated with ALPN (`https://` targets only).
    H2,
    /// HTTP/2 over cleartext TCP with prior knowledge (`http://` targets only).
    H2c,
}

/// TLS client options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust. Default: none (use `insecure` for self-signed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. Default false.
    #[serde(default)]
    pub insecure: bool,
    /// Server name sent in SNI and checked in the certificate. Default: the target's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

/// Output files. The series CSV and the hlog are written as the run goes (one flushed second at
/// a time); the summary JSON at the end.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Summary JSON (per population and overall; shape in docs/loadgen.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_json: Option<PathBuf>,
    /// One row per second per population (and `all`); columns in docs/loadgen.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_csv: Option<PathBuf>,
    /// HdrHistogram interval log, one latency histogram per population per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hlog: Option<PathBuf>,
}

/// A group of clients with one load model, connection policy, request mix and behaviour.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Unique name, used in outputs. Letters, digits, `-`, `_`.
    pub name: String,
    /// Offset from the start of the run. Default `"0s"`.
    #[serde(default)]
    pub start: Dur,
    /// How long it runs after `start`. Default: until the end of the run (for open loop: the
    /// sum of the stage durations, capped by the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// Bound on requests (sessions) this population starts. Default: unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// Overrides the plan's `targets` for this population.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Open loop (arrival rate stages) or closed loop (N connections).
    pub load: Load,
    /// Keep-alive (default) or a new connection per request.
    #[serde(default)]
    pub connection: ConnectionPolicy,
    /// Weighted request mix (TOML: `[[population.requests]]`). Default: one `GET /`.
    #[serde(default = "default_requests")]
    pub requests: Vec<RequestSpec>,
    /// What each client does on the wire. Default `normal`.
    #[serde(default)]
    pub behaviour: Behaviour,
    /// Clients come from this many loopback addresses (each new connection binds one of
    /// them, drawn at random; see [`source_address`]). Default: the kernel's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_addresses: Option<u32>,
    /// Response headers whose values are counted (summary `details.NAME.headers`, `name: value`
    /// → header lines), e.g. `["cache-control", "expires"]`. HTTP/1.1 responses only; at most
    /// [`MAX_RECORD_HEADERS`]. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_headers: Vec<String>,
}

/// Most response headers a population may record.
pub const MAX_RECORD_HEADERS: usize = 8;

/// Most source addresses a population may use.
pub const MAX_SOURCE_ADDRESSES: u32 = 1_000_000;

/// Source address `i` (0-based) of a population: 127.A.B.C with C in 1..=254, spread so
/// that no two share an address and none is 127.0.0.1 (A starts at 1).
pub fn source_address(i: u32) -> std::net::Ipv4Addr {
    let c = 1 + (i % 254) as u8;
    let b = ((i / 254) % 256) as u8;
    let a = 1 + (i / (254 * 256)) as u8;
    std::net::Ipv4Addr::new(127, a, b, c)
}

/// One entry of a weighted request mix.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Relative weight in the mix. Default 1.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// HTTP method. Default `GET`.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query, appended to the target's path. `{seq}` becomes the request's sequence
    /// number in its population, `{rand}` a random u64. Default `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body of this many bytes (a repeating pattern). Exclusive with `body_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size: Option<u64>,
    /// Request body read from this file once at start. Exclusive with `body_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_file: Option<PathBuf>,
    /// Send `x-body-sha256` (hex SHA-256 of the request body) when there is a body. Default true.
    #[serde(default = "default_true")]
    pub body_checksum: bool,
}

impl Default for RequestSpec {
    fn default() -> Self {
        RequestSpec {
            weight: 1,
            method: default_method(),
            path: default_path(),
            headers: BTreeMap::new(),
            body_size: None,
            body_file: None,
            body_checksum: true,
        }
    }
}

fn default_duration() -> Dur {
    Dur::secs(10)
}
fn default_connect_timeout() -> Dur {
    Dur::secs(5)
}
fn default_request_timeout() -> Dur {
    Dur::secs(30)
}
fn default_requests() -> Vec<RequestSpec> {
    vec![RequestSpec::default()]
}
fn default_weight() -> u32 {
    1
}
fn default_method() -> String {
    "GET".to_string()
}
fn default_path() -> String {
    "/".to_string()
}
fn default_true() -> bool {
    true
}

impl Plan {
    /// Parses a TOML plan (no validation; call [`Plan::validate`]).
    pub fn from_toml_str(text: &str) -> Result<Plan, PlanError> {
        toml::from_str(text).map_err(|e| PlanError::Syntax(e.to_string()))
    }

    /// Reads, parses and validates a TOML plan file.
    pub fn load(path: &std::path::Path) -> Result<Plan, PlanError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PlanError::Io(format!("{}: {e}", path.display())))?;
        let plan = Plan::from_toml_str(&text)
            .map_err(|e| PlanError::Syntax(format!("{}: {e}", path.display())))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Renders the plan as TOML (the inverse of [`Plan::from_toml_str`]).
    pub fn to_toml_string(&self) -> Result<String, PlanError> {
        toml::to_string(self).map_err(|e| PlanError::Syntax(e.to_string()))
    }

    /// The targets of population `p`: its own, else the plan's.
    pub fn targets_of<'a>(&'a self, p: &'a Population) -> &'a [String] {
        p.targets.as_deref().unwrap_or(&self.targets)
    }

    /// When population `p` stops, as an offset from the start of the run: `start + duration`
    /// (default: the stages' total for open loop), capped by the run's `duration`.
    pub fn end_of(&self, p: &Population) -> std::time::Duration {
        let own = match (p.duration, &p.load) {
            (Some(d), _) => d.get(),
            (None, Load::Open { stages, .. }) => stages.iter().map(|s| s.duration().get()).sum(),
            (None, Load::Closed { .. }) => self.duration.get(),
        };
        (p.start.get() + own).min(self.duration.get())
    }
}

#[cfg(test)]
mod source_address_tests {
    use super::{MAX_SOURCE_ADDRESSES, source_address};

    #[test]
    fn source_addresses_are_distinct_loopback_and_never_localhost() {
        let mut seen = std::collections::HashSet::new();
        for i in (0..MAX_SOURCE_ADDRESSES)
            .step_by(17)
            .chain([MAX_SOURCE_ADDRESSES - 1])
        {
            let a = source_address(i);
            assert!(a.is_loopback() && a != std::net::Ipv4Addr::LOCALHOST, "{a}");
            assert!(a.octets()[3] != 0 && a.octets()[3] != 255, "{a}");
            assert!(seen.insert(a), "{i} -> {a} twice");
        }
    }
}
