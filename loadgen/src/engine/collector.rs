//! The collector (on the calling thread): merges the workers' per-second snapshots, keeps the
//! per-second rows, writes the interval log as it goes, folds seconds into run totals, and
//! reports progress.

use super::worker::Msg;
use crate::record::Stats;
use crate::record::hlog::HlogWriter;
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
        }
    }
}

/// What the collector hands back.
#[derive(Debug)]
pub struct Collected {
    /// Run totals per population.
    pub totals: Vec<Stats>,
    /// Per-second rows (populations, then the all row, per second).
    pub rows: Vec<Row>,
    /// When dispatching stopped (run end or Ctrl-C).
    pub stopped_at: Option<Instant>,
}

/// Receives until every worker is done.
pub fn collect(
    rx: mpsc::Receiver<Msg>,
    threads: usize,
    npops: usize,
    mut hlog: Option<&mut HlogWriter>,
    on_second: &mut dyn FnMut(&Row),
) -> Collected {
    let mut pending: BTreeMap<u64, (usize, Vec<Stats>)> = BTreeMap::new();
    let mut totals: Vec<Stats> = (0..npops).map(|_| Stats::default()).collect();
    let mut rows = Vec::new();
    let mut done = 0usize;
    let mut stopped_at: Option<Instant> = None;
    let mut flush = |sec: u64,
                     stats: Vec<Stats>,
                     rows: &mut Vec<Row>,
                     totals: &mut Vec<Stats>,
                     hlog: &mut Option<&mut HlogWriter>| {
        let mut all = Stats::default();
        for (i, s) in stats.iter().enumerate() {
            rows.push(Row::from_stats(sec, Some(i), s));
            if let Some(h) = hlog.as_deref_mut() {
                h.write(i, sec, &s.latency);
            }
            all.merge(s);
            totals[i].merge(s);
        }
        let row = Row::from_stats(sec, None, &all);
        on_second(&row);
        rows.push(row);
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
                flush(s, stats, &mut rows, &mut totals, &mut hlog);
            }
        }
    }
    while let Some((s, (_, stats))) = pending.pop_first() {
        flush(s, stats, &mut rows, &mut totals, &mut hlog);
    }
    Collected {
        totals,
        rows,
        stopped_at,
    }
}
