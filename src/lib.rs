//! The scenario runner: scenario model, orchestration, sampling, faults, assertions and reports.
//!
//! `proxylab run` reads a scenario file, starts every component as its own process, applies the
//! fault timeline, samples the processes, checks the assertions and writes one run directory.

pub mod audit;
pub mod bench;
pub mod claims;
pub mod cli;
pub mod distributed;
pub mod doctor;
pub mod progress;
pub mod report;
pub mod results;
pub mod run;
pub mod run_cmd;
pub mod scenario;
