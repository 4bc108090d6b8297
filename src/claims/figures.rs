//! Figures of a run for the ledger: dotted paths into summary.json, the small expressions of
//! `checks` (`saving(A, B)`), how values are printed, and the numbers an article quote states
//! (`"up to 30 %"` → 30, `"10K req/s"` → 10000) that a check's threshold must come from.

use crate::report::RunSummary;

/// The top-level keys of summary.json a path starts with.
const ROOTS: [&str; 8] = [
    "total",
    "populations",
    "phases",
    "components",
    "assertions",
    "faults",
    "timings",
    "provenance",
];

/// Splits a `measure` entry into its label and its path: `label=path`. Text before the first `=`
/// that starts with a summary key (`assertions.fails=3 probes.actual`) is part of the path, so a
/// label may hold dots (`/.env 404s=...`); without a label the path is its own label.
pub fn measure_label(entry: &str) -> (&str, &str) {
    match entry.split_once('=') {
        Some((label, path))
            if !label.trim().is_empty()
                && !ROOTS.iter().any(|r| label.starts_with(&format!("{r}."))) =>
        {
            (label.trim(), path.trim())
        }
        _ => (entry, entry),
    }
}

/// Whether a measure path is an expression for [`evaluate_in`] (a function of paths, or a path
/// into another variant's run) rather than a plain path, whose names may hold parentheses.
pub fn is_expression(path: &str) -> bool {
    path.starts_with('@')
        || ["saving(", "ratio(", "diff(", "percent(", "sum("]
            .iter()
            .any(|f| path.starts_with(f))
}

/// Looks up a dotted path (`total.status.429`, `phases.spike.latency_ms.p99`: arrays of named
/// objects are indexed by `name`, and a name may itself contain dots: `assertions.api.1 up.actual`
/// finds the assertion named `api.1 up`) in a summary.
pub fn measure(s: &RunSummary, path: &str) -> Option<serde_json::Value> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut v = serde_json::to_value(s).ok()?;
    let mut i = 0;
    while i < segs.len() {
        v = match v {
            serde_json::Value::Object(mut m) => {
                i += 1;
                m.remove(segs[i - 1])?
            }
            serde_json::Value::Array(a) => {
                // the longest run of segments that names an element
                let (k, x) = (1..=segs.len() - i).rev().find_map(|k| {
                    let name = segs[i..i + k].join(".");
                    a.iter()
                        .find(|x| x.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
                        .map(|x| (k, x.clone()))
                })?;
                i += k;
                x
            }
            _ => return None,
        };
    }
    Some(v)
}

/// A number at `path`; a status or error count absent from the run is 0 (none happened).
pub fn number(s: &RunSummary, path: &str) -> Option<f64> {
    match measure(s, path) {
        Some(v) => v.as_f64(),
        None if path.contains(".status.") || path.contains(".errors.") => {
            let parent = &path[..path.rfind('.')?];
            measure(s, parent).filter(|v| v.is_object()).map(|_| 0.0)
        }
        None => None,
    }
}

/// Other variants' runs of the same scenario, by variant (`at-upstream`): the summary of its
/// latest sound run, or why there is none.
pub type Others = std::collections::BTreeMap<String, Result<RunSummary, String>>;

/// The variants an expression reads besides the judged run: `@VARIANT:path` names them.
pub fn variants_in(expr: &str) -> Vec<String> {
    expr.split('@')
        .skip(1)
        .filter_map(|x| x.split_once(':').map(|(v, _)| v.trim().to_string()))
        .collect()
}

/// Evaluates a check's value on the judged run alone (see [`evaluate_in`]).
pub fn evaluate(s: &RunSummary, expr: &str) -> Result<f64, String> {
    evaluate_in(s, &Others::new(), expr)
}

