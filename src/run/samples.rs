//! The runner's own time series: one row per sample (CPU%, RSS, proxy status, fake counters),
//! keyed by column name, e.g. `cpu.proxy`, `rss.api.0`, `proxy.active`, `up.api.in_flight`.
//!
//! During a run each sample is appended to `samples.csv` in the run directory as it is taken
//! ([`SampleLog`]); only the latest one stays in memory, so the runner's memory does not grow
//! with the length of the run. After the run the file is read back into [`Samples`], a dense
//! table with interned column names (8 bytes per value: 3600 rows of 40 columns ≈ 1.2 MB).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// One sample as taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the start of the load.
    pub t: f64,
    /// Column → value.
    pub values: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default)]
struct Row {
    t: f64,
    /// By column index; NaN = no value. Shorter than `names` when columns appeared later.
    vals: Vec<f64>,
}

/// Mean and maximum of a per-interval rate over a window ([`Samples::rate_stats`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStats {
    /// Time-weighted mean.
    pub mean: f64,
    /// Largest value of an interval of at least 0.5 s mostly in the window.
    pub max: f64,
}

/// Every sample of a run, in time order.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    names: Vec<String>,
    index: HashMap<String, usize>,
    rows: Vec<Row>,
}

impl Samples {
    fn intern(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// Appends a sample (time order is the caller's).
    pub fn push(&mut self, s: &Sample) {
        let mut vals = Vec::new();
        for (k, v) in &s.values {
            let i = self.intern(k);
            if vals.len() <= i {
                vals.resize(i + 1, f64::NAN);
            }
            vals[i] = *v;
        }
        self.rows.push(Row { t: s.t, vals });
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True without any sample.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn get(&self, r: &Row, col: &str) -> Option<f64> {
        let i = *self.index.get(col)?;
        r.vals.get(i).copied().filter(|v| !v.is_nan())
    }

    /// Values of `col` at `from <= t < to` (samples after the first, whose CPU% has no base).
    pub fn values(&self, col: &str, from: f64, to: f64) -> Vec<f64> {
        self.rows
            .iter()
            .filter(|r| r.t >= from && r.t < to)
            .filter_map(|r| self.get(r, col))
            .collect()
    }

    /// Time-weighted mean and maximum of `col` over `[from, to]`, for columns that are a rate
    /// over the time since the previous sample (CPU%): each sample stands for the interval from
    /// the previous sample that has `col` to its own time, weighted by how much of that interval
    /// lies in the window. The first sample has no interval and is left out. The maximum takes
    /// only intervals of at least half a second that lie mostly in the window: a 50 ms interval
    /// (the last sample, taken while the run stops) holding one 10 ms clock tick reads 20 %.
    pub fn rate_stats(&self, col: &str, from: f64, to: f64) -> Option<RateStats> {
        let pts = self.points(col);
        let (mut sum, mut weight, mut max) = (0.0, 0.0, None::<f64>);
        for w in pts.windows(2) {
            let ((t0, _), (t1, v)) = (w[0], w[1]);
            let len = t1 - t0;
            let overlap = t1.min(to) - t0.max(from);
            if len <= 0.0 || overlap <= 0.0 {
                continue;
            }
            sum += v * overlap;
            weight += overlap;
            if len >= 0.5 && overlap >= len / 2.0 {
                max = Some(max.map_or(v, |m| m.max(v)));
            }
        }
        (weight > 0.0).then(|| RateStats {
            mean: sum / weight,
            max: max.unwrap_or(sum / weight),
        })
    }

    /// `(t, value)` of every sample that has `col`.
    pub fn points(&self, col: &str) -> Vec<(f64, f64)> {
        self.rows
            .iter()
            .filter_map(|r| self.get(r, col).map(|v| (r.t, v)))
            .collect()
    }

    /// `(column, value)` of every sample at `from <= t < to`, sample by sample.
    pub fn cells(&self, from: f64, to: f64) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.rows
            .iter()
            .filter(move |r| r.t >= from && r.t < to)
            .flat_map(|r| {
                r.vals
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| !v.is_nan())
                    .map(|(i, v)| (self.names[i].as_str(), *v))
            })
    }

    /// Every column name, sorted.
    pub fn columns(&self) -> Vec<String> {
        let mut c = self.names.clone();
        c.sort();
        c
    }

    /// Adds `dt` seconds to every sample's time.
    pub fn shift(&mut self, dt: f64) {
        for r in &mut self.rows {
            r.t += dt;
        }
    }

    /// Reads a file written by [`SampleLog`]. Unreadable lines are skipped.
    pub fn read_log(path: &Path) -> std::io::Result<Samples> {
        let text = std::fs::read_to_string(path)?;
        let mut out = Samples::default();
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut cols: Vec<usize> = Vec::new();
        for rec in rd.records().flatten() {
            let mut f = rec.iter();
            match f.next() {
                Some("columns") => cols = f.map(|n| out.intern(n)).collect(),
                Some(t) => {
                    let Ok(t) = t.parse::<f64>() else { continue };
                    let mut vals = vec![f64::NAN; out.names.len()];
                    for (k, v) in f.enumerate() {
                        if let (Some(i), Ok(v)) = (cols.get(k), v.parse::<f64>()) {
                            vals[*i] = v;
                        }
                    }
                    out.rows.push(Row { t, vals });
                }
                None => {}
            }
        }
        Ok(out)
    }
}

