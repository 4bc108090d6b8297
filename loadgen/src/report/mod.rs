//! Human output: the live progress line (TTY only) and the final wrk-like text summary.

pub mod progress;
pub mod text;
