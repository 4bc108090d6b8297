//! Results of a run: the loadgen's outputs read back, counts over windows, the proxy's access
//! logs, assertion verdicts.

pub mod access_log;
pub mod assertions;
pub mod clients;
pub mod counts;
pub mod loadgen_out;
mod measure;
mod summary_metrics;
