//! Shard merging: summaries carry their histograms (hex V2-deflate in `details.*.hdr`), so
//! `proxylab loadgen merge` adds histograms exactly and sums counters.

use crate::engine::RunResult;
use crate::record::Stats;
use crate::record::build::{details, population_summary};
use crate::record::summary::{Details, Summary};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use std::collections::BTreeMap;

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => hex::encode(buf),
        Err(_) => String::new(),
    }
}

fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = hex::decode(s).map_err(|e| format!("bad histogram encoding: {e}"))?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("bad histogram: {e:?}"))
}

fn hists(s: &Stats) -> [(&'static str, &Histogram<u64>); 5] {
    [
        ("latency", &s.latency),
        ("service", &s.service),
        ("lag", &s.lag),
        ("held", &s.held),
        ("ws_rtt", &s.ws_rtt),
    ]
}

/// The run's summary with every population's histograms embedded.
pub fn with_histograms(res: &RunResult) -> Summary {
    let mut out = res.summary.clone();
    for (name, s) in res.names.iter().zip(&res.totals) {
        if let Some(d) = out.details.get_mut(name) {
            d.hdr = hists(s)
                .iter()
                .filter(|(_, h)| !h.is_empty())
                .map(|(k, h)| (k.to_string(), encode(h)))
                .collect();
        }
    }
    out
}

/// Rebuilds mergeable stats from one population's summary and details.
fn stats_of(
    p: &crate::record::summary::PopulationSummary,
    d: Option<&Details>,
) -> Result<Stats, String> {
    let mut s = Stats {
        sent: p.sent,
        completed: p.completed,
        ..Stats::default()
    };
    for (code, n) in &p.status {
        let c: usize = code
            .parse()
            .map_err(|_| format!("bad status key {code:?}"))?;
        s.status[c.min(s.status.len() - 1)] += n;
    }
    for (kind, n) in &p.errors {
        let i = crate::transport::ErrorKind::ALL
            .iter()
            .position(|k| k.as_str() == kind)
            .ok_or_else(|| format!("unknown error kind {kind:?}"))?;
        s.errors[i] += n;
    }
    if let Some(d) = d {
        s.waited = d.waited_for_connection;
        s.conns_opened = d.connections_opened;
        s.verified = d.bodies_verified;
        s.outcomes = d.outcomes.clone();
        for (a, per) in &d.by_source {
            let a = a
                .parse()
                .map_err(|_| format!("bad client address {a:?} in by_source"))?;
            s.by_source.insert(a, per.clone());
        }
        s.headers = d.headers.clone();
        for (k, v) in &d.hdr {
            let h = decode(v)?;
            let target = match k.as_str() {
                "latency" => &mut s.latency,
                "service" => &mut s.service,
                "lag" => &mut s.lag,
                "held" => &mut s.held,
                "ws_rtt" => &mut s.ws_rtt,
                _ => continue,
            };
            target
                .add(&h)
                .map_err(|e| format!("histogram merge: {e:?}"))?;
        }
    }
    Ok(s)
}

/// Merges shard summaries: counters summed, histograms added, durations = the longest shard.
pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
    let mut pops: BTreeMap<String, (Stats, f64, String)> = BTreeMap::new();
    let mut overall_d = 0f64;
    for part in parts {
        overall_d = overall_d.max(part.overall.duration_s);
        for (name, p) in &part.populations {
            let d = part.details.get(name);
            if p.sent > 0 && d.is_none_or(|d| d.hdr.is_empty()) && p.completed > 0 {
                return Err(format!(
                    "population {name:?} has no histograms: write shards with --summary-json of this version"
                ));
            }
            let s = stats_of(p, d)?;
            let e = pops
                .entry(name.clone())
                .or_insert_with(|| (Stats::default(), 0.0, String::new()));
            e.0.merge(&s);
            e.1 = e.1.max(p.duration_s);
            if let Some(d) = d {
                e.2 = d.behaviour.clone();
            }
        }
    }
    let mut out = Summary::default();
    let mut all = Stats::default();
    for (name, (s, d, b)) in &pops {
        all.merge(s);
        out.populations
            .insert(name.clone(), population_summary(s, *d));
        let mut det = details(s, b);
        det.hdr = hists(s)
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(k, h)| (k.to_string(), encode(h)))
            .collect();
        out.details.insert(name.clone(), det);
    }
    out.overall = population_summary(&all, overall_d);
    Ok(out)
}
