//! Per-client outcomes: the loadgen's `details.<population>.by_source` (populations with
//! `source_addresses`) summed per client address, and the figures read from it (how many
//! addresses, the most requests / a status from any one address).

use crate::scenario::metric::StatusSel;
use proxylab_loadgen::record::summary::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Outcome counts per client address: address → status code or error kind → count.
pub type PerClient = BTreeMap<String, BTreeMap<String, u64>>;

/// The outcomes of population `pop` (None: every population, summed per address).
pub fn per_client(s: &Summary, pop: Option<&str>) -> PerClient {
    let mut out = PerClient::new();
    for (name, d) in &s.details {
        if pop.is_some_and(|p| p != name) {
            continue;
        }
        for (addr, per) in &d.by_source {
            let mine = out.entry(addr.clone()).or_default();
            for (k, v) in per {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
    }
    out
}

/// The address with the most outcomes selected by `keep`, and that count (None: no client).
pub fn max_by(per: &PerClient, keep: impl Fn(&str) -> bool) -> Option<(String, u64)> {
    per.iter()
        .map(|(a, o)| {
            let n = o.iter().filter(|(k, _)| keep(k)).map(|(_, v)| v).sum();
            (a.clone(), n)
        })
        .max_by_key(|(_, n)| *n)
}

/// True when outcome key `k` is a status selected by `sel` (error kinds never are).
pub fn status_matches(sel: &StatusSel, k: &str) -> bool {
    k.parse::<u16>().is_ok_and(|c| sel.matches(c))
}

/// What the run summary shows of one population's clients.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientFigures {
    /// Distinct client addresses that sent requests.
    pub addresses: u64,
    /// The most outcomes (responses and failures) of any one address.
    pub max_requests: u64,
    /// Per status code or error kind seen: the most any one address got, and that address.
    pub max_by_outcome: BTreeMap<String, (String, u64)>,
}

/// The figures of `per`, or None when it is empty (no `source_addresses`).
pub fn figures(per: &PerClient) -> Option<ClientFigures> {
    if per.is_empty() {
        return None;
    }
    let mut f = ClientFigures {
        addresses: per.len() as u64,
        max_requests: max_by(per, |_| true).map_or(0, |(_, n)| n),
        max_by_outcome: BTreeMap::new(),
    };
    let keys: std::collections::BTreeSet<&String> = per.values().flat_map(|o| o.keys()).collect();
    for k in keys {
        if let Some(best) = max_by(per, |x| x == k.as_str()) {
            f.max_by_outcome.insert(k.clone(), best);
        }
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxylab_loadgen::record::summary::Details;

    fn summary() -> Summary {
        let mut s = Summary::default();
        let mut a = Details::default();
        let outcomes = |pairs: &[(&str, u64)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        a.by_source
            .insert("127.1.0.1".into(), outcomes(&[("200", 5), ("429", 3)]));
        a.by_source
            .insert("127.1.0.2".into(), outcomes(&[("200", 9), ("reset", 1)]));
        let mut b = Details::default();
        b.by_source
            .insert("127.1.0.2".into(), outcomes(&[("429", 2)]));
        s.details.insert("a".into(), a);
        s.details.insert("b".into(), b);
        s
    }

    #[test]
    fn sums_per_address_over_populations_and_finds_the_worst_client() {
        let s = summary();
        let all = per_client(&s, None);
        assert_eq!(all.len(), 2);
        let sel = StatusSel::Code(429);
        let (addr, n) = max_by(&all, |k| status_matches(&sel, k)).unwrap();
        assert_eq!((addr.as_str(), n), ("127.1.0.1", 3));
        let only_b = per_client(&s, Some("b"));
        assert_eq!(max_by(&only_b, |k| status_matches(&sel, k)).unwrap().1, 2);
        let f = figures(&all).unwrap();
        assert_eq!((f.addresses, f.max_requests), (2, 12));
        assert_eq!(f.max_by_outcome["reset"], ("127.1.0.2".to_string(), 1));
        assert!(!status_matches(&StatusSel::Class(5), "reset"));
        assert!(figures(&per_client(&Summary::default(), None)).is_none());
    }
}
