//! The outage battery: each probe turns the config into generated scenarios ([`scenario`]),
//! run by the same engine as `proxylab run` on our proxy and/or real nginx, and judged
//! ([`judge`]). A probe that does not apply to the file says why.

pub mod conclude;
mod edge;
mod headers;
mod http;
pub mod judge;
pub mod load;
mod pool;
mod response;
pub mod run;
pub mod scenario;
pub mod targets;
pub mod tls;

use super::finding::Finding;
use super::mapping::Mapping;
use super::model::Loc;
use super::model::Model;
pub use edge::deny_paths_of;
use scenario::Case;
use std::time::Duration;

/// The probes that run the fake Uvicorn even with `--app` / `--upstream-app`
/// ([`scenario::Case::needs_fake`]).
pub const FAKE_ONLY: &str = "headers, big-headers, body-size, deny-paths, cache-control, response-headers, sick-instance, slow-reader, websocket-idle";

/// Cases of a probe, or why it does not apply.
pub type Gen = Result<Vec<Case>, String>;

/// What the generators read.
pub struct Ctx<'a> {
    /// The config model.
    pub m: &'a Model<'a>,
    /// The mapping (listeners, pools).
    pub map: &'a Mapping,
    /// Short lengths.
    pub quick: bool,
    /// The static findings (some probes aim at them).
    pub findings: &'a [Finding],
    /// Uvicorn's keep-alive timeout assumed.
    pub upstream_keepalive: Duration,
}

/// One probe of the battery.
pub struct Probe {
    /// Name (`--probe`, docs/audit.md).
    pub name: &'static str,
    /// What it does, one line.
    pub what: &'static str,
    /// Its cases.
    pub cases: fn(&Ctx<'_>) -> Gen,
}

/// The battery, in report order.
pub const BATTERY: &[Probe] = &[
    Probe {
        name: "baseline",
        what: "capacity and latency per proxied location (closed loop, 4 clients)",
        cases: http::baseline,
    },
    Probe {
        name: "spike",
        what: "10x the base rate for a few seconds (rate-limited locations first)",
        cases: http::spike,
    },
    Probe {
        name: "headers",
        what: "GETs through each location that loses forwarded headers, the app requiring them (412 without)",
        cases: headers::headers,
    },
    Probe {
        name: "crash",
        what: "one upstream instance killed under GET and POST load",
        cases: http::crash,
    },
    Probe {
        name: "upstream-503",
        what: "each upstream instance at its --limit-concurrency: Uvicorn's 503s passed on or retried",
        cases: http::upstream_503,
    },
    Probe {
        name: "hung",
        what: "one upstream instance stopped: accepts, never answers (timeouts, retries)",
        cases: http::hung,
    },
    Probe {
        name: "sick-instance",
        what: "one upstream instance answers 503 to everything, the others are fine (GET and POST)",
        cases: pool::sick_instance,
    },
    Probe {
        name: "slow-instance",
        what: "one upstream instance answers every request about 1 s late, the others are fine (how many users wait)",
        cases: pool::slow_instance,
    },
    Probe {
        name: "keepalive-race",
        what: "POSTs on kept upstream connections just after the upstream's keep-alive timeout closed them (FIN passed on 1 s late)",
        cases: pool::keepalive_race,
    },
    Probe {
        name: "big-headers",
        what: "upstream response with a 6 KiB header (vs proxy_buffer_size)",
        cases: http::big_headers,
    },
    Probe {
        name: "body-size",
        what: "POST 1 KiB above and below client_max_body_size per location",
        cases: http::body_size,
    },
    Probe {
        name: "cache-control",
        what: "GETs to each location with expires and add_header Cache-Control: Cache-Control lines per response",
        cases: response::cache_control,
    },
    Probe {
        name: "response-headers",
        what: "GETs through each location whose own add_header drops the outer level's: the dropped headers counted",
        cases: response::response_headers,
    },
    Probe {
        name: "alias-traversal",
        what: "GET one directory above each alias a location without a trailing slash maps",
        cases: edge::alias_traversal,
    },
    Probe {
        name: "deny-paths",
        what: "request paths against every deny/return location: what they block and miss",
        cases: edge::deny_paths,
    },
    Probe {
        name: "redirect",
        what: "the HTTP→HTTPS redirect server",
        cases: edge::redirect,
    },
    Probe {
        name: "tls",
        what: "requests over the TLS listener (HTTP/2 kept)",
        cases: tls::tls,
    },
    Probe {
        name: "tls-versions",
        what: "one ClientHello per TLS version and cipher class: what the listener really offers",
        cases: tls::tls_versions,
    },
    Probe {
        name: "slowloris",
        what: "clients that never finish their headers, next to normal clients",
        cases: edge::slowloris,
    },
    Probe {
        name: "slow-upload",
        what: "request bodies trickled at 16 bytes/s, next to normal clients",
        cases: edge::slow_upload,
    },
    Probe {
        name: "slow-reader",
        what: "clients reading 2 MiB responses at 16 KiB/s, next to normal clients",
        cases: edge::slow_reader,
    },
    Probe {
        name: "reload",
        what: "a reload (SIGHUP, same config) under load",
        cases: edge::reload,
    },
    Probe {
        name: "websocket-idle",
        what: "idle WebSockets on each location that forwards Upgrade",
        cases: edge::websocket_idle,
    },
    Probe {
        name: "connections",
        what: "more idle connections than worker_connections, next to normal clients",
        cases: edge::connections,
    },
];

/// A case of `probe` aimed at location `l` through the listener that reaches it, `quick` or
/// `full` seconds long.
fn case(c: &Ctx<'_>, probe: &str, l: &Loc<'_>, quick: f64, full: f64) -> Option<Case> {
    let (li, front) = targets::reach(c.m, c.map, l)?;
    Some(Case {
        probe: probe.into(),
        label: l.label(),
        at: l.node.at(),
        duration: if c.quick { quick } else { full },
        listener: Some(li),
        front: Some(front),
        ..Case::default()
    })
}
