//! Assertion metrics and comparisons: the `metric = "…"`, `op = "…"`, `value = …` of an
//! `[[assert]]`, parsed into types with their units.

use std::fmt;

/// Which status codes a status metric counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusSel {
    /// One code (`429`).
    Code(u16),
    /// A class (`5xx` → 5).
    Class(u8),
}

impl StatusSel {
    /// True when `code` is selected.
    pub fn matches(&self, code: u16) -> bool {
        match self {
            StatusSel::Code(c) => *c == code,
            StatusSel::Class(k) => code / 100 == u16::from(*k),
        }
    }
}

impl fmt::Display for StatusSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusSel::Code(c) => write!(f, "{c}"),
            StatusSel::Class(k) => write!(f, "{k}xx"),
        }
    }
}

/// CPU / RSS statistic of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Mean over the window.
    Avg,
    /// Maximum sample.
    Max,
}

/// A metric an assertion checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// Latency percentile (0–100) of completed requests, µs; `100` = max.
    Latency(f64),
    /// Fraction of finished requests (responses + errors) with the status.
    StatusRate(StatusSel),
    /// Count of responses with the status.
    StatusCount(StatusSel),
    /// Fraction of finished requests that failed (kind None = any).
    ErrorRate(Option<String>),
    /// Count of failures (kind None = any).
    ErrorCount(Option<String>),
    /// Bodies lost: failures of kind `truncated` (and `reset` after the response started).
    Lost,
    /// Bodies whose checksum did not match (`corrupt`).
    Corrupt,
    /// Completed requests per second over the window.
    AchievedRate,
    /// Requests per second a fake upstream pool received over the window (its admin
    /// counters): the origin load behind a cache.
    UpstreamRate(String),
    /// Completed requests.
    Requests,
    /// Response body bytes received per completed response (as on the wire: compressed when
    /// the proxy gzipped, chunk framing removed).
    BodyBytes,
    /// Loadgen schedule lag (whole run only): p99 (`false`) or max (`true`), µs.
    ScheduleLag(bool),
    /// CPU% of a component (100 = one core).
    Cpu(String, Stat),
    /// RSS of a component in MiB.
    RssMax(String),
    /// The most responses with the status that any one client address got (whole run only;
    /// populations with `source_addresses`).
    ClientMax(StatusSel),
    /// Distinct client addresses that sent requests (whole run only).
    Clients,
    /// The highest sampled value in the window of a fake upstream counter (`crashes`,
    /// `restarts`, …) or of `oom_kills` (pools with `memory_limit`), of a pool or `POOL.I`.
    Upstream(String, String),
    /// Context switches (voluntary + involuntary, every thread) of a component per second.
    Switches(String),
    /// Lines of the proxy's access logs (whole run), all or those whose request target starts
    /// with the prefix (`log_lines./health`).
    LogLines(Option<String>),
    /// Sessions of the loadgen that ended this way (whole run): `closed_by_server` (an idle
    /// keep-alive connection the server closed during a closed-loop client's think time, or a
    /// slow client's connection), `held_to_end`, `ws_close_1001`, …
    Outcome(String),
    /// Recorded response header lines per response (whole run): `header_rate.NAME` counts
    /// every `NAME` line, `header_rate.NAME=TEXT` those whose value contains TEXT. Needs the
    /// population's `record_headers` to name it.
    HeaderRate(String, Option<String>),
}

/// The counters `upstream.POOL.KEY` reads (sampled from the fake's admin API and the memory
/// cgroups).
pub const UPSTREAM_KEYS: &[&str] = &[
    "crashes",
    "restarts",
    "oom_kills",
    "requests",
    "in_flight",
    "queued",
    "connections",
    "workers",
    "responses_5xx",
];

