//! Active health checks (nginx Plus's `health_check` and `match {}`): parameters, response
//! matching, the HTTP probe, and one checker task per upstream group that marks peers
//! unhealthy after `fails` failed probes and healthy again after `passes` good ones.

mod checker;
mod conf;
mod manager;
mod matcher;
mod params;
mod probe;

pub use conf::HealthConf;
pub use manager::Manager;
pub use matcher::{MatchBlock, parse_match};
pub use params::HealthParams;
pub use probe::{ProbeOutcome, probe};
