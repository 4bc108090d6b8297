//! The runner's own time series: one row per sample (CPU%, RSS, proxy status, fake counters),
//! keyed by column name, e.g. `cpu.proxy`, `rss.api.0`, `proxy.active`, `up.api.in_flight`.

use std::collections::BTreeMap;

/// One sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the start of the load.
    pub t: f64,
    /// Column → value.
    pub values: BTreeMap<String, f64>,
}

/// Every sample of a run (a 1-hour run at 1 s is 3600 small rows).
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// In time order.
    pub rows: Vec<Sample>,
}

impl Samples {
    /// Values of `col` at `from <= t < to` (samples after the first, whose CPU% has no base).
    pub fn values(&self, col: &str, from: f64, to: f64) -> Vec<f64> {
        self.rows
            .iter()
            .filter(|r| r.t >= from && r.t < to)
            .filter_map(|r| r.values.get(col).copied())
            .collect()
    }

    /// Every column name, sorted.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| r.values.keys().cloned())
            .collect();
        c.sort();
        c.dedup();
        c
    }
}
