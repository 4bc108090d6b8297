//! Test helpers shared by proxylab's crates: reference programs (with the SKIPPED / CI rule),
//! real child processes that never leak, free ports, real nginx and the real fake upstream.
//!
//! Tests that need a reference program call [`require`]: on a machine without it they print
//! `SKIPPED: <what> not installed (<how to install>)` and return early; with
//! `PROXYLAB_REQUIRE_REFERENCES=1` (set by `.ci/run`) a missing reference fails the test.

mod bin;
mod net;
mod nginx;
mod proc;
/// The optional-program table of `proxylab doctor` (one source file, shared with the runner).
#[path = "../../src/doctor/programs.rs"]
pub mod programs;
mod reference;
mod upstream;

pub use bin::proxylab_bin;
pub use net::{free_port, raw_exchange, wait_for_port};
pub use nginx::Nginx;
pub use proc::Proc;
/// A program run with a small tmpfs in its own mount namespace (a full disk on demand).
pub use proxylab_harness::in_limited_dir;
pub use reference::{references_required, require, require_listed, require_python};
pub use upstream::FakeUpstream;
