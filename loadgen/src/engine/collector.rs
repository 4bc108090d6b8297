//! The collector (on the calling thread): merges the workers' per-second snapshots, appends
//! each closed second to the series CSV and the interval log (flushed, so both can be followed
//! live), folds seconds into run totals, and reports progress. Rows are not kept.

use super::worker::Msg;
use crate::record::Stats;
use crate::record::hlog::HlogWriter;
use crate::record::series::SeriesWriter;
use crate::transport::ErrorKind;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Instant;

/// One second of one population (or of all, `pop = None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Second since the start of the run.
    pub second: u64,
    /// Population index; `None` for the all-populations row.
    pub pop: Option<usize>,
    /// Requests sent.
    pub sent: u64,
    /// Requests completed.
    pub completed: u64,
    /// Responses by status.
    pub status: BTreeMap<u16, u64>,
    /// Failures by kind.
    pub errors: [u64; ErrorKind::COUNT],
    /// Gauges at the end of the second.
    pub in_flight: i64,
    /// See `in_flight`.
    pub open_connections: i64,
    /// See `in_flight`.
    pub waiting: i64,
    /// Latency percentiles (µs) of the second.
    pub p50_us: u64,
    /// See `p50_us`.
    pub p90_us: u64,
    /// See `p50_us`.
    pub p99_us: u64,
    /// See `p50_us`.
    pub max_us: u64,
    /// Schedule lag p99 (µs) of the second.
    pub lag_p99_us: u64,
    /// Body bytes of the responses of the second.
    pub body_bytes: u64,
    /// Recorded response headers of the second (`record_headers`): `name: value` → count.
    pub headers: BTreeMap<String, u64>,
}

impl Row {
    fn from_stats(second: u64, pop: Option<usize>, s: &Stats) -> Row {
        Row {
            second,
            pop,
            sent: s.sent,
            completed: s.completed,
            status: s.statuses().collect(),
            errors: s.errors,
            in_flight: s.in_flight,
            open_connections: s.open_conns,
            waiting: s.waiting,
            p50_us: s.latency.value_at_quantile(0.5),
            p90_us: s.latency.value_at_quantile(0.9),
            p99_us: s.latency.value_at_quantile(0.99),
            max_us: s.latency.max(),
            lag_p99_us: s.lag.value_at_quantile(0.99),
            headers: s.headers.clone(),
            body_bytes: s.body_bytes,
        }
    }
}

/// What the collector hands back.
#[derive(Debug)]
pub struct Collected {
    /// Run totals per population.
    pub totals: Vec<Stats>,
    /// When dispatching stopped (run end or Ctrl-C).
    pub stopped_at: Option<Instant>,
}

/// Where each closed second goes.
#[derive(Debug, Default)]
pub struct Sinks<'a> {
    /// The interval log.
    pub hlog: Option<&'a mut HlogWriter>,
    /// The series CSV.
    pub series: Option<&'a mut SeriesWriter>,
    /// Live metrics (`--metrics-listen`, `--metrics-push`).
    pub live: Option<&'a crate::metrics::Live>,
}

/// Receives until every worker is done. `on_second` sees each closed second's rows: one per
/// population, then the all-populations row (always last).
pub fn collect(
    rx: mpsc::Receiver<Msg>,
    threads: usize,
    npops: usize,
    mut sinks: Sinks<'_>,
    on_second: &mut dyn FnMut(&[Row]),
) -> Collected {
    let mut pending: BTreeMap<u64, (usize, Vec<Stats>)> = BTreeMap::new();
    let mut totals: Vec<Stats> = (0..npops).map(|_| Stats::default()).collect();
    let mut done = 0usize;
    let mut stopped_at: Option<Instant> = None;
    let mut flush = |sec: u64, stats: Vec<Stats>, totals: &mut Vec<Stats>, sinks: &mut Sinks| {
        let mut all = Stats::default();
        let mut rows = Vec::with_capacity(stats.len() + 1);
        for (i, s) in stats.iter().enumerate() {
            rows.push(Row::from_stats(sec, Some(i), s));
            if let Some(h) = sinks.hlog.as_deref_mut() {
                h.write(i, sec, &s.latency);
            }
            all.merge(s);
            totals[i].merge(s);
        }
        rows.push(Row::from_stats(sec, None, &all));
        if let Some(l) = sinks.live {
            l.second(sec, &stats);
        }
        if let Some(h) = sinks.hlog.as_deref_mut() {
            h.flush();
        }
        if let Some(w) = sinks.series.as_deref_mut() {
            w.write_second(&rows);
        }
        on_second(&rows);
    };
    while done < threads {
        let Ok(msg) = rx.recv() else { break };
        let (sec, stats, last) = match msg {
            Msg::Interval { sec, stats } => (sec, stats, false),
            Msg::Done {
                sec,
                stats,
                stopped_at: at,
            } => {
                stopped_at = Some(stopped_at.map_or(at, |s: Instant| s.max(at)));
                (sec, stats, true)
            }
        };
        let entry = pending
            .entry(sec)
            .or_insert_with(|| (0, (0..npops).map(|_| Stats::default()).collect()));
        for (a, b) in entry.1.iter_mut().zip(&stats) {
            a.merge(b);
        }
        entry.0 += 1;
        if last {
            done += 1;
        }
        // A second is complete when every thread reported it; leftovers flush at the end.
        while pending
            .first_key_value()
            .is_some_and(|(_, (count, _))| *count >= threads)
        {
            if let Some((s, (_, stats))) = pending.pop_first() {
                flush(s, stats, &mut totals, &mut sinks);
            }
        }
    }
    while let Some((s, (_, stats))) = pending.pop_first() {
        flush(s, stats, &mut totals, &mut sinks);
    }
    Collected { totals, stopped_at }
}
