//! `timeseries.csv`: one row per second with every series: the loadgen's counts and latency
//! per population (and all), and the runner's samples (CPU, RSS, proxy status, fake counters).

use crate::results::counts;
use crate::run::RunOutput;
use crate::scenario::Scenario;
use std::collections::BTreeMap;

/// Renders the CSV.
pub fn render(s: &Scenario, out: &RunOutput) -> String {
    let n = out
        .series
        .iter()
        .map(|r| r.second + 1)
        .max()
        .unwrap_or(0)
        .max(s.duration.as_secs_f64().ceil() as u32);
    let mut pops: Vec<Option<&str>> = vec![None];
    pops.extend(s.loads.iter().map(|l| Some(l.name.as_str())));
    let codes: Vec<u16> = {
        let mut c: Vec<u16> = counts::window(&out.series, None, 0.0, f64::MAX)
            .status
            .keys()
            .copied()
            .collect();
        c.sort();
        c
    };
    let sample_cols = out.samples.columns();
    let mut header = vec!["second".to_string()];
    for p in &pops {
        let p = p.unwrap_or("all");
        for k in ["sent", "completed", "failed"] {
            header.push(format!("{p}.{k}"));
        }
        for c in &codes {
            header.push(format!("{p}.status_{c}"));
        }
        for k in ["p50_ms", "p90_ms", "p99_ms", "max_ms"] {
            header.push(format!("{p}.{k}"));
        }
    }
    header.extend(sample_cols.iter().cloned());
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(&header);
    for sec in 0..n {
        let (a, b) = (f64::from(sec), f64::from(sec) + 1.0);
        let mut row = vec![sec.to_string()];
        for p in &pops {
            let c = counts::window(&out.series, *p, a, b);
            row.push(format!("{}", c.sent));
            row.push(format!("{}", c.completed));
            row.push(format!("{}", c.error_total()));
            for code in &codes {
                row.push(format!("{}", c.status.get(code).copied().unwrap_or(0.0)));
            }
            let q = out.hlog.second(*p, sec);
            for v in [
                q.map(|q| q.p50),
                q.map(|q| q.p90),
                q.map(|q| q.p99),
                q.map(|q| q.max),
            ] {
                row.push(v.map_or(String::new(), |v| format!("{:.3}", v as f64 / 1000.0)));
            }
        }
        // Mean of the samples taken nearest to this second (t in [s - 0.5, s + 0.5)).
        let mut acc: BTreeMap<&str, (f64, u32)> = BTreeMap::new();
        for (k, v) in out.samples.cells(a - 0.5, b - 0.5) {
            let e = acc.entry(k).or_default();
            e.0 += v;
            e.1 += 1;
        }
        for col in &sample_cols {
            row.push(
                acc.get(col.as_str())
                    .map_or(String::new(), |(s, n)| format!("{:.3}", s / f64::from(*n))),
            );
        }
        let _ = w.write_record(&row);
    }
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
