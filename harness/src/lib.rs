//! Launching the programs proxylab runs and measures, one implementation for the scenario
//! runner (`src/run/child.rs`), the benches (`src/bench/support.rs`) and the tests
//! (`testkit`): child processes in their own process group, whose stdout lines can be waited
//! for and which never outlive their owner ([`Child`]); free loopback ports and the wait for
//! one to accept ([`free_port`], [`wait_port`]); a real nginx on a temporary prefix
//! ([`nginx::start`]); a program given a small tmpfs in its own mount namespace, a full disk
//! on demand ([`in_limited_dir`]).

mod child;
mod limited;
mod net;
pub mod nginx;

pub use child::{Child, Tee};
pub use limited::in_limited_dir;
pub use net::{free_port, wait_port};
