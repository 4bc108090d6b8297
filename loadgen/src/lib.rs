//! Load generator: open and closed loop, slow clients, WebSockets, HDR histograms.
//!
//! The library holds all the logic; `src/main.rs` and the `proxylab loadgen` subcommand are thin
//! wrappers around [`cli::main`]. A run is described by a [`plan::Plan`] and executed by
//! [`engine::run`]: one scheduler ([`schedule`] + the open/closed drivers), one transport
//! ([`transport`]), one recorder ([`record`]); [`behaviour`] says what a session does.

pub mod behaviour;
pub mod cli;
pub mod engine;
pub mod fdlimit;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod record;
pub mod report;
pub mod request;
pub mod schedule;
pub mod transport;