/// Evaluates a check's value: a path (`@VARIANT:path` reads another variant's run), or
/// `saving(A, B)` = (A - B) / A x 100, `ratio(A, B)` = A / B, `diff(A, B)` = A - B,
/// `percent(A, B)` = A / B x 100, `sum(A, B)` = A + B, nested (`diff(diff(A, B), C)`). Err
/// names what is missing.
pub fn evaluate_in(s: &RunSummary, others: &Others, expr: &str) -> Result<f64, String> {
    let expr = expr.trim();
    let Some((func, rest)) = expr.split_once('(') else {
        if let Some((variant, path)) = expr.strip_prefix('@').and_then(|e| e.split_once(':')) {
            let o = match others.get(variant.trim()) {
                Some(Ok(o)) => o,
                Some(Err(why)) => return Err(format!("[{variant}]: {why}")),
                None => return Err(format!("no run of variant {variant} was looked up")),
            };
            return number(o, path.trim())
                .ok_or_else(|| format!("the run of {variant} has no figure {path}"));
        }
        return number(s, expr).ok_or_else(|| format!("the run has no figure {expr}"));
    };
    let args = rest
        .strip_suffix(')')
        .ok_or_else(|| format!("{expr}: missing `)`"))?;
    let (a, b) = split_args(args).ok_or_else(|| format!("{expr}: two arguments expected"))?;
    let a = evaluate_in(s, others, a)?;
    let b = evaluate_in(s, others, b)?;
    let v = match func.trim() {
        "saving" => (a - b) / a * 100.0,
        "sum" => a + b,
        "ratio" => a / b,
        "diff" => a - b,
        "percent" => a / b * 100.0,
        f => return Err(format!("{expr}: unknown function {f:?}")),
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{expr}: not a number (a divisor is 0)"))
    }
}

