//! The protocol between the supervisor and its worker processes: the environment a worker
//! is started with ([`WorkerEnv`]: index, inherited socket, parent, generation, faults in
//! force) and the lines a worker prints on stdout ([`WORKER_READY`], [`WORKER_FINAL`]). Both
//! sides (`server` for the worker, `supervisor` for the parent) import it.

use crate::shared::FaultState;

/// Environment variable marking a worker process: its index.
pub const ENV_WORKER: &str = "PROXYLAB_UPSTREAM_WORKER";
/// Environment variable: the inherited listening socket's fd.
pub const ENV_FD: &str = "PROXYLAB_UPSTREAM_FD";
/// Environment variable: the supervisor's pid.
pub const ENV_PARENT: &str = "PROXYLAB_UPSTREAM_PARENT";
/// Environment variable: how many workers were started before this one (restart generation).
pub const ENV_GENERATION: &str = "PROXYLAB_UPSTREAM_GENERATION";
/// Environment variable: the runtime faults in force (JSON [`FaultState`]).
pub const ENV_FAULTS: &str = "PROXYLAB_UPSTREAM_FAULTS";
/// Prefix of the line a worker prints on stdout once it serves.
pub const WORKER_READY: &str = "worker-ready admin=";

/// What the supervisor told a worker process through its environment.
#[derive(Debug, Clone)]
pub struct WorkerEnv {
    /// Worker index.
    pub index: u32,
    /// Inherited listening socket.
    pub fd: i32,
    /// Supervisor pid.
    pub parent: u32,
    /// Restart generation.
    pub generation: u64,
    /// Faults in force.
    pub faults: Option<FaultState>,
}

impl WorkerEnv {
    /// Reads the worker environment; `None` in a normal (non-worker) invocation.
    pub fn from_env() -> Option<WorkerEnv> {
        let index = std::env::var(ENV_WORKER).ok()?.parse().ok()?;
        let fd = std::env::var(ENV_FD).ok()?.parse().ok()?;
        let parent = std::env::var(ENV_PARENT).ok()?.parse().ok()?;
        let generation = std::env::var(ENV_GENERATION)
            .ok()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        let faults = std::env::var(ENV_FAULTS)
            .ok()
            .and_then(|j| serde_json::from_str(&j).ok());
        Some(WorkerEnv {
            index,
            fd,
            parent,
            generation,
            faults,
        })
    }
}

/// Prefix of the line a worker prints with its final counters just before it exits.
pub const WORKER_FINAL: &str = "worker-final ";
