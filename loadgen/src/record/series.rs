//! The per-second series CSV, streamed: the header is written when the run starts and every
//! second's rows are appended and flushed as the second closes, so a parent process can follow
//! the file live. Status columns are a fixed set (200, 429, 500, 502, 503, 504)
//! plus `status_other`; if a code outside the set was seen, the file is rewritten once at the
//! end with a column for each such code in place of `status_other` (only those counts are kept
//! in memory, sparsely: one small map per row that has such a code, e.g. 101 or 404).
//! Recorded response headers (`record_headers`) are kept the same way and added by that
//! rewrite as one column per `name: value` seen, `header.NAME=VALUE` (responses of the second
//! whose NAME line had that value), after the other columns: the report splits the status
//! chart by them (e.g. by `X-Cache-Status`, nginx's `$upstream_cache_status`).

use crate::engine::collector::Row;
use crate::transport::ErrorKind;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Status codes that always have a column.
pub const FIXED_CODES: &[u16] = &[200, 429, 500, 502, 503, 504];

const GAUGES: [&str; 9] = [
    "in_flight",
    "open_connections",
    "waiting",
    "p50_us",
    "p90_us",
    "p99_us",
    "max_us",
    "lag_p99_us",
    "body_bytes",
];

/// An open, growing series CSV.
#[derive(Debug)]
pub struct SeriesWriter {
    path: PathBuf,
    out: csv::Writer<BufWriter<File>>,
    names: Vec<String>,
    /// Data row index → counts of codes outside `FIXED_CODES` (sparse).
    other: BTreeMap<u64, BTreeMap<u16, u64>>,
    /// Data row index → recorded headers (`name: value` → count; sparse).
    heads: BTreeMap<u64, BTreeMap<String, u64>>,
    next_row: u64,
    error: Option<String>,
}

fn header(extra: &[u16]) -> Vec<String> {
    let mut h: Vec<String> = ["second", "population", "sent", "completed"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    h.extend(FIXED_CODES.iter().map(|c| format!("status_{c}")));
    if extra.is_empty() {
        h.push("status_other".into());
    } else {
        h.extend(extra.iter().map(|c| format!("status_{c}")));
    }
    h.extend(ErrorKind::ALL.iter().map(|k| format!("err_{}", k.as_str())));
    h.extend(GAUGES.iter().map(|s| s.to_string()));
    h
}

impl SeriesWriter {
    /// Creates `path`, writes the header and flushes it; `names` are the population names.
    pub fn create(path: &Path, names: Vec<String>) -> std::io::Result<SeriesWriter> {
        let mut out = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        out.write_record(header(&[]))?;
        out.flush()?;
        Ok(SeriesWriter {
            path: path.to_path_buf(),
            out,
            names,
            other: BTreeMap::new(),
            heads: BTreeMap::new(),
            next_row: 0,
            error: None,
        })
    }

    fn record(&mut self, r: &Row) -> Vec<String> {
        let mut rec: Vec<String> = vec![
            r.second.to_string(),
            r.pop
                .and_then(|i| self.names.get(i).cloned())
                .unwrap_or_else(|| "all".into()),
            r.sent.to_string(),
            r.completed.to_string(),
        ];
        rec.extend(
            FIXED_CODES
                .iter()
                .map(|c| r.status.get(c).copied().unwrap_or(0).to_string()),
        );
        let other: BTreeMap<u16, u64> = r
            .status
            .iter()
            .filter(|(c, _)| !FIXED_CODES.contains(c))
            .map(|(c, n)| (*c, *n))
            .collect();
        rec.push(other.values().sum::<u64>().to_string());
        if !other.is_empty() {
            self.other.insert(self.next_row, other);
        }
        if !r.headers.is_empty() {
            self.heads.insert(self.next_row, r.headers.clone());
        }
        rec.extend(r.errors.iter().map(|e| e.to_string()));
        rec.extend(
            [r.in_flight, r.open_connections, r.waiting]
                .iter()
                .map(|v| v.to_string())
                .chain(
                    [
                        r.p50_us,
                        r.p90_us,
                        r.p99_us,
                        r.max_us,
                        r.lag_p99_us,
                        r.body_bytes,
                    ]
                    .iter()
                    .map(|v| v.to_string()),
                ),
        );
        rec
    }

    /// Appends one second's rows (populations, then `all`) and flushes them to the file.
    pub fn write_second(&mut self, rows: &[Row]) {
        if self.error.is_some() {
            return;
        }
        for r in rows {
            let rec = self.record(r);
            self.next_row += 1;
            if let Err(e) = self.out.write_record(&rec) {
                self.error = Some(e.to_string());
                return;
            }
        }
        if let Err(e) = self.out.flush() {
            self.error = Some(e.to_string());
        }
    }

    /// Flushes; rewrites the file if codes outside the fixed set or recorded headers were
    /// seen. Reports the first error met while writing.
    pub fn finish(mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())?;
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.other.is_empty() && self.heads.is_empty() {
            return Ok(());
        }
        rewrite(&self.path, &self.other, &self.heads).map_err(|e| e.to_string())
    }
}

