//! What a probe run showed: one line per population, a verdict (did something go wrong that
//! the config can change) and a signature to compare our proxy with real nginx.

use super::load::Pop;
use super::scenario::Case;
use std::collections::BTreeMap;

/// The verdict of one run of a case.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verdict {
    /// One line per population, then the conclusion.
    pub lines: Vec<String>,
    /// Something went wrong for clients.
    pub bad: bool,
    /// Comparable outcome (None: timing-dependent, not compared between proxies).
    pub signature: Option<String>,
}

/// Judges a finished case; `served` is the requests each upstream instance answered.
pub fn judge(k: &Case, pops: &BTreeMap<String, Pop>, served: &BTreeMap<String, u64>) -> Verdict {
    let mut v = Verdict::default();
    let empty = Pop::default();
    let get = |n: &str| pops.get(n).unwrap_or(&empty);
    for (name, role) in &k.roles {
        v.lines.push(format!("{role}: {}", get(name).describe()));
    }
    let all: Pop = pops.values().fold(Pop::default(), |mut a, p| {
        for (c, n) in &p.status {
            *a.status.entry(*c).or_default() += n;
        }
        for (e, n) in &p.errors {
            *a.errors.entry(e.clone()).or_default() += n;
        }
        a
    });
    let (bad, concl) = super::conclude::conclude(k, pops, &all, served);
    v.bad = bad;
    if !concl.is_empty() {
        v.lines.push(concl);
    }
    let compared = !matches!(
        k.probe.as_str(),
        "hung"
            | "slowloris"
            | "slow-upload"
            | "slow-reader"
            | "connections"
            | "reload"
            | "spike"
            | "slow-instance"
    );
    if compared {
        let sig: Vec<String> = k
            .roles
            .iter()
            .map(|(n, _)| format!("{n}={}", get(n).signature()))
            .collect();
        v.signature = Some(sig.join(" "));
    } else if k.probe == "spike" && all.n(503) + all.n(429) > 0 {
        // Which status the limit answers with; whether the spike got over the limit at all
        // depends on how fast this machine's load generator ran, so a run with no rejection
        // is not compared.
        v.signature = Some(format!("503={} 429={}", all.n(503) > 0, all.n(429) > 0));
    }
    if k.probe == "cache-control" {
        let p = get("get");
        v.signature = Some(format!(
            "get={} cache-control={}/response",
            p.signature(),
            super::conclude::per_response(p.header_lines("cache-control"), p.range(200, 399))
        ));
    }
    if k.probe == "response-headers" {
        let p = get("get");
        let seen: Vec<String> = k
            .note("expected")
            .unwrap_or("")
            .split(',')
            .map(|n| format!("{n}={}", p.header_lines(n) > 0))
            .collect();
        v.signature = Some(format!("get={} {}", p.signature(), seen.join(" ")));
    }
    if k.probe == "tls-versions" {
        v.signature = Some(super::conclude::tls_signature(pops));
    }
    v
}
