//! Metrics: cheap process-wide counters (atomics only on the request path) and the
//! Prometheus text rendered by `proxylab_status`.

pub mod counters;
pub mod prometheus;

pub use counters::{StatusCounts, WebSocketGuard, websockets_open};
pub use prometheus::render;
