//! Metrics: cheap process-wide counters (atomics only on the request path). The Prometheus
//! text of `proxylab_status` is rendered by the status page (`phases::prometheus`).

pub mod counters;

pub use counters::{StatusCounts, WebSocketGuard, websockets_open};
