//! Reverse proxy that reads an nginx.conf subset and behaves as nginx 1.22.
//!
//! The library holds all the logic; `src/main.rs` and the `proxylab proxy` subcommand are thin
//! wrappers around [`cli::main`].

pub mod balance;
pub mod cache;
pub mod cli;
pub mod conf;
pub mod filter;
pub mod health;
pub mod http;
pub mod limit_req;
pub mod live;
pub mod logs;
pub mod metrics;
pub mod phases;
pub mod request;
pub mod server;
pub mod static_files;
pub mod tls;
pub mod upstream;
pub mod vars;
