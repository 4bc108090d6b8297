//! The probes' results: per population, statuses, failures and latency from the loadgen's
//! summary, and a one-line description of each for the verdict.

use proxylab_loadgen::record::summary::Summary;
use std::collections::BTreeMap;

/// One population's outcome.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Pop {
    /// Requests started.
    pub sent: u64,
    /// Responses by status.
    pub status: BTreeMap<u16, u64>,
    /// Failures without a response by kind.
    pub errors: BTreeMap<String, u64>,
    /// Behaviour outcomes (slow clients, WebSockets): how connections ended.
    pub outcomes: BTreeMap<String, u64>,
    /// Recorded response header lines (`record_headers`): `name: value` → lines.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, u64>,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// p90 latency, ms.
    pub p90_ms: f64,
    /// p99 latency, ms.
    pub p99_ms: f64,
}

impl Pop {
    /// Responses with status `c`.
    pub fn n(&self, c: u16) -> u64 {
        self.status.get(&c).copied().unwrap_or(0)
    }

    /// Responses with a status in `lo..=hi`.
    pub fn range(&self, lo: u16, hi: u16) -> u64 {
        self.status.range(lo..=hi).map(|(_, n)| n).sum()
    }

    /// Recorded header lines named `name` (lowercase).
    pub fn header_lines(&self, name: &str) -> u64 {
        let prefix = format!("{name}: ");
        self.headers
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Failures without a response.
    pub fn failures(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Responses plus failures.
    pub fn finished(&self) -> u64 {
        self.status.values().sum::<u64>() + self.failures()
    }

    /// `200×120, 503×80; reset×2; p99 12 ms`.
    pub fn describe(&self) -> String {
        let st: Vec<String> = self
            .status
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect();
        let er: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}×{n}"))
            .collect();
        let oc: Vec<String> = self
            .outcomes
            .iter()
            .map(|(k, n)| format!("{k}×{n}"))
            .collect();
        let mut s = if st.is_empty() {
            "no response".to_string()
        } else {
            st.join(", ")
        };
        if !er.is_empty() {
            s.push_str(&format!("; failures {}", er.join(", ")));
        }
        if !oc.is_empty() {
            s.push_str(&format!("; connections {}", oc.join(", ")));
        }
        if self.status.values().sum::<u64>() > 0 {
            s.push_str(&format!(
                "; p50 {:.1} ms, p99 {:.1} ms",
                self.p50_ms, self.p99_ms
            ));
        }
        s
    }

    /// The statuses that make up ≥ 5 % of finished requests (`200+503`), for comparing
    /// proxies.
    pub fn signature(&self) -> String {
        let total = self.finished().max(1) as f64;
        let mut v: Vec<String> = self
            .status
            .iter()
            .filter(|(_, n)| **n as f64 / total >= 0.05)
            .map(|(c, _)| c.to_string())
            .collect();
        if self.failures() as f64 / total >= 0.05 {
            v.push("failures".into());
        }
        v.join("+")
    }
}

/// Reads every population of a loadgen summary.
pub fn pops(s: Option<&Summary>) -> BTreeMap<String, Pop> {
    let Some(s) = s else { return BTreeMap::new() };
    s.populations
        .iter()
        .map(|(name, p)| {
            let pop = Pop {
                sent: p.sent,
                status: p
                    .status
                    .iter()
                    .filter_map(|(c, n)| Some((c.trim_start_matches('s').parse().ok()?, *n)))
                    .collect(),
                errors: p.errors.clone(),
                outcomes: s
                    .details
                    .get(name)
                    .map(|d| d.outcomes.clone())
                    .unwrap_or_default(),
                headers: s
                    .details
                    .get(name)
                    .map(|d| d.headers.clone())
                    .unwrap_or_default(),
                p50_ms: p.latency_us.p50 as f64 / 1000.0,
                p90_ms: p.latency_us.p90 as f64 / 1000.0,
                p99_ms: p.latency_us.p99 as f64 / 1000.0,
            };
            (name.clone(), pop)
        })
        .collect()
}