/// The unit a metric's limit is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Duration string (`"250ms"`) or a number of milliseconds; stored in µs.
    Micros,
    /// Fraction 0–1 or a percentage string (`"1%"`).
    Fraction,
    /// Plain number.
    Count,
    /// Requests per second.
    PerSecond,
    /// Percent of one core (`150` or `"150%"`).
    Percent,
    /// MiB (number) or a size string (`"200MiB"`).
    Mib,
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Parses `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub fn parse(s: &str) -> Result<Op, String> {
        Ok(match s.trim() {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" | "=" => Op::Eq,
            "!=" => Op::Ne,
            other => return Err(format!("unknown op {other:?} (one of < <= > >= == !=)")),
        })
    }

    /// `actual op limit`.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => (actual - limit).abs() < 1e-9,
            Op::Ne => (actual - limit).abs() >= 1e-9,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        })
    }
}

fn status_sel(s: &str) -> Result<StatusSel, String> {
    let b = s.as_bytes();
    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && &s[1..] == "xx" {
        return Ok(StatusSel::Class(b[0] - b'0'));
    }
    match s.parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) => Ok(StatusSel::Code(c)),
        _ => Err(format!(
            "{s:?} is not a status code (e.g. 429) or class (e.g. 5xx)"
        )),
    }
}

/// `pNN` of `latency.pNN` (`s` is the whole metric, for the message): 0 to 100.
fn percentile(s: &str, p: &str) -> Result<f64, String> {
    let v: f64 = p
        .strip_prefix('p')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad percentile {p:?} in {s:?} (e.g. p99, p99.9)"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("percentile {v} out of 0..100 in {s:?}"));
    }
    Ok(v)
}

/// `upstream.POOL.KEY` from `POOL.KEY` (`s` is the whole metric).
fn upstream_counter(s: &str, r: &str) -> Result<Metric, String> {
    match r.rsplit_once('.') {
        Some((c, k)) if UPSTREAM_KEYS.contains(&k) => {
            Ok(Metric::Upstream(c.to_string(), k.to_string()))
        }
        _ => Err(format!(
            "metric {s:?}: upstream.POOL.KEY with KEY one of {}",
            UPSTREAM_KEYS.join(", ")
        )),
    }
}

/// `header_rate.NAME[=TEXT]` from `NAME[=TEXT]` (`s` is the whole metric).
fn header_rate(s: &str, h: &str) -> Result<Metric, String> {
    let (name, text) = match h.split_once('=') {
        Some((n, t)) => (n, Some(t.to_string())),
        None => (h, None),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("metric {s:?}: {name:?} is not a header name"));
    }
    Ok(Metric::HeaderRate(name.to_ascii_lowercase(), text))
}

const METRICS_HELP: &str = "latency.pNN (latency.p99, latency.p99.9, latency.max), \
status_rate.CODE|CLASS, status_count.CODE|CLASS, error_rate[.KIND], error_count[.KIND], lost, \
corrupt, achieved_rate, upstream_rate.POOL, requests, body_bytes_per_response, schedule_lag.p99|max, cpu.COMPONENT, cpu_max.COMPONENT, \
rss_max.COMPONENT, client_max.status_count.CODE|CLASS, clients, upstream.POOL.KEY, ctx_switches.COMPONENT, log_lines[.PATH_PREFIX], outcome_count.OUTCOME, header_rate.NAME[=TEXT]";

impl Metric {
    /// Parses a metric name; components are checked later against the scenario.
    pub fn parse(s: &str) -> Result<Metric, String> {
        let s = s.trim();
        let (head, rest) = match s.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (s, None),
        };
        let need = |what: &str| format!("metric {s:?} needs {what} (e.g. {head}.{what})");
        Ok(match (head, rest) {
            ("latency", Some("max")) => Metric::Latency(100.0),
            ("latency", Some(p)) => Metric::Latency(percentile(s, p)?),
            ("latency", None) => return Err(need("p99")),
            ("status_rate", Some(c)) => Metric::StatusRate(status_sel(c)?),
            ("status_count", Some(c)) => Metric::StatusCount(status_sel(c)?),
            ("status_rate" | "status_count", None) => return Err(need("5xx")),
            ("error_rate", k) => Metric::ErrorRate(k.map(str::to_string)),
            ("error_count", k) => Metric::ErrorCount(k.map(str::to_string)),
            ("lost", None) => Metric::Lost,
            ("corrupt", None) => Metric::Corrupt,
            ("achieved_rate", None) => Metric::AchievedRate,
            ("upstream_rate", Some(p)) => Metric::UpstreamRate(p.to_string()),
            ("upstream_rate", None) => return Err(need("api")),
            ("requests", None) => Metric::Requests,
            ("body_bytes_per_response", None) => Metric::BodyBytes,
            ("schedule_lag", Some("p99")) => Metric::ScheduleLag(false),
            ("schedule_lag", Some("max")) => Metric::ScheduleLag(true),
            ("cpu", Some(c)) => Metric::Cpu(c.to_string(), Stat::Avg),
            ("cpu_max", Some(c)) => Metric::Cpu(c.to_string(), Stat::Max),
            ("rss_max", Some(c)) => Metric::RssMax(c.to_string()),
            ("client_max", Some(r)) => match r.split_once('.') {
                Some(("status_count", c)) => Metric::ClientMax(status_sel(c)?),
                _ => return Err(need("status_count.429")),
            },
            ("client_max", None) => return Err(need("status_count.429")),
            ("clients", None) => Metric::Clients,
            ("upstream", Some(r)) => upstream_counter(s, r)?,
            ("ctx_switches", Some(c)) => Metric::Switches(c.to_string()),
            ("cpu" | "cpu_max" | "rss_max" | "ctx_switches", None) => return Err(need("proxy")),
            ("outcome_count", Some(k)) => Metric::Outcome(k.to_string()),
            ("header_rate", Some(h)) => header_rate(s, h)?,
            ("header_rate", None) => return Err(need("cache-control")),
            ("outcome_count", None) => return Err(need("closed_by_server")),
            ("log_lines", None) => Metric::LogLines(None),
            ("log_lines", Some(p)) if p.starts_with('/') => Metric::LogLines(Some(p.to_string())),
            ("log_lines", Some(p)) => {
                return Err(format!(
                    "metric {s:?}: {p:?} is not a path prefix (e.g. log_lines./health)"
                ));
            }
            _ => return Err(format!("unknown metric {s:?}; known: {METRICS_HELP}")),
        })
    }

    /// The component a CPU/RSS metric refers to.
    pub fn component(&self) -> Option<&str> {
        match self {
            Metric::Cpu(c, _)
            | Metric::RssMax(c)
            | Metric::Upstream(c, _)
            | Metric::Switches(c) => Some(c),
            _ => None,
        }
    }

    /// The unit of the limit.
    pub fn unit(&self) -> Unit {
        match self {
            Metric::Latency(_) | Metric::ScheduleLag(_) => Unit::Micros,
            Metric::StatusRate(_) | Metric::ErrorRate(_) => Unit::Fraction,
            Metric::StatusCount(_)
            | Metric::ErrorCount(_)
            | Metric::Lost
            | Metric::Corrupt
            | Metric::Requests
            | Metric::BodyBytes
            | Metric::ClientMax(_)
            | Metric::Clients
            | Metric::Upstream(..)
            | Metric::LogLines(_)
            | Metric::Outcome(_)
            | Metric::HeaderRate(..) => Unit::Count,
            Metric::AchievedRate | Metric::Switches(_) | Metric::UpstreamRate(_) => Unit::PerSecond,
            Metric::Cpu(..) => Unit::Percent,
            Metric::RssMax(_) => Unit::Mib,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency(p) if *p >= 100.0 => write!(f, "latency.max"),
            Metric::Latency(p) => write!(f, "latency.p{p}"),
            Metric::StatusRate(s) => write!(f, "status_rate.{s}"),
            Metric::StatusCount(s) => write!(f, "status_count.{s}"),
            Metric::ErrorRate(None) => write!(f, "error_rate"),
            Metric::ErrorRate(Some(k)) => write!(f, "error_rate.{k}"),
            Metric::ErrorCount(None) => write!(f, "error_count"),
            Metric::ErrorCount(Some(k)) => write!(f, "error_count.{k}"),
            Metric::Lost => write!(f, "lost"),
            Metric::Corrupt => write!(f, "corrupt"),
            Metric::AchievedRate => write!(f, "achieved_rate"),
            Metric::UpstreamRate(p) => write!(f, "upstream_rate.{p}"),
            Metric::Requests => write!(f, "requests"),
            Metric::BodyBytes => write!(f, "body_bytes_per_response"),
            Metric::ScheduleLag(false) => write!(f, "schedule_lag.p99"),
            Metric::ScheduleLag(true) => write!(f, "schedule_lag.max"),
            Metric::Cpu(c, Stat::Avg) => write!(f, "cpu.{c}"),
            Metric::Cpu(c, Stat::Max) => write!(f, "cpu_max.{c}"),
            Metric::RssMax(c) => write!(f, "rss_max.{c}"),
            Metric::ClientMax(s) => write!(f, "client_max.status_count.{s}"),
            Metric::Clients => write!(f, "clients"),
            Metric::Upstream(c, k) => write!(f, "upstream.{c}.{k}"),
            Metric::Switches(c) => write!(f, "ctx_switches.{c}"),
            Metric::LogLines(None) => write!(f, "log_lines"),
            Metric::LogLines(Some(p)) => write!(f, "log_lines.{p}"),
            Metric::Outcome(k) => write!(f, "outcome_count.{k}"),
            Metric::HeaderRate(n, None) => write!(f, "header_rate.{n}"),
            Metric::HeaderRate(n, Some(t)) => write!(f, "header_rate.{n}={t}"),
        }
    }
}

/// Parses an assertion's `value` in the metric's unit.
pub fn parse_limit(unit: Unit, v: &toml::Value) -> Result<f64, String> {
    let num = match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    };
    let text = v.as_str().map(str::trim);
    let out = match (unit, num, text) {
        (Unit::Micros, Some(ms), _) => ms * 1000.0,
        (Unit::Micros, None, Some(t)) => humantime::parse_duration(t)
            .map(|d| d.as_secs_f64() * 1e6)
            .map_err(|e| format!("bad duration {t:?}: {e} (e.g. \"250ms\")"))?,
        (Unit::Fraction, Some(f), _) if (0.0..=1.0).contains(&f) => f,
        (Unit::Fraction, Some(f), _) => {
            return Err(format!("a rate is a fraction 0..1 (or \"{f}%\"), not {f}"));
        }
        (Unit::Fraction | Unit::Percent, None, Some(t)) => {
            let p: f64 = t
                .strip_suffix('%')
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| format!("bad percentage {t:?} (e.g. \"1%\")"))?;
            if unit == Unit::Fraction { p / 100.0 } else { p }
        }
        (Unit::Count | Unit::PerSecond | Unit::Percent | Unit::Mib, Some(n), _) => n,
        (Unit::Mib, None, Some(t)) => parse_mib(t)?,
        _ => return Err(format!("bad value {v} for this metric")),
    };
    if out < 0.0 {
        return Err(format!("value {v} must not be negative"));
    }
    Ok(out)
}

fn parse_mib(t: &str) -> Result<f64, String> {
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (n, u) = t.split_at(split);
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("bad size {t:?} (e.g. \"200MiB\")"))?;
    let mul = match u.trim() {
        "KiB" | "KB" | "k" => 1.0 / 1024.0,
        "MiB" | "MB" | "M" | "" => 1.0,
        "GiB" | "GB" | "G" => 1024.0,
        other => return Err(format!("unknown size unit {other:?} (KiB, MiB, GiB)")),
    };
    Ok(n * mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metrics() {
        assert_eq!(Metric::parse("latency.p99").unwrap(), Metric::Latency(99.0));
        assert_eq!(
            Metric::parse("latency.p99.9").unwrap(),
            Metric::Latency(99.9)
        );
        assert_eq!(
            Metric::parse("latency.max").unwrap(),
            Metric::Latency(100.0)
        );
        assert_eq!(
            Metric::parse("status_rate.5xx").unwrap(),
            Metric::StatusRate(StatusSel::Class(5))
        );
        assert_eq!(
            Metric::parse("status_count.429").unwrap(),
            Metric::StatusCount(StatusSel::Code(429))
        );
        assert_eq!(
            Metric::parse("error_rate").unwrap(),
            Metric::ErrorRate(None)
        );
        assert_eq!(
            Metric::parse("cpu.proxy").unwrap(),
            Metric::Cpu("proxy".into(), Stat::Avg)
        );
        assert_eq!(
            Metric::parse("client_max.status_count.429").unwrap(),
            Metric::ClientMax(StatusSel::Code(429))
        );
        assert_eq!(Metric::parse("clients").unwrap(), Metric::Clients);
        assert_eq!(
            Metric::parse("upstream.api.0.crashes").unwrap(),
            Metric::Upstream("api.0".into(), "crashes".into())
        );
        assert_eq!(
            Metric::parse("ctx_switches.api.0").unwrap(),
            Metric::Switches("api.0".into())
        );
        assert_eq!(Metric::parse("log_lines").unwrap(), Metric::LogLines(None));
        let health = Metric::parse("log_lines./health.json").unwrap();
        assert_eq!(health, Metric::LogLines(Some("/health.json".into())));
        assert_eq!(health.to_string(), "log_lines./health.json");
        assert_eq!(health.unit(), Unit::Count);
        assert_eq!(
            Metric::parse("outcome_count.closed_by_server").unwrap(),
            Metric::Outcome("closed_by_server".into())
        );
        let cc = Metric::parse("header_rate.Cache-Control=public, immutable").unwrap();
        assert_eq!(
            cc,
            Metric::HeaderRate("cache-control".into(), Some("public, immutable".into()))
        );
        assert_eq!(
            cc.to_string(),
            "header_rate.cache-control=public, immutable"
        );
        for bad in [
            "header_rate",
            "header_rate.cache control",
            "outcome_count",
            "ctx_switches",
            "log_lines.health",
            "latency",
            "latency.x",
            "status_rate.9xx",
            "status_rate.700",
            "cpu",
            "client_max",
            "client_max.latency.p99",
            "upstream.api",
            "upstream.api.bogus",
            "foo",
        ] {
            assert!(Metric::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_limits_in_units() {
        let s = |x: &str| toml::Value::String(x.into());
        assert_eq!(parse_limit(Unit::Micros, &s("250ms")).unwrap(), 250_000.0);
        assert_eq!(
            parse_limit(Unit::Micros, &toml::Value::Integer(2)).unwrap(),
            2000.0
        );
        assert_eq!(parse_limit(Unit::Fraction, &s("1%")).unwrap(), 0.01);
        assert!(parse_limit(Unit::Fraction, &toml::Value::Float(5.0)).is_err());
        assert!(parse_limit(Unit::Micros, &s("250 parsecs")).is_err());
        assert_eq!(parse_limit(Unit::Mib, &s("1GiB")).unwrap(), 1024.0);
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0) && Op::Le.holds(2.0, 2.0));
    }
}
