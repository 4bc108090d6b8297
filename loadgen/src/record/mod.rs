//! Recording: per-thread counters and HDR histograms, merged each second into the series,
//! the interval log and the summary.

pub mod summary;
