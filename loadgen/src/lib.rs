//! Load generator: open and closed loop, slow clients, WebSockets, HDR histograms.
//!
//! The library holds all the logic; `src/main.rs` and the `proxylab loadgen` subcommand are thin
//! wrappers around [`cli::main`]. A run is described by a [`plan::Plan`].

pub mod cli;
pub mod plan;
pub mod record;
