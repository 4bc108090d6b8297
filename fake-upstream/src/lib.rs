//! Fake Uvicorn: workers, limits, latency models, faults and a default httpbin-style app.
//!
//! The library holds all the logic; `src/main.rs` and the `proxylab upstream` subcommand are thin
//! wrappers around [`cli::main`]. The route-table types that scenario files embed are in
//! [`app::spec`] ([`app::AppSpec`]); see `docs/upstream.md` for the behaviour copied from uvicorn.

pub mod admin;
pub mod app;
pub mod bytes_body;
pub mod cli;
pub mod config;
pub mod latency;
pub mod protocol;
pub mod server;
pub mod settings;
pub mod shared;
pub mod supervisor;
mod sys;
pub mod wire;
pub mod worker;
