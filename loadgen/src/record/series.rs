//! The per-second series CSV, streamed: the header is written when the run starts and every
//! second's rows are appended and flushed as the second closes, so a parent process can follow
//! the file live. Status columns are a fixed set (200, 429, 500, 502, 503, 504)
//! plus `status_other`; if a code outside the set was seen, the file is rewritten once at the
//! end with a column for each such code in place of `status_other` (only those counts are kept
//! in memory, sparsely: one small map per row that has such a code, e.g. 101 or 404).

use crate::engine::collector::Row;
use crate::transport::ErrorKind;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Status codes that always have a column.
pub const FIXED_CODES: &[u16] = &[200, 429, 500, 502, 503, 504];

const GAUGES: [&str; 8] = [
    "in_flight",
    "open_connections",
    "waiting",
    "p50_us",
    "p90_us",
    "p99_us",
    "max_us",
    "lag_p99_us",
];

/// An open, growing series CSV.
#[derive(Debug)]
pub struct SeriesWriter {
    path: PathBuf,
    out: csv::Writer<BufWriter<File>>,
    names: Vec<String>,
    /// Data row index → counts of codes outside `FIXED_CODES` (sparse).
    other: BTreeMap<u64, BTreeMap<u16, u64>>,
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
        rec.extend(r.errors.iter().map(|e| e.to_string()));
        rec.extend(
            [r.in_flight, r.open_connections, r.waiting]
                .iter()
                .map(|v| v.to_string())
                .chain(
                    [r.p50_us, r.p90_us, r.p99_us, r.max_us, r.lag_p99_us]
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

    /// Flushes; rewrites the file if codes outside the fixed set were seen. Reports the first
    /// error met while writing.
    pub fn finish(mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())?;
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.other.is_empty() {
            return Ok(());
        }
        rewrite(&self.path, &self.other).map_err(|e| e.to_string())
    }
}

/// Replaces `status_other` by one column per code in `other`, streaming the file through a
/// temporary next to it.
fn rewrite(path: &Path, other: &BTreeMap<u64, BTreeMap<u16, u64>>) -> std::io::Result<()> {
    let codes: Vec<u16> = other
        .values()
        .flat_map(|m| m.keys().copied())
        .collect::<BTreeSet<u16>>()
        .into_iter()
        .collect();
    let col = 4 + FIXED_CODES.len();
    let tmp = path.with_extension("csv.tmp");
    {
        let mut rd = csv::Reader::from_path(path)?;
        let mut w = csv::Writer::from_writer(BufWriter::new(File::create(&tmp)?));
        w.write_record(header(&codes))?;
        for (i, rec) in rd.records().enumerate() {
            let rec = rec?;
            let counts = other.get(&(i as u64));
            let mut out: Vec<String> = rec.iter().take(col).map(str::to_string).collect();
            out.extend(codes.iter().map(|c| {
                counts
                    .and_then(|m| m.get(c))
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }));
            out.extend(rec.iter().skip(col + 1).map(str::to_string));
            w.write_record(&out)?;
        }
        w.flush()?;
        w.into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .flush()?;
    }
    std::fs::rename(&tmp, path)
}
