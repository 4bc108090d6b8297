//! Load generator: open and closed loop, slow clients, WebSockets, HDR histograms.
//!
//! The library holds all the logic; `src/main.rs` and the `proxylab loadgen` subcommand are thin
//! wrappers around [`cli::main`].

pub mod cli;
