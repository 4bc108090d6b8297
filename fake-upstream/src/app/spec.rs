//! The route table as written in TOML (`--app FILE`) or embedded in a scenario file: plain serde
//! types, stable and documented key by key. [`super::validate`] turns them into checked domain
//! types; nothing here is trusted until then.
//!
//! ```toml
//! include_default_routes = true          # keep /, /health, /sleep, ... after these routes
//!
//! [[routes]]
//! method = "GET"                         # default "GET"; "*" matches any method
//! path = "/api/items/{id}"               # literal segments and {param} segments
//! kind = "async"                         # async | blocking | threadpool | db
//! table = "orders"                       # db only: the table a `lock` fault makes it wait on
//! latency = { dist = "lognormal", median_ms = 20, p99_ms = 200 }
//! cpu_us = 150                           # spin this long on the worker per request
//! status = 200
//! body_bytes = 2048                      # or body = "text"; default {"message":"Hello World"}
//! headers = { "x-app" = "demo" }
//! faults = { error_500 = 0.01, reset = 0.001 }
//! require_headers = { host = "api.sivaro.com", "x-forwarded-for" = "*" }   # else 412
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole route table (`--app FILE`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// After the table's routes, also serve the default app (`/`, `/health`, `/sleep`, ...).
    /// Default `true`; the table's routes win when both match.
    #[serde(default = "yes")]
    pub include_default_routes: bool,
    /// Routes, matched in order; the first match answers.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

fn yes() -> bool {
    true
}

/// One route.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// HTTP method, upper case (default `GET`); `*` matches any method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path pattern: `/literal/{param}/...`; must start with `/`.
    pub path: String,
    /// Where the latency is spent (default `async`).
    #[serde(default)]
    pub kind: KindSpec,
    /// `db` routes only: the table the route's query reads. While the admin API holds a lock
    /// on it (`POST /faults/lock?table=NAME&state=on`, the runner's `lock_table` fault on a
    /// fake pool) the query waits with its pool connection checked out, as a query waits in
    /// PostgreSQL on a table another session locked; `--statement-timeout` cancels it.
    #[serde(default)]
    pub table: Option<String>,
    /// Latency distribution (default: none, i.e. fixed 0 ms).
    #[serde(default)]
    pub latency: Option<LatencySpec>,
    /// CPU time burnt on the worker's thread per request, in microseconds (default 0).
    #[serde(default)]
    pub cpu_us: u64,
    /// Response status (default 200).
    #[serde(default = "default_status")]
    pub status: u16,
    /// Response body text (default `{"message":"Hello World"}`). Excludes `body_bytes`.
    #[serde(default)]
    pub body: Option<String>,
    /// Response body of this many deterministic bytes, with an `x-body-sha256` header.
    #[serde(default)]
    pub body_bytes: Option<u64>,
    /// Content type (default `application/json` for `body`, `application/octet-stream` for
    /// `body_bytes`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Extra response headers (names are sent lower-case, before `content-length`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Stream the body without a length, i.e. `transfer-encoding: chunked` (default false).
    #[serde(default)]
    pub chunked: bool,
    /// This route is the health route that the admin API can turn unhealthy (503).
    #[serde(default)]
    pub health: bool,
    /// A WebSocket endpoint: an upgrade request (`GET` with `Upgrade: websocket`) on this
    /// route gets the echo of the built-in `/ws` (uvicorn's pings and close codes) instead of
    /// the route's response; plain requests get the response. Default false.
    #[serde(default)]
    pub websocket: bool,
    /// Fault rates for this route.
    #[serde(default)]
    pub faults: FaultSpec,
    /// Forwarded headers the app needs from the proxy: `host`, `x-forwarded-for`,
    /// `x-forwarded-proto`, each `"*"` (present) or the exact value; a request without them
    /// is answered 412 with the missing names.
    #[serde(default)]
    pub require_headers: BTreeMap<String, String>,
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_status() -> u16 {
    200
}

/// Where a route spends its latency, as in a FastAPI app.
#[derive(
    Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KindSpec {
    /// `async def` awaiting I/O: other requests on the worker proceed.
    #[default]
    Async,
    /// `async def` doing blocking work (CPU spin): the whole worker stalls.
    Blocking,
    /// `def` endpoint: runs in the 40-slot threadpool; the 41st waits for a slot.
    Threadpool,
    /// `def` endpoint holding a connection from the simulated SQLAlchemy QueuePool for the
    /// latency; when the pool is dry it waits `pool_timeout`, then FastAPI's 500.
    Db,
}

/// A latency distribution; all values in milliseconds, `dist` selects the family.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, schemars::JsonSchema)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum LatencySpec {
    /// Always `ms`.
    Fixed {
        /// Milliseconds, ≥ 0.
        ms: f64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound, ≥ 0.
        min_ms: f64,
        /// Upper bound, ≥ `min_ms`.
        max_ms: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean, ≥ 0.
        mean_ms: f64,
        /// Standard deviation, ≥ 0.
        stddev_ms: f64,
    },
    /// Log-normal given by its median and 99th percentile.
    Lognormal {
        /// Median, > 0.
        median_ms: f64,
        /// 99th percentile, ≥ `median_ms`.
        p99_ms: f64,
    },
    /// Pareto (type I): `scale_ms` is the minimum, `shape` the tail index (α).
    Pareto {
        /// Minimum value, > 0.
        scale_ms: f64,
        /// Tail index α, > 0 (smaller = heavier tail).
        shape: f64,
        /// Optional cap on samples.
        #[serde(default)]
        max_ms: Option<f64>,
    },
    /// A weighted mixture, e.g. bimodal: 95 % fast, 5 % slow.
    Mixture {
        /// The components; weights need not sum to 1 (they are normalised).
        parts: Vec<MixturePart>,
    },
}

/// One component of a mixture.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixturePart {
    /// Relative weight, > 0.
    pub weight: f64,
    /// The component's distribution.
    pub latency: LatencySpec,
}

/// Per-request fault probabilities (each in `[0, 1]`, sum ≤ 1), drawn after the latency.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Unhandled exception: FastAPI's 500 `Internal Server Error`, then the connection closes.
    #[serde(default)]
    pub error_500: f64,
    /// Connection reset (RST) instead of a response.
    #[serde(default)]
    pub reset: f64,
    /// Never answer (until the client goes away or shutdown cancels it).
    #[serde(default)]
    pub hang: f64,
    /// Send the head and half the body, then close (FIN).
    #[serde(default)]
    pub truncate: f64,
    /// Send the body `trickle_bytes` at a time every `trickle_interval_ms`.
    #[serde(default)]
    pub trickle: f64,
    /// Bytes per trickle step (default 1).
    #[serde(default = "default_trickle_bytes")]
    pub trickle_bytes: u64,
    /// Pause between trickle steps in milliseconds (default 100).
    #[serde(default = "default_trickle_interval")]
    pub trickle_interval_ms: f64,
}

impl Default for FaultSpec {
    fn default() -> Self {
        FaultSpec {
            error_500: 0.0,
            reset: 0.0,
            hang: 0.0,
            truncate: 0.0,
            trickle: 0.0,
            trickle_bytes: default_trickle_bytes(),
            trickle_interval_ms: default_trickle_interval(),
        }
    }
}

fn default_trickle_bytes() -> u64 {
    1
}

fn default_trickle_interval() -> f64 {
    100.0
}
