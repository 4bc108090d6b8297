//! `RunSummary`: the figures of one run (per population, per phase, per component, verdicts),
//! written as `summary.json` and read back by `proxylab compare`.

use crate::results::assertions::{Verdict, summary_counts};
use crate::results::clients::{ClientFigures, figures, per_client};
use crate::results::counts::{self, Counts};
use crate::run::{Marker, RunOutput};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Traffic figures of a population (or all) over a window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Traffic {
    /// Requests started.
    pub sent: f64,
    /// Responses received.
    pub completed: f64,
    /// Responses by status.
    pub status: BTreeMap<String, f64>,
    /// Failures by kind.
    pub errors: BTreeMap<String, f64>,
    /// Completed per second of the window.
    pub achieved_rate: f64,
    /// Latency percentiles in ms (`p50`, `p90`, `p99`, `p99.9`, `max`).
    pub latency_ms: BTreeMap<String, f64>,
    /// Responses by recorded response header (`record_headers`), `name: value` → count:
    /// e.g. `x-cache-status: HIT` for nginx's `$upstream_cache_status`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, f64>,
}

impl Traffic {
    /// Responses with status in `lo..=hi`.
    pub fn status_range(&self, lo: u16, hi: u16) -> f64 {
        self.status
            .iter()
            .filter(|(k, _)| k.parse::<u16>().is_ok_and(|c| (lo..=hi).contains(&c)))
            .map(|(_, v)| v)
            .sum()
    }
    /// All failures.
    pub fn failed(&self) -> f64 {
        self.errors.values().sum()
    }
}

/// Traffic of a phase window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseTraffic {
    /// Phase name.
    pub name: String,
    /// Window start, s.
    pub start_s: f64,
    /// Window end, s.
    pub end_s: f64,
    /// Figures over the window.
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// CPU and memory of a component over the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    /// Mean CPU % (100 = one core).
    pub cpu_avg: f64,
    /// Highest CPU % sample.
    pub cpu_max: f64,
    /// Highest RSS, MiB.
    pub rss_max_mib: f64,
    /// Mean context switches per second (voluntary + involuntary, every thread; absent in runs
    /// before they were sampled).
    #[serde(default)]
    pub csw_avg: f64,
}

/// The whole `summary.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    /// Scenario name.
    pub scenario: String,
    /// Variant label (`base`, `nginx`, `nginx+ci`).
    pub variant: String,
    /// Proxy kind run.
    pub proxy: String,
    /// Scenario duration, s.
    pub duration_s: f64,
    /// Wall time of the run, s (processes started, load, stopped, outputs read; not the report).
    pub wall_s: f64,
    /// Where the wall time went.
    #[serde(default)]
    pub timings: crate::run::Timings,
    /// All assertions held.
    pub passed: bool,
    /// All populations.
    pub total: Traffic,
    /// Per population.
    pub populations: BTreeMap<String, Traffic>,
    /// Per phase (all populations), in the file's order.
    pub phases: Vec<PhaseTraffic>,
    /// Per component (`proxy`, `loadgen`, pools, instances).
    pub components: BTreeMap<String, Usage>,
    /// Verdicts.
    pub assertions: Vec<Verdict>,
    /// Faults as applied.
    pub faults: Vec<Marker>,
    /// Commit, start time and how busy the machine was (absent in runs before it was kept).
    #[serde(default)]
    pub provenance: Option<crate::run::machine::Provenance>,
    /// Per-client figures of the populations with `source_addresses` (by population).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clients: BTreeMap<String, ClientFigures>,
}

