//! Results of a run: the loadgen's outputs read back, counts over windows, assertion verdicts.

pub mod assertions;
pub mod clients;
pub mod counts;
pub mod loadgen_out;
