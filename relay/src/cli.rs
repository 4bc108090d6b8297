//! `proxylab relay`: the relay process. Prints `proxylab-relay control 127.0.0.1:PORT` when
//! its control channel accepts requests, then relays until it is signalled.

use crate::control::{Relay, serve};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `proxylab relay`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Control channel port on 127.0.0.1 (0 = a free one, printed on the ready line).
    #[arg(long, default_value_t = 0)]
    pub control_port: u16,
    /// Seed of the per-connection draws (toxicity, jitter, slice sizes).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Runtime threads (1 = a single-threaded runtime, enough for tens of thousands of
    /// requests per second on loopback).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Runs the relay.
pub fn main(args: Args) -> ExitCode {
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("proxylab relay: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    rt.block_on(async move {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.control_port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("proxylab relay: cannot listen on {addr}: {e}");
                return ExitCode::from(3);
            }
        };
        let Ok(local) = listener.local_addr() else {
            return ExitCode::from(3);
        };
        println!("{}{local}", crate::client::READY_PREFIX);
        let _ = std::io::stdout().flush();
        serve(Arc::new(Relay::new(args.seed)), listener).await;
        ExitCode::SUCCESS
    })
}
