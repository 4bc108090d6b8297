//! The summary JSON: per population and overall, with exactly the keys other tools read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole summary file: `{"overall": {...}, "populations": {"name": {...}}, "details": {...}}`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// All populations together (histograms merged, counters summed).
    pub overall: PopulationSummary,
    /// One entry per population, by name.
    pub populations: BTreeMap<String, PopulationSummary>,
    /// Extra figures per population (service time, behaviour outcomes); free-form keys.
    #[serde(default)]
    pub details: BTreeMap<String, Details>,
}

/// The figures of one population (or of the whole run). Field names are a contract.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PopulationSummary {
    /// Requests (sessions) started: written to the wire, or failed while connecting.
    pub sent: u64,
    /// Requests that got a complete response (any status), or sessions that ended normally.
    pub completed: u64,
    /// Responses by status code (`"200"` → count).
    pub status: BTreeMap<String, u64>,
    /// Failures by kind (`connect_refused`, `connect_timeout`, `reset`, `read_timeout`, `tls`,
    /// `protocol`, `truncated`, `corrupt`, …) → count.
    pub errors: BTreeMap<String, u64>,
    /// Latency from the intended send time to the end of the response, microseconds.
    pub latency_us: Percentiles,
    /// Seconds from the population's first to its last activity.
    pub duration_s: f64,
    /// `completed / duration_s`.
    pub achieved_rate: f64,
    /// How late the generator started requests against its schedule, microseconds.
    pub schedule_lag_us: Lag,
}

/// Latency percentiles in microseconds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

/// Schedule lag in microseconds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lag {
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

/// Extra per-population figures (not part of the fixed contract above).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Details {
    /// Behaviour name.
    pub behaviour: String,
    /// Service time (actual send to end of response), microseconds.
    pub service_time_us: Percentiles,
    /// Requests that waited for a free connection (open loop with `max_connections`).
    pub waited_for_connection: u64,
    /// Connections opened.
    pub connections_opened: u64,
    /// How sessions ended (slow clients, WebSockets): outcome (`closed_by_server`,
    /// `reset`, `status_408`, `ws_close_1001`, `held_to_end`, …) → count.
    pub outcomes: BTreeMap<String, u64>,
    /// How long the server kept slow / idle / WebSocket connections, microseconds.
    pub held_us: Percentiles,
    /// WebSocket echo round-trip time, microseconds (ws_chatty).
    pub ws_rtt_us: Percentiles,
    /// Bodies verified against `x-body-sha256`.
    pub bodies_verified: u64,
    /// Outcomes per client address, when the population has `source_addresses`: address →
    /// status code (`"429"`) or error kind (`"reset"`) → count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_source: BTreeMap<String, BTreeMap<String, u64>>,
    /// Response headers the population records (`record_headers`): `name: value` → count of
    /// header lines (a response with two Cache-Control lines counts two).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, u64>,
    /// The run's histograms (`latency`, `service`, `lag`, `held`, `ws_rtt`), V2-deflate
    /// serialized and hex-encoded, so that `proxylab loadgen merge` can merge shards exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hdr: BTreeMap<String, String>,
}
