//! The summary table (per population, plus all) and the verdict table, as rows of cells shared
//! by the terminal printout and the HTML report.

use super::summary::{RunSummary, Traffic};
use crate::results::assertions::fmt_value;

/// Column headers of the summary table.
pub const HEADERS: [&str; 14] = [
    "population",
    "sent",
    "completed",
    "2xx",
    "429",
    "502",
    "503",
    "504",
    "other 5xx",
    "failed",
    "req/s",
    "p50 ms",
    "p99 ms",
    "max ms",
];

/// Column keys (for HTML ids: `summary-<population>-<key>`).
pub const KEYS: [&str; 14] = [
    "population",
    "sent",
    "completed",
    "2xx",
    "429",
    "502",
    "503",
    "504",
    "5xx",
    "failed",
    "rate",
    "p50",
    "p99",
    "max",
];

fn ms(t: &Traffic, k: &str) -> String {
    t.latency_ms
        .get(k)
        .map_or("-".into(), |v| format!("{v:.2}"))
}

fn row(name: &str, t: &Traffic) -> Vec<String> {
    let s = |c: &str| format!("{:.0}", t.status.get(c).copied().unwrap_or(0.0));
    let other5 = t.status_range(500, 599)
        - ["502", "503", "504"]
            .iter()
            .map(|c| t.status.get(*c).copied().unwrap_or(0.0))
            .sum::<f64>();
    vec![
        name.to_string(),
        format!("{:.0}", t.sent),
        format!("{:.0}", t.completed),
        format!("{:.0}", t.status_range(200, 299)),
        s("429"),
        s("502"),
        s("503"),
        s("504"),
        format!("{other5:.0}"),
        format!("{:.0}", t.failed()),
        format!("{:.1}", t.achieved_rate),
        ms(t, "p50"),
        ms(t, "p99"),
        ms(t, "max"),
    ]
}

/// Rows: every population, then `all`.
pub fn rows(s: &RunSummary) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = s.populations.iter().map(|(n, t)| row(n, t)).collect();
    out.push(row("all", &s.total));
    out
}

/// Phase rows (all populations within each phase window).
pub fn phase_rows(s: &RunSummary) -> Vec<Vec<String>> {
    s.phases
        .iter()
        .map(|p| {
            row(
                &format!("{} [{}-{} s]", p.name, p.start_s, p.end_s),
                &p.traffic,
            )
        })
        .collect()
}

/// One table per recorded response header (e.g. `x-cache-status`): its header row (the name,
/// then every value seen, `(none)` for responses without the header) and a row for the whole
/// run, then one per phase, each cell `count (share of responses)`.
pub fn header_tables(s: &RunSummary) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let mut names: Vec<&str> = s
        .total
        .headers
        .keys()
        .filter_map(|k| Some(k.split_once(": ")?.0))
        .collect();
    names.sort_unstable();
    names.dedup();
    let split = |t: &Traffic, name: &str| {
        let c = crate::results::counts::Counts {
            completed: t.completed,
            headers: t.headers.clone(),
            ..Default::default()
        };
        c.split_by(name)
    };
    names
        .into_iter()
        .map(|name| {
            let values: Vec<String> = split(&s.total, name).into_iter().map(|v| v.0).collect();
            let cells = |label: String, t: &Traffic| {
                let got = split(t, name);
                let mut row = vec![label];
                row.extend(values.iter().map(|v| {
                    let n = got.iter().find(|g| &g.0 == v).map_or(0.0, |g| g.1);
                    let share = if t.completed > 0.0 {
                        100.0 * n / t.completed
                    } else {
                        0.0
                    };
                    format!("{n:.0} ({share:.0}%)")
                }));
                row
            };
            let mut rows = vec![cells("all".into(), &s.total)];
            for p in &s.phases {
                let label = format!("{} [{}-{} s]", p.name, p.start_s, p.end_s);
                rows.push(cells(label, &p.traffic));
            }
            let mut head = vec![name.to_string()];
            head.extend(values);
            (head, rows)
        })
        .collect()
}

/// Verdict rows: result, assertion, actual, limit, line.
pub fn verdict_rows(s: &RunSummary) -> Vec<Vec<String>> {
    s.assertions
        .iter()
        .map(|v| {
            vec![
                if v.passed {
                    "PASS".into()
                } else {
                    "FAIL".into()
                },
                v.name.clone(),
                v.actual.map_or("no data".into(), |a| fmt_value(a, &v.unit)),
                format!("{} {}", v.op, fmt_value(v.limit, &v.unit)),
                format!("{}", v.line),
            ]
        })
        .collect()
}

/// Per-client rows: population, addresses, the most requests of one address, and per outcome
/// the most one address got (`429: 12 (127.1.0.7)`).
pub fn client_rows(s: &RunSummary) -> Vec<Vec<String>> {
    s.clients
        .iter()
        .map(|(pop, f)| {
            let per: Vec<String> = f
                .max_by_outcome
                .iter()
                .map(|(k, (a, n))| format!("{k}: {n} ({a})"))
                .collect();
            vec![
                pop.clone(),
                f.addresses.to_string(),
                f.max_requests.to_string(),
                per.join(", "),
            ]
        })
        .collect()
}

/// Plain-text table with aligned columns.
pub fn text(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<width$}", width = w[i])
                } else {
                    format!("{c:>width$}", width = w[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// What the terminal prints after a run.
pub fn terminal(s: &RunSummary) -> String {
    let t = &s.timings;
    let mut out = format!(
        "\n{} [{}] proxy={}  {:.1} s wall (start {:.2} s, load {:.2} s, stop {:.2} s)\n",
        s.scenario, s.variant, s.proxy, s.wall_s, t.startup_s, t.load_s, t.teardown_s
    );
    out.push_str(&text(&HEADERS, &rows(s)));
    if !s.phases.is_empty() {
        out.push('\n');
        let mut h = HEADERS;
        h[0] = "phase";
        out.push_str(&text(&h, &phase_rows(s)));
    }
    for (head, rows) in header_tables(s) {
        out.push('\n');
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        out.push_str(&text(&head, &rows));
    }
    if !s.clients.is_empty() {
        out.push('\n');
        out.push_str(&text(
            &["clients", "addresses", "most requests", "most per outcome"],
            &client_rows(s),
        ));
    }
    if !s.assertions.is_empty() {
        out.push('\n');
        out.push_str(&text(
            &["result", "assertion", "actual", "limit", "line"],
            &verdict_rows(s),
        ));
    }
    let failed: Vec<_> = s.faults.iter().filter(|m| m.error.is_some()).collect();
    for m in failed {
        out.push_str(&format!(
            "fault at {:.1}s {:?} failed: {}\n",
            m.t,
            m.label,
            m.error.clone().unwrap_or_default()
        ));
    }
    out
}