fn traffic(out: &RunOutput, pop: Option<&str>, from: f64, to: f64) -> Traffic {
    let c: Counts = counts::window(&out.series, pop, from, to);
    let c = if c.seconds == 0 && from == 0.0 {
        out.summary
            .as_ref()
            .and_then(|s| match pop {
                None => Some(&s.overall),
                Some(p) => s.populations.get(p),
            })
            .map(|p| Counts {
                seconds: 1,
                ..summary_counts(p)
            })
            .unwrap_or(c)
    } else {
        c
    };
    let mut latency_ms = BTreeMap::new();
    if let Some(h) = out.hlog.merged(pop, from, to).filter(|h| !h.is_empty()) {
        for (k, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
            latency_ms.insert(k.to_string(), h.value_at_quantile(q) as f64 / 1000.0);
        }
        latency_ms.insert("max".into(), h.max() as f64 / 1000.0);
    } else if let Some(s) = out.summary.as_ref().filter(|_| from == 0.0) {
        let p = match pop {
            None => Some(&s.overall),
            Some(p) => s.populations.get(p),
        };
        if let Some(p) = p {
            let l = p.latency_us;
            for (k, v) in [
                ("p50", l.p50),
                ("p90", l.p90),
                ("p99", l.p99),
                ("p99.9", l.p999),
                ("max", l.max),
            ] {
                latency_ms.insert(k.to_string(), v as f64 / 1000.0);
            }
        }
    }
    Traffic {
        sent: c.sent,
        completed: c.completed,
        status: c.status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        errors: c.errors.clone(),
        achieved_rate: c.completed / (to - from).max(1e-9),
        latency_ms,
        headers: c.headers.clone(),
    }
}

/// Builds the summary of a finished run.
pub fn build(s: &Scenario, out: &RunOutput, verdicts: Vec<Verdict>) -> RunSummary {
    let d = s.duration.as_secs_f64();
    let mut components = BTreeMap::new();
    let mut names: Vec<String> = out.components.clone();
    names.push("runner".into());
    names.extend(s.upstreams.iter().map(|p| p.name.clone()));
    for n in names {
        let cpu = out.samples.rate_stats(&format!("cpu.{n}"), 0.0, f64::MAX);
        let rss = out.samples.values(&format!("rss.{n}"), 0.0, f64::MAX);
        let csw = out.samples.rate_stats(&format!("csw.{n}"), 0.0, f64::MAX);
        if cpu.is_none() && rss.is_empty() {
            continue;
        }
        components.insert(
            n,
            Usage {
                cpu_avg: cpu.map_or(0.0, |c| c.mean),
                cpu_max: cpu.map_or(0.0, |c| c.max),
                rss_max_mib: rss.iter().copied().fold(0.0, f64::max),
                csw_avg: csw.map_or(0.0, |c| c.mean),
            },
        );
    }
    let provenance = Some(provenance(out, &components));
    RunSummary {
        scenario: s.name.clone(),
        variant: s.variant.clone().unwrap_or_else(|| "base".into()),
        proxy: crate::scenario::kind_name(s.proxy.kind).into(),
        duration_s: d,
        wall_s: out.wall.as_secs_f64(),
        timings: out.timings,
        passed: verdicts.iter().all(|v| v.passed),
        total: traffic(out, None, 0.0, d),
        populations: s
            .loads
            .iter()
            .map(|l| (l.name.clone(), traffic(out, Some(&l.name), 0.0, d)))
            .collect(),
        phases: s
            .phases
            .iter()
            .map(|p| PhaseTraffic {
                name: p.name.clone(),
                start_s: p.start.as_secs_f64(),
                end_s: p.end.as_secs_f64(),
                traffic: traffic(out, None, p.start.as_secs_f64(), p.end.as_secs_f64()),
            })
            .collect(),
        components,
        assertions: verdicts,
        faults: out.markers.clone(),
        provenance,
        clients: client_figures(s, out),
    }
}

/// Per-client figures of every population that has them.
fn client_figures(s: &Scenario, out: &RunOutput) -> BTreeMap<String, ClientFigures> {
    let Some(sm) = &out.summary else {
        return BTreeMap::new();
    };
    s.loads
        .iter()
        .filter_map(|l| Some((l.name.clone(), figures(&per_client(sm, Some(&l.name)))?)))
        .collect()
}

/// The run's provenance with what other processes took: the machine's CPU minus the run's own
/// components (top-level names only: a pool already sums its instances).
fn provenance(
    out: &RunOutput,
    components: &BTreeMap<String, Usage>,
) -> crate::run::machine::Provenance {
    let own: f64 = components
        .iter()
        .filter(|(n, _)| !n.contains('.'))
        .map(|(_, u)| u.cpu_avg)
        .sum();
    let mut p = out.provenance.clone();
    p.others_cpu_pct = (p.machine_cpu_pct - own).max(0.0);
    p
}