/// Appends samples to a file as they are taken: `columns,NAME,…` records declare the column
/// list (repeated, extended, when a new column appears), `T,V,…` records are samples (`T` in
/// seconds on the runner's clock, empty = no value). Keeps only the latest sample in memory.
#[derive(Debug)]
pub struct SampleLog {
    names: Vec<String>,
    index: HashMap<String, usize>,
    out: std::io::BufWriter<std::fs::File>,
    last: Option<Sample>,
    /// The first write error, if any (later samples are dropped).
    pub error: Option<String>,
}

impl SampleLog {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> std::io::Result<SampleLog> {
        Ok(SampleLog {
            names: Vec::new(),
            index: HashMap::new(),
            out: std::io::BufWriter::new(std::fs::File::create(path)?),
            last: None,
            error: None,
        })
    }

    /// Writes `s` with time `t` (seconds) and keeps it as the latest sample.
    pub fn append(&mut self, t: f64, s: Sample) {
        let before = self.names.len();
        for k in s.values.keys() {
            if !self.index.contains_key(k) {
                self.index.insert(k.clone(), self.names.len());
                self.names.push(k.clone());
            }
        }
        if self.error.is_none() {
            let mut line = String::with_capacity(16 + 12 * self.names.len());
            if self.names.len() != before {
                line.push_str("columns");
                for n in &self.names {
                    line.push(',');
                    line.push_str(n);
                }
                line.push('\n');
            }
            line.push_str(&format!("{t:.6}"));
            let mut vals = vec![None; self.names.len()];
            for (k, v) in &s.values {
                vals[self.index[k]] = Some(*v);
            }
            for v in vals {
                line.push(',');
                if let Some(v) = v {
                    line.push_str(&fmt_value(v));
                }
            }
            line.push('\n');
            if let Err(e) = self
                .out
                .write_all(line.as_bytes())
                .and_then(|()| self.out.flush())
            {
                self.error = Some(e.to_string());
            }
        }
        self.last = Some(s);
    }

    /// The latest sample.
    pub fn last(&self) -> Option<&Sample> {
        self.last.as_ref()
    }
}

/// Integers as such, others with 4 decimals (trailing zeros dropped).
fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, kv: &[(&str, f64)]) -> Sample {
        Sample {
            t,
            values: kv.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn log_round_trips_with_columns_appearing_later() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("samples.csv");
        let mut log = SampleLog::create(&p).unwrap();
        log.append(0.5, sample(0.5, &[("cpu.proxy", 1.5), ("rss.proxy", 9.25)]));
        log.append(
            1.5,
            sample(1.5, &[("cpu.proxy", 2.0), ("up.api.in_flight", 3.0)]),
        );
        log.append(2.5, sample(2.5, &[("rss.proxy", 10.0)]));
        assert_eq!(log.last().map(|s| s.t), Some(2.5));
        assert!(log.error.is_none());
        let s = Samples::read_log(&p).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.values("cpu.proxy", 0.0, 10.0), [1.5, 2.0]);
        assert_eq!(s.points("rss.proxy"), [(0.5, 9.25), (2.5, 10.0)]);
        assert_eq!(s.values("up.api.in_flight", 0.0, 1.0), Vec::<f64>::new());
        assert_eq!(s.values("up.api.in_flight", 1.0, 2.0), [3.0]);
        assert_eq!(s.columns(), ["cpu.proxy", "rss.proxy", "up.api.in_flight"]);
        let cells: Vec<(&str, f64)> = s.cells(1.0, 3.0).collect();
        assert_eq!(
            cells,
            [
                ("cpu.proxy", 2.0),
                ("up.api.in_flight", 3.0),
                ("rss.proxy", 10.0)
            ]
        );
    }

    #[test]
    fn values_are_written_short() {
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(2.9054823915), "2.9055");
        assert_eq!(fmt_value(16.46875), "16.4688");
        assert_eq!(fmt_value(0.5), "0.5");
        assert_eq!(fmt_value(f64::NAN), "NaN");
    }

    #[test]
    fn rate_stats_weigh_intervals_and_ignore_a_short_last_one_for_the_max() {
        let mut s = Samples::default();
        for (t, v) in [
            (0.0, 0.0),
            (1.0, 10.0),
            (2.0, 0.0),
            (3.0, 2.0),
            (3.05, 20.0),
        ] {
            s.push(&sample(t, &[("cpu.x", v)]));
        }
        // [1, 3]: intervals (1,2] = 0 and (2,3] = 2, plus 0.05 s of the 20 % one outside.
        let r = s.rate_stats("cpu.x", 1.0, 3.0).unwrap();
        assert_eq!((r.mean, r.max), (1.0, 2.0));
        // The whole run: the short last interval counts by its length, never as the maximum.
        let r = s.rate_stats("cpu.x", 0.0, 10.0).unwrap();
        assert!((r.mean - 13.0 / 3.05).abs() < 1e-9, "{r:?}");
        assert_eq!(r.max, 10.0);
        // 40 % of (0,1] lies in [0.5, 0.9]: too little for the maximum, which is then the mean.
        let r = s.rate_stats("cpu.x", 0.5, 0.9).unwrap();
        assert_eq!((r.mean, r.max), (10.0, 10.0));
        assert!(s.rate_stats("cpu.x", 5.0, 6.0).is_none());
        assert!(s.rate_stats("cpu.y", 0.0, 6.0).is_none());
    }

    #[test]
    fn push_and_shift() {
        let mut s = Samples::default();
        s.push(&sample(1.0, &[("a", 1.0)]));
        s.push(&sample(2.0, &[("b", 2.0), ("a", 3.0)]));
        s.shift(-0.25);
        assert_eq!(s.points("a"), [(0.75, 1.0), (1.75, 3.0)]);
        assert_eq!(s.points("b"), [(1.75, 2.0)]);
    }
}
