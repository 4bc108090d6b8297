//! Load models (open loop with rate stages, closed loop) and connection policies of a population.

use super::Dur;
use serde::{Deserialize, Serialize};

/// How a population decides when to start work.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Load {
    /// Open loop: arrivals follow a global schedule of intended send times built from `stages`,
    /// whatever the responses do. Latency is measured from the intended time.
    Open {
        /// Rate stages, played one after the other from the population's `start`.
        stages: Vec<Stage>,
        /// Spacing of arrivals. Default `uniform`.
        #[serde(default)]
        arrivals: Arrivals,
        /// Cap on open connections (per run, split over threads). Requests that find no free
        /// connection wait for one and are counted as `waiting`. Default: no cap.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_connections: Option<u32>,
    },
    /// Closed loop: `connections` clients, each sending its next request when the previous one
    /// completes (plus `think_time`), like wrk.
    Closed {
        /// Number of concurrent clients (each with its own connection).
        connections: u32,
        /// Pause between a response and the next request. Default `"0s"`.
        #[serde(default)]
        think_time: Dur,
    },
}

/// Spacing of open-loop arrivals.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Evenly spaced at the current rate.
    #[default]
    Uniform,
    /// A Poisson process with the current rate (exponential gaps), seeded by the plan's `seed`.
    Poisson,
}

/// One stage of an open-loop rate schedule. Rates are in requests (sessions) per second.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stage {
    /// `rate` for `duration`.
    Constant {
        /// Requests per second.
        rate: f64,
        /// Length of the stage.
        duration: Dur,
    },
    /// Linear ramp from `from` to `to` over `duration`.
    Ramp {
        /// Rate at the start of the stage (req/s).
        from: f64,
        /// Rate at the end of the stage (req/s).
        to: f64,
        /// Length of the stage.
        duration: Dur,
    },
    /// Staircase from `from` to `to` in `steps` equal steps of `duration / steps` each
    /// (the first step runs at `from`, the last at `to`).
    Step {
        /// Rate of the first step (req/s).
        from: f64,
        /// Rate of the last step (req/s).
        to: f64,
        /// Number of steps (≥ 1; 1 means constant `from`).
        steps: u32,
        /// Length of the whole staircase.
        duration: Dur,
    },
    /// `base` rate, except `height` req/s (absolute, not added to `base`) from `at` to
    /// `at + hold` within the stage.
    Spike {
        /// Rate outside the spike (req/s).
        base: f64,
        /// Rate during the spike (req/s).
        height: f64,
        /// Start of the spike, from the start of the stage.
        at: Dur,
        /// Length of the spike.
        hold: Dur,
        /// Length of the whole stage (≥ `at + hold`).
        duration: Dur,
    },
}

impl Stage {
    /// Length of the stage.
    pub fn duration(&self) -> Dur {
        match self {
            Stage::Constant { duration, .. }
            | Stage::Ramp { duration, .. }
            | Stage::Step { duration, .. }
            | Stage::Spike { duration, .. } => *duration,
        }
    }

    /// Every rate the stage mentions (for validation).
    pub fn rates(&self) -> Vec<f64> {
        match self {
            Stage::Constant { rate, .. } => vec![*rate],
            Stage::Ramp { from, to, .. } | Stage::Step { from, to, .. } => vec![*from, *to],
            Stage::Spike { base, height, .. } => vec![*base, *height],
        }
    }
}

/// How requests use connections.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectionPolicy {
    /// Reuse connections; close one after `max_requests` requests. Default, unlimited.
    KeepAlive {
        /// Requests per connection before the client closes it. Default: unlimited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_requests: Option<u64>,
    },
    /// Open a new connection for every request (`Connection: close` is sent on HTTP/1.1).
    PerRequest {},
}

impl Default for ConnectionPolicy {
    fn default() -> Self {
        ConnectionPolicy::KeepAlive { max_requests: None }
    }
}
