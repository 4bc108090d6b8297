//! Counts over a time window from the loadgen's series: sent, completed, responses by status,
//! failures by kind, recorded response headers by value. Column names are read as the loadgen
//! writes them (`status_429`, `err_reset`, `header.x-cache-status=HIT`…).

use super::loadgen_out::SeriesRow;
use std::collections::BTreeMap;

/// Totals of one population (or all) over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Requests started.
    pub sent: f64,
    /// Requests completed (any status).
    pub completed: f64,
    /// Responses by status code.
    pub status: BTreeMap<u16, f64>,
    /// Failures by kind.
    pub errors: BTreeMap<String, f64>,
    /// Recorded response headers (`record_headers`) by `name: value`.
    pub headers: BTreeMap<String, f64>,
    /// Body bytes of the responses.
    pub body_bytes: f64,
    /// Seconds of series covered.
    pub seconds: u32,
}

impl Counts {
    /// All failures.
    pub fn error_total(&self) -> f64 {
        self.errors.values().sum()
    }
    /// Finished requests: responses plus failures.
    pub fn finished(&self) -> f64 {
        self.completed + self.error_total()
    }
    /// Responses whose status matches.
    pub fn status_matching(&self, f: impl Fn(u16) -> bool) -> f64 {
        self.status
            .iter()
            .filter(|(c, _)| f(**c))
            .map(|(_, n)| n)
            .sum()
    }

    /// Responses by value of the recorded header `name` (lower case), and those without it:
    /// (value, count) with `(none)` last when some responses had no such line.
    pub fn split_by(&self, name: &str) -> Vec<(String, f64)> {
        let prefix = format!("{name}: ");
        let mut out: Vec<(String, f64)> = self
            .headers
            .iter()
            .filter_map(|(k, n)| Some((k.strip_prefix(&prefix)?.to_string(), *n)))
            .collect();
        let lines: f64 = out.iter().map(|(_, n)| n).sum();
        if self.completed > lines {
            out.push(("(none)".into(), self.completed - lines));
        }
        out
    }
}

/// `header.x-cache-status=HIT` → `x-cache-status: HIT` (the loadgen summary's key).
pub fn header_col(name: &str) -> Option<String> {
    let (h, v) = name.strip_prefix("header.")?.split_once('=')?;
    Some(format!("{h}: {v}"))
}

/// `status_429` / `s429` / `429` / `code_429` → 429.
pub fn status_col(name: &str) -> Option<u16> {
    let n = name
        .strip_prefix("status_")
        .or_else(|| name.strip_prefix("code_"))
        .or_else(|| name.strip_prefix('s'))
        .unwrap_or(name);
    let c: u16 = n.parse().ok()?;
    (100..=599).contains(&c).then_some(c)
}

/// `err_reset` / `error_reset` / `errors_reset` / `errors.reset` → `reset`.
pub fn error_col(name: &str) -> Option<&str> {
    ["errors_", "error_", "err_", "errors.", "error."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .filter(|k| !k.is_empty() && *k != "total")
}

fn add_row(c: &mut Counts, r: &SeriesRow) {
    let mut kinds = false;
    let mut total_errors = None;
    for (k, v) in &r.values {
        match k.as_str() {
            "sent" => c.sent += v,
            "completed" => c.completed += v,
            "body_bytes" => c.body_bytes += v,
            "errors" | "errors_total" | "error_total" => total_errors = Some(*v),
            _ => {
                if let Some(key) = header_col(k) {
                    *c.headers.entry(key).or_default() += v;
                } else if let Some(code) = status_col(k) {
                    *c.status.entry(code).or_default() += v;
                } else if let Some(kind) = error_col(k) {
                    kinds = true;
                    *c.errors.entry(kind.to_string()).or_default() += v;
                }
            }
        }
    }
    if let (false, Some(t)) = (kinds, total_errors) {
        *c.errors.entry("error".to_string()).or_default() += t;
    }
}

/// Sums rows of `population` (None: the `all` rows when present, else every population) with
/// `from <= second < to`.
pub fn window(rows: &[SeriesRow], population: Option<&str>, from: f64, to: f64) -> Counts {
    let has_all = rows.iter().any(|r| r.population == "all");
    let mut c = Counts::default();
    let mut secs = std::collections::BTreeSet::new();
    for r in rows {
        let t = f64::from(r.second);
        if t < from || t >= to {
            continue;
        }
        let want = match population {
            Some(p) => r.population == p,
            None => !has_all || r.population == "all",
        };
        if want {
            add_row(&mut c, r);
            secs.insert(r.second);
        }
    }
    c.seconds = secs.len() as u32;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: u32, p: &str, kv: &[(&str, f64)]) -> SeriesRow {
        SeriesRow {
            second: s,
            population: p.into(),
            values: kv.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn sums_windows_by_population() {
        let rows = vec![
            row(
                0,
                "a",
                &[
                    ("sent", 10.0),
                    ("completed", 9.0),
                    ("status_200", 8.0),
                    ("status_502", 1.0),
                    ("err_reset", 1.0),
                ],
            ),
            row(
                1,
                "a",
                &[("sent", 10.0), ("completed", 10.0), ("status_200", 10.0)],
            ),
            row(
                1,
                "b",
                &[("sent", 5.0), ("completed", 5.0), ("status_429", 5.0)],
            ),
        ];
        let a = window(&rows, Some("a"), 0.0, 2.0);
        assert_eq!((a.sent, a.completed, a.error_total()), (20.0, 19.0, 1.0));
        assert_eq!(a.status_matching(|c| c / 100 == 5), 1.0);
        let all = window(&rows, None, 1.0, 2.0);
        assert_eq!((all.sent, all.status[&429], all.seconds), (15.0, 5.0, 1));
    }

    #[test]
    fn splits_by_a_recorded_header() {
        let rows = vec![
            row(
                0,
                "a",
                &[
                    ("completed", 10.0),
                    ("status_200", 10.0),
                    ("header.x-cache-status=MISS", 2.0),
                    ("header.x-cache-status=HIT", 7.0),
                ],
            ),
            row(
                1,
                "a",
                &[("completed", 4.0), ("header.x-cache-status=HIT", 4.0)],
            ),
        ];
        let c = window(&rows, Some("a"), 0.0, 2.0);
        assert_eq!(c.status[&200], 10.0);
        assert_eq!(
            c.split_by("x-cache-status"),
            vec![
                ("HIT".to_string(), 11.0),
                ("MISS".to_string(), 2.0),
                ("(none)".to_string(), 1.0)
            ]
        );
        assert!(c.split_by("etag").iter().all(|(v, _)| v == "(none)"));
        assert_eq!(header_col("header.a=b=c").as_deref(), Some("a: b=c"));
    }

    #[test]
    fn recognises_columns() {
        assert_eq!(status_col("status_503"), Some(503));
        assert_eq!(status_col("s429"), Some(429));
        assert_eq!(status_col("sent"), None);
        assert_eq!(error_col("err_connect_refused"), Some("connect_refused"));
        assert_eq!(error_col("errors"), None);
    }
}
