//! The metrics read from the loadgen's summary and the run directory once the run is over:
//! whole-run counts per population (the fallback of a window without series), session
//! outcomes, recorded response headers, per-client maxima, and access-log lines.

use super::clients;
use super::counts::Counts;
use crate::scenario::metric::{Metric, StatusSel};
use crate::scenario::{Assertion, Scenario};
use proxylab_loadgen::record::summary::{PopulationSummary, Summary};
use std::path::Path;

/// The whole-run counts of one population (or `overall`) from the loadgen's summary JSON.
pub(crate) fn summary_counts(p: &PopulationSummary) -> Counts {
    Counts {
        sent: p.sent as f64,
        completed: p.completed as f64,
        status: p
            .status
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, *v as f64)))
            .collect(),
        errors: p
            .errors
            .iter()
            .map(|(k, v)| (k.clone(), *v as f64))
            .collect(),
        headers: Default::default(),
        body_bytes: 0.0,
        seconds: p.duration_s.ceil() as u32,
    }
}

/// A population's summary (None: the whole run's).
pub(super) fn pop_summary<'a>(s: &'a Summary, pop: Option<&str>) -> Option<&'a PopulationSummary> {
    match pop {
        None => Some(&s.overall),
        Some(p) => s.populations.get(p),
    }
}

/// `client_max.status_count.SEL`: the most such responses of any one client address, and a
/// note naming that address (or why there is no figure).
pub(super) fn client_max(
    summary: Option<&Summary>,
    pop: Option<&str>,
    sel: &StatusSel,
    whole: bool,
) -> (Option<f64>, String) {
    let per = summary
        .map(|sm| clients::per_client(sm, pop))
        .unwrap_or_default();
    let phase = if whole {
        ""
    } else {
        "; per-client counts cover the whole run, phase ignored"
    };
    match clients::max_by(&per, |k| clients::status_matches(sel, k)) {
        Some((addr, n)) => (
            Some(n as f64),
            format!("{n} from {addr} (of {} client addresses){phase}", per.len()),
        ),
        None => (
            None,
            "no per-client outcomes: the population needs source_addresses".into(),
        ),
    }
}

/// The metrics known only once the run is over (whole run): session outcomes, recorded
/// response headers, access-log lines. Returns the value and, without one, why.
pub(super) fn whole_run(
    s: &Scenario,
    a: &Assertion,
    summary: Option<&Summary>,
    run_dir: Option<&Path>,
) -> (Option<f64>, Option<String>) {
    let pop = a.population.as_deref();
    match &a.metric {
        Metric::Outcome(k) => {
            let v = summary.map(|sm| {
                sm.details
                    .iter()
                    .filter(|(name, _)| pop.is_none_or(|p| p == name.as_str()))
                    .filter_map(|(_, det)| det.outcomes.get(k))
                    .sum::<u64>() as f64
            });
            (v, None)
        }
        Metric::HeaderRate(name, text) => {
            if let Some(why) = unrecorded(s, pop, name) {
                return (None, Some(why));
            }
            let v = summary.and_then(|sm| header_rate(sm, pop, name, text.as_deref()));
            (v, None)
        }
        Metric::LogLines(prefix) => {
            let v = run_dir.and_then(|dir| super::access_log::lines(dir, prefix.as_deref()));
            let why = v.is_none().then(|| {
                "no access log in the run directory (a file named *access* in the proxy's {{dir}}): counted as failed".to_string()
            });
            (v, why)
        }
        _ => (None, None),
    }
}

/// Why `header_rate.NAME` has no value: no population (of `pop`) records `name`.
pub(super) fn unrecorded(s: &Scenario, pop: Option<&str>, name: &str) -> Option<String> {
    let recorded = s
        .loads
        .iter()
        .filter(|l| pop.is_none_or(|p| p == l.name))
        .any(|l| {
            l.record_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        });
    (!recorded).then(|| format!("no population's `record_headers` names {name}: counted as failed"))
}

/// Header lines named `name` (whose value contains `text`) per completed response of the
/// population (or all), from the loadgen's recorded headers; None without a response.
fn header_rate(sm: &Summary, pop: Option<&str>, name: &str, text: Option<&str>) -> Option<f64> {
    let prefix = format!("{name}: ");
    let lines: u64 = sm
        .details
        .iter()
        .filter(|(p, _)| pop.is_none_or(|x| x == p.as_str()))
        .flat_map(|(_, det)| &det.headers)
        .filter_map(|(k, n)| Some((k.strip_prefix(&prefix)?, n)))
        .filter(|(value, _)| text.is_none_or(|t| value.contains(t)))
        .map(|(_, n)| n)
        .sum();
    let completed = pop_summary(sm, pop)?.completed;
    (completed > 0).then(|| lines as f64 / completed as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proxylab_loadgen::record::summary::Details;

    #[test]
    fn header_rate_is_lines_per_response() {
        let mut sm = Summary::default();
        let p = PopulationSummary {
            completed: 10,
            ..Default::default()
        };
        sm.populations.insert("static".into(), p.clone());
        sm.overall = p;
        let headers = [
            ("cache-control: max-age=2592000", 10),
            ("cache-control: public, immutable", 10),
            ("expires: Thu, 01 Jan 2027 00:00:00 GMT", 5),
        ];
        let d = Details {
            headers: headers.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            ..Default::default()
        };
        sm.details.insert("static".into(), d);
        let rate = |name: &str, text: Option<&str>| header_rate(&sm, Some("static"), name, text);
        assert_eq!(rate("cache-control", None), Some(2.0));
        assert_eq!(rate("cache-control", Some("immutable")), Some(1.0));
        assert_eq!(rate("cache-control", Some("no-store")), Some(0.0));
        assert_eq!(rate("expires", None), Some(0.5));
        assert_eq!(header_rate(&sm, None, "expires", None), Some(0.5));
        assert_eq!(header_rate(&sm, Some("other"), "expires", None), None);
    }
}
