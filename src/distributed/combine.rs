//! Adding shards together: interval logs second by second (HDR histograms added, so merged
//! percentiles are exact, never averages of percentiles), series rows summed with their
//! percentile columns recomputed from the merged histograms, and samples summed per interval.

use crate::results::loadgen_out::{HistLog, SeriesRow, intervals};
use crate::run::{Sample, Samples};
use hdrhistogram::Histogram;
use proxylab_loadgen::record::hlog::HlogWriter;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

/// One shard's interval log: its bytes and its offset (whole seconds) from the earliest
/// shard's clock origin.
#[derive(Debug)]
pub struct ShardLog {
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// Seconds to add to its interval times.
    pub offset: u64,
}

/// Writes the merged interval log to `out`: for each second and population, the sum of every
/// shard's histogram. Reads all shards in step, one second at a time (bounded memory).
pub fn merge_hlogs(
    shards: &[ShardLog],
    tags: &[String],
    origin: SystemTime,
    out: &Path,
) -> Result<(), String> {
    let mut w = HlogWriter::create(out, tags.to_vec(), origin)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let mut iters: Vec<_> = shards
        .iter()
        .map(|s| {
            intervals(&s.bytes)
                .map(move |(ts, tag, h)| (ts.max(0.0).round() as u64 + s.offset, tag, h))
                .peekable()
        })
        .collect();
    let mut sec = 0u64;
    loop {
        let mut acc: BTreeMap<usize, Histogram<u64>> = BTreeMap::new();
        let mut next: Option<u64> = None;
        for it in &mut iters {
            while let Some((s, _, _)) = it.peek() {
                if *s > sec {
                    next = Some(next.map_or(*s, |n: u64| n.min(*s)));
                    break;
                }
                let Some((_, tag, h)) = it.next() else { break };
                let Some(i) = tags.iter().position(|t| *t == tag) else {
                    continue;
                };
                let a = acc
                    .entry(i)
                    .or_insert_with(proxylab_loadgen::record::stats::histogram);
                a.add(&h).map_err(|e| format!("histogram merge: {e:?}"))?;
            }
        }
        for (i, h) in &acc {
            w.write(*i, sec, h);
        }
        match next {
            Some(n) => sec = n.max(sec + 1),
            None => break,
        }
    }
    w.finish()
}

/// Columns of the series that are not counts: recomputed or combined, never summed.
const PERCENTILES: [(&str, f64); 3] = [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99)];

/// Sums the shards' series rows by (second + offset, population); percentile columns come
/// from `hlog` (the merged interval log), `max_us` and `lag_p99_us` are the shards' maximum.
pub fn merge_series(shards: &[(Vec<SeriesRow>, u64)], hlog: &HistLog) -> Vec<SeriesRow> {
    let mut acc: BTreeMap<(u32, String), BTreeMap<String, f64>> = BTreeMap::new();
    for (rows, offset) in shards {
        for r in rows {
            let key = (r.second + *offset as u32, r.population.clone());
            let vals = acc.entry(key).or_default();
            for (k, v) in &r.values {
                let e = vals.entry(k.clone()).or_insert(0.0);
                if k == "max_us" || k == "lag_p99_us" {
                    *e = e.max(*v);
                } else {
                    *e += v;
                }
            }
        }
    }
    acc.into_iter()
        .map(|((second, population), mut values)| {
            let pop = (population != "all").then_some(population.as_str());
            let q = hlog.second(pop, second);
            for (col, _) in PERCENTILES {
                if values.contains_key(col) {
                    let v = q.map_or(0, |q| match col {
                        "p50_us" => q.p50,
                        "p90_us" => q.p90,
                        _ => q.p99,
                    });
                    values.insert(col.to_string(), v as f64);
                }
            }
            if let Some(q) = q {
                values.insert("max_us".into(), q.max as f64);
            }
            SeriesRow {
                second,
                population,
                values,
            }
        })
        .collect()
}

