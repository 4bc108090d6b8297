//! Fake Uvicorn: workers, limits, latency models, faults and a default httpbin-style app.
//!
//! The library holds all the logic; `src/main.rs` and the `proxylab upstream` subcommand are thin
//! wrappers around [`cli::main`].

pub mod cli;
