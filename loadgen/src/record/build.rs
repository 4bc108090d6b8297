//! Turns run totals into the summary JSON types, and per-second rows into the series CSV.

use super::Stats;
use super::summary::{Details, Lag, Percentiles, PopulationSummary, Summary};
use crate::engine::collector::Row;
use crate::transport::ErrorKind;
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// Percentiles of a histogram (µs).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

/// The fixed-contract summary of one population (or of everything).
pub fn population_summary(s: &Stats, duration_s: f64) -> PopulationSummary {
    PopulationSummary {
        sent: s.sent,
        completed: s.completed,
        status: s.statuses().map(|(c, n)| (c.to_string(), n)).collect(),
        errors: ErrorKind::ALL
            .iter()
            .filter(|k| s.errors[k.index()] > 0)
            .map(|k| (k.as_str().to_string(), s.errors[k.index()]))
            .collect(),
        latency_us: percentiles(&s.latency),
        duration_s,
        achieved_rate: if duration_s > 0.0 {
            s.completed as f64 / duration_s
        } else {
            0.0
        },
        schedule_lag_us: Lag {
            p99: if s.lag.is_empty() {
                0
            } else {
                s.lag.value_at_quantile(0.99)
            },
            max: s.lag.max(),
        },
    }
}

/// Extra figures of one population.
pub fn details(s: &Stats, behaviour: &str) -> Details {
    Details {
        behaviour: behaviour.to_string(),
        service_time_us: percentiles(&s.service),
        waited_for_connection: s.waited,
        connections_opened: s.conns_opened,
        outcomes: s.outcomes.clone(),
        held_us: percentiles(&s.held),
        ws_rtt_us: percentiles(&s.ws_rtt),
        bodies_verified: s.verified,
        hdr: BTreeMap::new(),
    }
}

/// Builds the summary: `pops` is (name, behaviour, stats, duration_s); `overall_s` the run.
pub fn summary(pops: &[(String, String, &Stats, f64)], overall_s: f64) -> Summary {
    let mut all = Stats::default();
    let mut out = Summary::default();
    for (name, behaviour, s, d) in pops {
        all.merge(s);
        out.populations
            .insert(name.clone(), population_summary(s, *d));
        out.details.insert(name.clone(), details(s, behaviour));
    }
    out.overall = population_summary(&all, overall_s);
    out
}

/// Writes the per-second CSV. Status columns: every code seen, plus 429/502/503/504 always.
pub fn write_series(path: &Path, rows: &[Row], names: &[String]) -> std::io::Result<()> {
    let mut codes: BTreeSet<u16> = [429, 502, 503, 504].into_iter().collect();
    for r in rows {
        codes.extend(r.status.keys());
    }
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(std::fs::File::create(path)?));
    let mut header: Vec<String> = ["second", "population", "sent", "completed"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(codes.iter().map(|c| format!("status_{c}")));
    header.extend(ErrorKind::ALL.iter().map(|k| format!("err_{}", k.as_str())));
    header.extend(
        [
            "in_flight",
            "open_connections",
            "waiting",
            "p50_us",
            "p90_us",
            "p99_us",
            "max_us",
            "lag_p99_us",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    w.write_record(&header)?;
    for r in rows {
        let mut rec: Vec<String> = vec![
            r.second.to_string(),
            r.pop
                .and_then(|i| names.get(i).cloned())
                .unwrap_or_else(|| "all".into()),
            r.sent.to_string(),
            r.completed.to_string(),
        ];
        rec.extend(
            codes
                .iter()
                .map(|c| r.status.get(c).copied().unwrap_or(0).to_string()),
        );
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
        w.write_record(&rec)?;
    }
    w.flush()?;
    let mut inner = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    inner.flush()
}
