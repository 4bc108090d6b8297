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

/// Per-population latency histograms of every interval in an interval log.
#[derive(Debug, Default)]
pub struct HistLog {
    /// (start offset s, tag, histogram) per interval, in file order.
    pub intervals: Vec<(f64, String, Histogram<u64>)>,
}

impl HistLog {
    /// Reads an interval log (missing or unreadable file: empty).
    pub fn read(path: &Path) -> HistLog {
        let Ok(bytes) = std::fs::read(path) else {
            return HistLog::default();
        };
        let mut de = Deserializer::new();
        let mut start: Option<f64> = None;
        let mut intervals = Vec::new();
        for e in IntervalLogIterator::new(&bytes).flatten() {
            match e {
                LogEntry::StartTime(t) | LogEntry::BaseTime(t) => {
                    start.get_or_insert(t.as_secs_f64());
                }
                LogEntry::Interval(ilh) => {
                    let Ok(raw) =
                        base64::engine::general_purpose::STANDARD.decode(ilh.encoded_histogram())
                    else {
                        continue;
                    };
                    let Ok(h) = de.deserialize::<u64, _>(&mut raw.as_slice()) else {
                        continue;
                    };
                    let mut ts = ilh.start_timestamp().as_secs_f64();
                    // Absolute timestamps (seconds since the epoch) are made relative.
                    if let Some(s) = start
                        && ts >= s
                        && s > 1e9
                    {
                        ts -= s;
                    }
                    let tag = ilh
                        .tag()
                        .map_or("all".to_string(), |t| t.as_str().to_string());
                    intervals.push((ts, tag, h));
                }
            }
        }
        HistLog { intervals }
    }

    /// Tags present (populations, maybe `all`).
    pub fn tags(&self) -> Vec<String> {
        let mut t: Vec<String> = self.intervals.iter().map(|(_, t, _)| t.clone()).collect();
        t.sort();
        t.dedup();
        t
    }

    /// Merges the intervals starting in `[from, to)` seconds whose tag is `population`
    /// (None: the `all` tag when present, else every tag).
    pub fn merged(&self, population: Option<&str>, from: f64, to: f64) -> Option<Histogram<u64>> {
        let has_all = self.intervals.iter().any(|(_, t, _)| t == "all");
        let mut acc: Option<Histogram<u64>> = None;
        for (ts, tag, h) in &self.intervals {
            let want = match population {
                Some(p) => tag == p,
                None => !has_all || tag == "all",
            };
            if !want || *ts + 1e-6 < from || *ts >= to {
                continue;
            }
            let a = acc.get_or_insert_with(|| {
                let mut a = Histogram::<u64>::new(3).unwrap_or_else(|_| h.clone());
                a.auto(true);
                a
            });
            let _ = a.add(h);
        }
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
        assert_eq!(log.intervals.len(), 4);
        let h = log.merged(Some("web"), 1.0, 3.0).unwrap();
        assert_eq!(h.len(), 2);
        assert!(h.max() >= 2990 && h.max() <= 3010);
        assert!(log.merged(Some("nope"), 0.0, 9.0).is_none());
    }
}
