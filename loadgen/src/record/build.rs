//! Turns run totals into the summary JSON types.

use super::Stats;
use super::summary::{Details, Lag, Percentiles, PopulationSummary, Summary};
use crate::transport::ErrorKind;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

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
        by_source: s
            .by_source
            .iter()
            .map(|(a, per)| (a.to_string(), per.clone()))
            .collect(),
        headers: s.headers.clone(),
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
