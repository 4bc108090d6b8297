//! The fake FastAPI application: the route table (serde [`spec`], checked by [`validate`]) and
//! route matching. The built-in httpbin-style routes live in `crate::worker::builtin`.

mod behaviour;
pub mod require;
pub mod spec;
pub mod validate;

pub use spec::{AppSpec, FaultSpec, KindSpec, LatencySpec, MixturePart, RouteSpec};
pub use validate::AppError;

use crate::latency::Latency;
use bytes::Bytes;
use std::time::Duration;

/// Where a route spends its latency; see [`KindSpec`].
pub type Kind = KindSpec;

/// A checked application: table routes, then (optionally) the built-in default routes.
#[derive(Debug, Clone)]
pub struct App {
    /// Table routes in match order.
    pub routes: Vec<Route>,
    /// Serve the built-in routes when no table route matches.
    pub include_default_routes: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            routes: Vec::new(),
            include_default_routes: true,
        }
    }
}

/// A checked route.
#[derive(Debug, Clone)]
pub struct Route {
    /// `None` = any method.
    pub method: Option<String>,
    /// Path segments; `None` marks a `{param}` segment.
    pub segments: Vec<Option<String>>,
    /// Counter key, e.g. `GET /api/items/{id}`.
    pub name: String,
    /// Where the latency is spent.
    pub kind: Kind,
    /// The table a `db` route's query reads (a table lock makes it wait).
    pub table: Option<String>,
    /// Latency distribution.
    pub latency: Latency,
    /// CPU spin per request on the worker thread.
    pub cpu: Duration,
    /// Status code.
    pub status: u16,
    /// Response headers before `content-length`/`content-type`.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Bytes,
    /// Content type (None = none sent).
    pub content_type: Option<String>,
    /// Stream the body chunked.
    pub chunked: bool,
    /// Health route (admin can make it answer 503).
    pub health: bool,
    /// Upgrade requests on this route get the WebSocket echo.
    pub websocket: bool,
    /// Cumulative fault thresholds.
    pub faults: Faults,
    /// Forwarded headers the request must carry (else 412).
    pub require: Vec<require::Requirement>,
}

/// Fault probabilities as cumulative thresholds on one uniform draw.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Cumulative thresholds in the order error_500, reset, hang, truncate, trickle.
    pub cumulative: [f64; 5],
    /// Trickle step size in bytes.
    pub trickle_bytes: usize,
    /// Trickle pause.
    pub trickle_interval: Duration,
}

/// The fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// FastAPI 500 then close.
    Error500,
    /// RST.
    Reset,
    /// Never answer.
    Hang,
    /// Half the body, then FIN.
    Truncate,
    /// Slow body.
    Trickle,
}

impl Faults {
    /// True if no fault can ever be drawn.
    pub fn none(&self) -> bool {
        self.cumulative[4] <= 0.0
    }

    /// Maps a uniform draw in `[0, 1)` to a fault.
    pub fn pick(&self, u: f64) -> Option<Fault> {
        const ALL: [Fault; 5] = [
            Fault::Error500,
            Fault::Reset,
            Fault::Hang,
            Fault::Truncate,
            Fault::Trickle,
        ];
        self.cumulative.iter().position(|&c| u < c).map(|i| ALL[i])
    }
}

impl App {
    /// Finds the first table route matching `method` and `path`. Returns the route index.
    pub fn find(&self, method: &str, path: &str) -> Option<usize> {
        self.routes.iter().position(|r| r.matches(method, path))
    }

    /// Whether an upgrade request for `path` gets the WebSocket echo: a table route marked
    /// `websocket` matches it, or the default routes' `/ws` does.
    pub fn websocket_at(&self, path: &str) -> bool {
        match self.find("GET", path) {
            Some(i) => self.routes[i].websocket,
            None => self.include_default_routes && path == "/ws",
        }
    }

    /// Whether some table route has this path under another method (for 405).
    pub fn path_known(&self, path: &str) -> bool {
        self.routes.iter().any(|r| r.path_matches(path))
    }
}

impl Route {
    /// Method and path both match.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method) && self.path_matches(path)
    }

    /// The path matches (any method).
    pub fn path_matches(&self, path: &str) -> bool {
        let mut it = path.strip_prefix('/').unwrap_or(path).split('/');
        for seg in &self.segments {
            match (it.next(), seg) {
                (Some(p), Some(lit)) if p == lit => {}
                (Some(p), None) if !p.is_empty() => {}
                _ => return false,
            }
        }
        it.next().is_none()
    }
}