/// The series as CSV (`second,population,` then every column, sorted).
pub fn series_csv(rows: &[SeriesRow]) -> String {
    let mut cols: Vec<&String> = rows.iter().flat_map(|r| r.values.keys()).collect();
    cols.sort();
    cols.dedup();
    let mut out = String::from("second,population");
    for c in &cols {
        out.push(',');
        out.push_str(c);
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!("{},{}", r.second, r.population));
        for c in &cols {
            out.push(',');
            if let Some(v) = r.values.get(*c) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    out
}

/// One sampled value: (seconds, column, value).
pub type SampleCell = (f64, String, f64);

/// Adds the shards' samples (`(t, column, value)` each, shifted by its offset) per sampling
/// interval: CPU and RSS of all the shards' loadgens together, as one component.
pub fn merge_samples(shards: &[(Vec<SampleCell>, u64)], interval: f64) -> Samples {
    let interval = interval.max(0.1);
    let mut acc: BTreeMap<i64, BTreeMap<String, f64>> = BTreeMap::new();
    for (rows, offset) in shards {
        for (t, c, v) in rows {
            let slot = ((t + *offset as f64) / interval).round() as i64;
            *acc.entry(slot).or_default().entry(c.clone()).or_insert(0.0) += v;
        }
    }
    let mut out = Samples::default();
    for (slot, values) in acc {
        out.push(&Sample {
            t: slot as f64 * interval,
            values,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(values: &[(u64, &str, u64)]) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.hlog");
        let tags = vec!["a".to_string(), "b".to_string()];
        let mut w = HlogWriter::create(&p, tags.clone(), SystemTime::now()).expect("create");
        for (sec, tag, v) in values {
            let mut h = proxylab_loadgen::record::stats::histogram();
            h.record(*v).expect("record");
            let i = tags.iter().position(|t| t == tag).expect("tag");
            w.write(i, *sec, &h);
        }
        w.finish().expect("finish");
        std::fs::read(&p).expect("read")
    }

    #[test]
    fn interval_logs_add_per_second_and_population() {
        let a = log(&[(0, "a", 1000), (1, "a", 2000), (2, "b", 5000)]);
        let b = log(&[(0, "a", 3000), (1, "b", 4000)]);
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("m.hlog");
        let shards = [
            ShardLog {
                bytes: a,
                offset: 0,
            },
            ShardLog {
                bytes: b,
                offset: 1,
            },
        ];
        let tags = ["a".to_string(), "b".to_string()];
        merge_hlogs(&shards, &tags, SystemTime::now(), &out).expect("merge");
        let h = HistLog::read(&out);
        // Second 1: a=2000 (shard a) + 3000 (shard b, moved by its offset).
        assert_eq!(h.second(Some("a"), 1).map(|q| q.count), Some(2));
        assert_eq!(h.second(Some("a"), 0).map(|q| q.count), Some(1));
        assert_eq!(h.second(Some("b"), 2).map(|q| q.count), Some(2));
        let all = h.merged(None, 0.0, 10.0).expect("all");
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn series_sum_counts_and_take_percentiles_from_the_merged_log() {
        let row = |s: u32, sent: f64, p99: f64| SeriesRow {
            second: s,
            population: "a".into(),
            values: [("sent".to_string(), sent), ("p99_us".to_string(), p99)].into(),
        };
        let hl = HistLog::default();
        let m = merge_series(
            &[(vec![row(0, 10.0, 5.0)], 0), (vec![row(0, 7.0, 9.0)], 0)],
            &hl,
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].values["sent"], 17.0);
        // No merged histogram for that second: no invented percentile.
        assert_eq!(m[0].values["p99_us"], 0.0);
        let csv = series_csv(&m);
        assert!(
            csv.starts_with("second,population,p99_us,sent\n0,a,0,17\n"),
            "{csv}"
        );
    }

    #[test]
    fn samples_add_per_interval() {
        let s = merge_samples(
            &[
                (vec![(0.98, "cpu.loadgen".into(), 40.0)], 0),
                (vec![(1.02, "cpu.loadgen".into(), 30.0)], 0),
            ],
            1.0,
        );
        assert_eq!(s.points("cpu.loadgen"), vec![(1.0, 70.0)]);
    }
}
