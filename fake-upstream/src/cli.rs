//! Command-line interface of `proxylab upstream` (also the stand-alone `proxylab-upstream` binary):
//! the flags and their checks live in [`crate::settings`]; [`main`] picks the process's role
//! (a worker started by the supervisor, the supervisor, or a single server).

use crate::config::Supervisor;
pub use crate::settings::{Args, Settings, settings};
use std::process::ExitCode;

/// Runs `proxylab upstream` with parsed flags and returns the process exit code (2 for bad
/// flags or a bad route table).
pub fn main(args: Args) -> ExitCode {
    let s = match settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if let Some(env) = crate::protocol::WorkerEnv::from_env() {
        crate::server::run_worker_process(&s, env)
    } else if s.workers > 1 || s.supervisor == Supervisor::Gunicorn {
        crate::supervisor::run(&s)
    } else {
        crate::server::run_single(&s)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
