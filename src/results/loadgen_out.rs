//! Reading the loadgen's outputs: the per-second series CSV (also while it grows), the
//! HdrHistogram interval log (merged per population over any time window) and the summary JSON.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use proxylab_loadgen::record::summary::Summary;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// One row of the series: one population (or `all`) in one second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesRow {
    /// Second index from the start of the run (row covers `[second, second+1)`).
    pub second: u32,
    /// Population name (`all` for the total row, when the loadgen writes one).
    pub population: String,
    /// Every numeric column by its header name.
    pub values: BTreeMap<String, f64>,
}

const TIME_COLS: &[&str] = &["second", "t", "time_s", "elapsed_s", "sec", "t_s"];
const POP_COLS: &[&str] = &["population", "pop", "name"];

/// Reads series rows from CSV text (header first). Unparsable rows are skipped.
pub fn parse_series(text: &str) -> Vec<SeriesRow> {
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let Ok(headers) = rd.headers().cloned() else {
        return Vec::new();
    };
    let idx = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let (Some(ti), pi) = (idx(TIME_COLS), idx(POP_COLS)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rec in rd.records().flatten() {
        let Some(second) = rec.get(ti).and_then(|s| s.trim().parse::<f64>().ok()) else {
            continue;
        };
        let population = pi
            .and_then(|i| rec.get(i))
            .unwrap_or("all")
            .trim()
            .to_string();
        let mut values = BTreeMap::new();
        for (i, h) in headers.iter().enumerate() {
            if i == ti || Some(i) == pi {
                continue;
            }
            if let Some(v) = rec.get(i).and_then(|s| s.trim().parse::<f64>().ok()) {
                values.insert(h.trim().to_string(), v);
            }
        }
        out.push(SeriesRow {
            second: second.max(0.0) as u32,
            population,
            values,
        });
    }
    out
}

/// Follows a growing CSV file: each call returns the complete rows added since the last.
#[derive(Debug, Default)]
pub struct SeriesTail {
    offset: u64,
    header: Option<String>,
    partial: String,
}

impl SeriesTail {
    /// New rows of `path` since the previous call.
    pub fn poll(&mut self, path: &Path) -> Vec<SeriesRow> {
        let Ok(mut f) = std::fs::File::open(path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = String::new();
        if f.take(8 << 20).read_to_string(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&buf);
        let Some(last_nl) = self.partial.rfind('\n') else {
            return Vec::new();
        };
        let complete: String = self.partial.drain(..=last_nl).collect();
        let mut lines = complete.lines();
        if self.header.is_none() {
            self.header = lines.next().map(str::to_string);
        }
        let Some(h) = &self.header else {
            return Vec::new();
        };
        let body: Vec<&str> = lines.collect();
        if body.is_empty() {
            return Vec::new();
        }
        parse_series(&format!("{h}\n{}\n", body.join("\n")))
    }
}

/// Percentiles of one second of latency, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    /// Requests recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

impl Quantiles {
    fn of(h: &Histogram<u64>) -> Quantiles {
        Quantiles {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

/// The loadgen's interval log, read with bounded memory: per-second percentiles are kept (a
/// few numbers per population and second), and any window is merged by streaming the file
/// again, never by holding every histogram (an hour-long run has thousands).
#[derive(Debug, Default)]
pub struct HistLog {
    path: Option<std::path::PathBuf>,
    tags: Vec<String>,
    /// (tag or None for all populations, second) → percentiles.
    per_second: BTreeMap<(Option<String>, u32), Quantiles>,
}

fn empty_hist() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap_or_else(|_| {
        Histogram::new_with_max(1 << 40, 2).unwrap_or_else(|_| unreachable_hist())
    });
    h.auto(true);
    h
}

fn unreachable_hist() -> Histogram<u64> {
    // Histogram::new(1) cannot fail; this keeps the code free of unwrap on the happy path.
    Histogram::new(1).unwrap_or_else(|_| panic!("hdrhistogram rejected sigfig 1"))
}

/// Calls `f(start_s, tag, histogram)` for every interval of the log at `path`.
fn for_each_interval(path: &Path, mut f: impl FnMut(f64, &str, &Histogram<u64>)) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    for (ts, tag, h) in intervals(&bytes) {
        f(ts, &tag, &h);
    }
}

/// The intervals of an interval log's bytes, in file order: (start in seconds from the log's
/// `StartTime`, tag or `all`, histogram). Undecodable intervals are skipped.
pub fn intervals(bytes: &[u8]) -> impl Iterator<Item = (f64, String, Histogram<u64>)> + '_ {
    let mut de = Deserializer::new();
    let mut start: Option<f64> = None;
    IntervalLogIterator::new(bytes)
        .flatten()
        .filter_map(move |e| match e {
            LogEntry::StartTime(t) | LogEntry::BaseTime(t) => {
                start.get_or_insert(t.as_secs_f64());
                None
            }
            LogEntry::Interval(ilh) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(ilh.encoded_histogram())
                    .ok()?;
                let h = de.deserialize::<u64, _>(&mut raw.as_slice()).ok()?;
                let mut ts = ilh.start_timestamp().as_secs_f64();
                // Absolute timestamps (seconds since the epoch) are made relative.
                if let Some(s) = start
                    && ts >= s
                    && s > 1e9
                {
                    ts -= s;
                }
                let tag = ilh.tag().map_or("all", |t| t.as_str()).to_string();
                Some((ts, tag, h))
            }
        })
}

impl HistLog {
    /// Reads an interval log (missing or unreadable file: empty).
    pub fn read(path: &Path) -> HistLog {
        let mut tags = std::collections::BTreeSet::new();
        let mut per_second = BTreeMap::new();
        let mut all: BTreeMap<u32, Histogram<u64>> = BTreeMap::new();
        let mut has_all_tag = false;
        for_each_interval(path, |ts, tag, h| {
            let sec = ts.max(0.0).round() as u32;
            tags.insert(tag.to_string());
            has_all_tag |= tag == "all";
            per_second.insert((Some(tag.to_string()), sec), Quantiles::of(h));
            let _ = all.entry(sec).or_insert_with(empty_hist).add(h);
            // Intervals come in time order: seconds well behind are final.
            while all.first_key_value().is_some_and(|(s, _)| s + 2 < sec) {
                if let Some((s, acc)) = all.pop_first() {
                    per_second.insert((None, s), Quantiles::of(&acc));
                }
            }
        });
        for (s, acc) in all {
            per_second.insert((None, s), Quantiles::of(&acc));
        }
        if has_all_tag {
            let from_tag: Vec<_> = per_second
                .iter()
                .filter(|((t, _), _)| t.as_deref() == Some("all"))
                .map(|((_, s), q)| (*s, *q))
                .collect();
            per_second.retain(|(t, _), _| t.is_some());
            for (s, q) in from_tag {
                per_second.insert((None, s), q);
            }
        }
        HistLog {
            path: Some(path.to_path_buf()),
            tags: tags.into_iter().collect(),
            per_second,
        }
    }

    /// Tags present (populations, maybe `all`).
    pub fn tags(&self) -> Vec<String> {
        self.tags.clone()
    }

    /// Percentiles of second `sec` for `population` (None: all populations).
    pub fn second(&self, population: Option<&str>, sec: u32) -> Option<Quantiles> {
        self.per_second
            .get(&(population.map(str::to_string), sec))
            .copied()
            .filter(|q| q.count > 0)
    }

    /// Merges the intervals starting in `[from, to)` seconds whose tag is `population`
    /// (None: the `all` tag when present, else every tag), streaming the file.
    pub fn merged(&self, population: Option<&str>, from: f64, to: f64) -> Option<Histogram<u64>> {
        let path = self.path.as_ref()?;
        let has_all = self.tags.iter().any(|t| t == "all");
        let mut acc: Option<Histogram<u64>> = None;
        for_each_interval(path, |ts, tag, h| {
            let want = match population {
                Some(p) => tag == p,
                None => !has_all || tag == "all",
            };
            if want && ts + 1e-6 >= from && ts < to {
                let _ = acc.get_or_insert_with(empty_hist).add(h);
            }
        });
        acc
    }
}

/// Reads the loadgen's summary JSON.
pub fn read_summary(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_csv() {
        let rows = parse_series(
            "second,population,sent,completed,status_200\n0,web,10,9,9\n1,web,10,10,10\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].second, 1);
        assert_eq!(rows[1].values["status_200"], 10.0);
    }

    #[test]
    fn tails_a_growing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        let mut t = SeriesTail::default();
        std::fs::write(&p, "second,population,sent\n0,a,1\n1,a").unwrap();
        assert_eq!(t.poll(&p).len(), 1);
        std::fs::write(&p, "second,population,sent\n0,a,1\n1,a,2\n2,a,3\n").unwrap();
        let r = t.poll(&p);
        assert_eq!(r.iter().map(|r| r.second).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn merges_interval_log_windows() {
        use hdrhistogram::serialization::V2DeflateSerializer;
        use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
        let mut buf = Vec::new();
        {
            let mut ser = V2DeflateSerializer::new();
            let mut w = IntervalLogWriterBuilder::new()
                .with_start_time(std::time::SystemTime::now())
                .begin_log_with(&mut buf, &mut ser)
                .unwrap();
            for s in 0..4u64 {
                let mut h = Histogram::<u64>::new(3).unwrap();
                h.record(1000 * (s + 1)).unwrap();
                w.write_histogram(
                    &h,
                    std::time::Duration::from_secs(s),
                    std::time::Duration::from_secs(1),
                    Tag::new("web"),
                )
                .unwrap();
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.hlog");
        std::fs::write(&p, &buf).unwrap();
        let log = HistLog::read(&p);
        assert_eq!(log.tags(), vec!["web".to_string()]);
        assert_eq!(log.second(Some("web"), 2).map(|q| q.count), Some(1));
        assert!(
            log.second(None, 3)
                .is_some_and(|q| q.max >= 3990 && q.max <= 4010)
        );
        let h = log.merged(Some("web"), 1.0, 3.0).unwrap();
        assert_eq!(h.len(), 2);
        assert!(h.max() >= 2990 && h.max() <= 3010);
        assert!(log.merged(Some("nope"), 0.0, 9.0).is_none());
    }
}
