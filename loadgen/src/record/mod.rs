//! Recording: per-thread counters and HDR histograms, merged each second into the series,
//! the interval log and the summary.

pub mod build;
pub mod hlog;
pub mod series;
pub mod stats;
pub mod summary;
pub mod thread;

pub use stats::Stats;
pub use thread::{Rec, ThreadRec};