/// The series column of a recorded header key (`name: value` → `header.name=value`).
pub fn header_column(key: &str) -> String {
    let (name, value) = key.split_once(": ").unwrap_or((key, ""));
    format!("header.{name}={value}")
}

/// Replaces `status_other` by one column per code in `other` (when any) and appends one column
/// per recorded header key in `heads`, streaming the file through a temporary next to it.
fn rewrite(
    path: &Path,
    other: &BTreeMap<u64, BTreeMap<u16, u64>>,
    heads: &BTreeMap<u64, BTreeMap<String, u64>>,
) -> std::io::Result<()> {
    let codes: Vec<u16> = other
        .values()
        .flat_map(|m| m.keys().copied())
        .collect::<BTreeSet<u16>>()
        .into_iter()
        .collect();
    let keys: Vec<&String> = heads
        .values()
        .flat_map(|m| m.keys())
        .collect::<BTreeSet<&String>>()
        .into_iter()
        .collect();
    let col = 4 + FIXED_CODES.len();
    let tmp = path.with_extension("csv.tmp");
    {
        let mut rd = csv::Reader::from_path(path)?;
        let mut w = csv::Writer::from_writer(BufWriter::new(File::create(&tmp)?));
        let mut names = header(&codes);
        names.extend(keys.iter().map(|k| header_column(k)));
        w.write_record(names)?;
        for (i, rec) in rd.records().enumerate() {
            let rec = rec?;
            let counts = other.get(&(i as u64));
            let mut out: Vec<String> = rec.iter().take(col).map(str::to_string).collect();
            if codes.is_empty() {
                out.push(rec.get(col).unwrap_or("0").to_string());
            }
            out.extend(codes.iter().map(|c| {
                counts
                    .and_then(|m| m.get(c))
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }));
            out.extend(rec.iter().skip(col + 1).map(str::to_string));
            let seen = heads.get(&(i as u64));
            out.extend(keys.iter().map(|k| {
                seen.and_then(|m| m.get(*k))
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }));
            w.write_record(&out)?;
        }
        w.flush()?;
        w.into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .flush()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(second: u64, status: &[(u16, u64)], headers: &[(&str, u64)]) -> Row {
        Row {
            second,
            pop: Some(0),
            sent: 3,
            completed: 3,
            status: status.iter().copied().collect(),
            errors: [0; ErrorKind::COUNT],
            in_flight: 0,
            open_connections: 1,
            waiting: 0,
            p50_us: 10,
            p90_us: 20,
            p99_us: 30,
            max_us: 40,
            lag_p99_us: 5,
            body_bytes: 7,
            headers: headers.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn recorded_headers_become_columns_after_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        let mut w = SeriesWriter::create(&path, vec!["web".into()]).unwrap();
        w.write_second(&[row(0, &[(200, 3)], &[("x-cache-status: MISS", 3)])]);
        w.write_second(&[row(1, &[(200, 2), (404, 1)], &[("x-cache-status: HIT", 2)])]);
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert!(head.contains(&"status_404") && !head.contains(&"status_other"));
        let n = head.len();
        assert_eq!(
            &head[n - 2..],
            ["header.x-cache-status=HIT", "header.x-cache-status=MISS"]
        );
        let first: Vec<&str> = lines.next().unwrap().split(',').collect();
        let second: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!((first[n - 2], first[n - 1]), ("0", "3"));
        assert_eq!((second[n - 2], second[n - 1]), ("2", "0"));
        assert_eq!(
            first[head.iter().position(|h| *h == "max_us").unwrap()],
            "40"
        );
    }

    #[test]
    fn headers_alone_keep_status_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        let mut w = SeriesWriter::create(&path, vec!["web".into()]).unwrap();
        w.write_second(&[row(0, &[(200, 3)], &[("x-cache-status: HIT", 3)])]);
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(head.len(), row.len());
        let other = head.iter().position(|h| *h == "status_other").unwrap();
        assert_eq!(row[other], "0");
        assert_eq!(*head.last().unwrap(), "header.x-cache-status=HIT");
        assert_eq!(*row.last().unwrap(), "3");
    }
}