/// Splits `A, B` at the comma outside parentheses, so arguments may be expressions themselves:
/// `diff(A, B), diff(C, D)`.
fn split_args(args: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return Some((&args[..i], &args[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Whether `actual OP limit` holds.
pub fn compare(actual: f64, op: &str, limit: f64) -> Result<bool, String> {
    Ok(match op {
        "<" => actual < limit,
        "<=" => actual <= limit,
        ">" => actual > limit,
        ">=" => actual >= limit,
        o => return Err(format!("unknown comparison {o:?} (<, <=, >, >=)")),
    })
}

/// The numbers an article quote states: `1-2 ms` → 1, 2; `10K` → 10000; `40,000` → 40000;
/// `85 % -> 55 %` → 85, 55.
pub fn article_numbers(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut s = String::new();
        while i < chars.len() {
            let c = chars[i];
            let digit_follows = chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
            if c.is_ascii_digit() || (c == '.' && digit_follows) {
                s.push(c);
            } else if c != ',' || !digit_follows {
                break;
            }
            i += 1;
        }
        let mut v: f64 = s.parse().unwrap_or(0.0);
        if matches!(chars.get(i), Some('K' | 'k')) {
            v *= 1000.0;
        }
        out.push(v);
    }
    out
}

/// Whether `limit` comes from the article's words: one of its numbers, or a ratio, percentage
/// or saving of two of them (`85 % -> 55 %` gives 55 / 85 = 0.647, 64.7 and 35.3), to 0.05.
pub fn from_article(article: &str, limit: f64) -> bool {
    let n = article_numbers(article);
    let close = |x: f64| (x - limit).abs() <= 0.05;
    n.iter().any(|a| close(*a))
        || n.iter().any(|a| {
            n.iter()
                .filter(|b| **b != 0.0 && *a != 0.0)
                .any(|b| close(a / b) || close(a / b * 100.0) || close((a - b) / a * 100.0))
        })
}

/// A measured value for the page: whole numbers and non-numbers as JSON (`2350.0`), others with
/// one decimal from 10 up (`21.108` → `21.1`) and up to three below (`0.141`).
pub fn show(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => v.to_string(),
        Some(x) => show_f64(x),
        None => v.to_string(),
    }
}

/// A number for the page: one decimal from 10 up, up to three below.
pub fn show_f64(x: f64) -> String {
    crate::report::soundness::short(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_numbers_read_the_quote() {
        assert_eq!(article_numbers("up to 30 %"), vec![30.0]);
        assert_eq!(article_numbers("10K req/s"), vec![10000.0]);
        assert_eq!(article_numbers("1-2 ms per request"), vec![1.0, 2.0]);
        assert_eq!(
            article_numbers("40,000 requests, 85% -> 55%"),
            vec![40000.0, 85.0, 55.0]
        );
        assert_eq!(article_numbers("1.5 s, then 2."), vec![1.5, 2.0]);
        assert!(article_numbers("no numbers").is_empty());
        assert!(from_article("85 % -> 55 %", 35.3));
        assert!(from_article("85 % -> 55 %", 64.7));
        assert!(from_article("up to 30 %", 30.0));
        assert!(!from_article("up to 30 %", 8.0));
        assert!(!from_article("85 % -> 55 %", 50.0));
    }

    #[test]
    fn check_expressions() {
        let mut s = RunSummary::default();
        s.total.status.insert("200".into(), 80.0);
        s.total.completed = 100.0;
        assert_eq!(evaluate(&s, "total.completed"), Ok(100.0));
        assert_eq!(
            evaluate(&s, "saving(total.completed, total.status.200)"),
            Ok(20.0)
        );
        assert_eq!(
            evaluate(&s, "ratio(total.completed, total.status.200)"),
            Ok(1.25)
        );
        assert_eq!(
            evaluate(&s, "diff(total.status.200, total.completed)"),
            Ok(-20.0)
        );
        assert_eq!(
            evaluate(&s, "percent(total.status.200, total.completed)"),
            Ok(80.0)
        );
        // a status that never happened counts 0; a figure that does not exist is an error
        assert_eq!(evaluate(&s, "total.status.502"), Ok(0.0));
        assert!(evaluate(&s, "total.nope").is_err());
        assert!(evaluate(&s, "ratio(total.completed, total.status.502)").is_err());
        assert!(evaluate(&s, "max(total.completed, total.completed)").is_err());
        assert_eq!(
            evaluate(&s, "sum(total.completed, total.status.200)"),
            Ok(180.0)
        );
        // arguments may be expressions, in either place
        assert_eq!(
            evaluate(
                &s,
                "diff(diff(total.completed, total.status.200), sum(total.status.200, total.completed))"
            ),
            Ok(-160.0)
        );
        let mut other = RunSummary::default();
        other.total.completed = 50.0;
        let mut others = Others::new();
        others.insert("before".into(), Ok(other));
        others.insert("busy".into(), Err("machine busy".into()));
        assert_eq!(
            evaluate_in(
                &s,
                &others,
                "saving(total.completed, @before:total.completed)"
            ),
            Ok(50.0)
        );
        assert!(
            evaluate_in(&s, &others, "@busy:total.completed")
                .is_err_and(|e| e.contains("machine busy"))
        );
        assert!(evaluate(&s, "@before:total.completed").is_err());
        assert_eq!(
            variants_in("saving(@at-upstream:components.app.cpu_avg, sum(a, @x:b))"),
            vec!["at-upstream".to_string(), "x".to_string()]
        );
        assert_eq!(compare(31.0, ">=", 30.0), Ok(true));
        assert_eq!(compare(29.0, ">=", 30.0), Ok(false));
        assert!(compare(1.0, "==", 1.0).is_err());
    }

    #[test]
    fn measure_entries_take_an_optional_label() {
        assert_eq!(
            measure_label("total.status.429"),
            ("total.status.429", "total.status.429")
        );
        assert_eq!(
            measure_label("429s=total.status.429"),
            ("429s", "total.status.429")
        );
        assert_eq!(
            measure_label("assertions.fails=3 probes.actual"),
            (
                "assertions.fails=3 probes.actual",
                "assertions.fails=3 probes.actual"
            )
        );
        assert_eq!(
            measure_label("/.env 404s=populations.probe-env.status.404"),
            ("/.env 404s", "populations.probe-env.status.404")
        );
        assert!(is_expression("@at-upstream:components.app.cpu_avg"));
        assert!(is_expression("saving(a, b)"));
        assert!(!is_expression("assertions.sync I/O (> 90 req/s).actual"));
        assert_eq!(show(&serde_json::json!(2350.0)), "2350.0");
        assert_eq!(show(&serde_json::json!(7)), "7");
        assert_eq!(show(&serde_json::json!(21.108732872)), "21.1");
        assert_eq!(show(&serde_json::json!(0.141)), "0.141");
        assert_eq!(show(&serde_json::json!(0.5)), "0.5");
        assert_eq!(show(&serde_json::json!("x")), "\"x\"");
    }
}
