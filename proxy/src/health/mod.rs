//! Active health checks (nginx Plus's `health_check` and `match {}`, configured in
//! `conf::health`): the HTTP probe, and one checker task per upstream group that marks peers
//! unhealthy after `fails` failed probes and healthy again after `passes` good ones.

mod checker;
mod manager;
mod probe;

pub use manager::Manager;
pub use probe::{ProbeOutcome, probe};
