//! Parse and check a route table: TOML text → [`AppSpec`] → [`App`], with errors that name the
//! offending key (`routes[2].latency.p99_ms`).

use super::spec::{AppSpec, FaultSpec, LatencySpec, RouteSpec};
use super::{App, Faults, Route};
use crate::bytes_body;
use crate::latency::Latency;
use bytes::Bytes;
use rand_distr::{Normal, Pareto};
use std::path::Path;
use std::time::Duration;

/// A route table that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The file could not be read.
    #[error("cannot read route table {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// TOML syntax error or a key/type that does not fit the schema.
    #[error("route table {origin}: {message}")]
    Syntax {
        /// File name or `<inline>`.
        origin: String,
        /// toml's message (names the key and line).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("route table: {key}: {message}")]
    Invalid {
        /// Dotted key path, e.g. `routes[0].latency.p99_ms`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> AppError {
    AppError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Reads and validates a route table file.
pub fn load_file(path: &Path) -> Result<App, AppError> {
    let text = std::fs::read_to_string(path).map_err(|source| AppError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_str(&text, &path.display().to_string())
}

/// Parses TOML text (`origin` names it in errors) and validates it.
pub fn parse_str(text: &str, origin: &str) -> Result<App, AppError> {
    let spec: AppSpec = toml::from_str(text).map_err(|e| AppError::Syntax {
        origin: origin.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    spec.validate()
}

impl AppSpec {
    /// Checks every value and builds the domain [`App`].
    pub fn validate(&self) -> Result<App, AppError> {
        let routes = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| r.validate(&format!("routes[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(App {
            routes,
            include_default_routes: self.include_default_routes,
        })
    }
}

impl RouteSpec {
    /// Checks this route; `key` is its position, e.g. `routes[3]`.
    pub fn validate(&self, key: &str) -> Result<Route, AppError> {
        let method = match self.method.as_str() {
            "*" => None,
            m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) => Some(m.to_string()),
            m => {
                return Err(invalid(
                    format!("{key}.method"),
                    format!("{m:?} is not an upper-case HTTP method or \"*\""),
                ));
            }
        };
        let Some(rest) = self.path.strip_prefix('/') else {
            return Err(invalid(
                format!("{key}.path"),
                format!("{:?} must start with '/'", self.path),
            ));
        };
        if self.path.contains('?') {
            return Err(invalid(
                format!("{key}.path"),
                "must not contain a query string",
            ));
        }
        let mut segments = Vec::new();
        for seg in rest.split('/') {
            if seg.starts_with('{') && seg.ends_with('}') && seg.len() > 2 {
                segments.push(None);
            } else if seg.contains(['{', '}']) {
                return Err(invalid(
                    format!("{key}.path"),
                    format!("bad parameter segment {seg:?}"),
                ));
            } else {
                segments.push(Some(seg.to_string()));
            }
        }
        if !(100..=599).contains(&self.status) {
            return Err(invalid(
                format!("{key}.status"),
                format!("{} is not in 100..=599", self.status),
            ));
        }
        let latency = match &self.latency {
            Some(l) => latency(l, &format!("{key}.latency"))?,
            None => Latency::ZERO,
        };
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(invalid(
                    format!("{key}.headers"),
                    format!("bad header name {name:?}"),
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(invalid(
                    format!("{key}.headers.{name}"),
                    "value contains CR or LF",
                ));
            }
            headers.push((name.to_ascii_lowercase(), value.clone()));
        }
        let (body, content_type) = match (&self.body, self.body_bytes) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    format!("{key}.body_bytes"),
                    "give either body or body_bytes, not both",
                ));
            }
            (Some(text), None) => (Bytes::from(text.clone()), "application/json"),
            (None, Some(n)) => {
                if n > 1 << 30 {
                    return Err(invalid(
                        format!("{key}.body_bytes"),
                        format!("{n} is larger than 1 GiB"),
                    ));
                }
                let b = bytes_body::pattern(n as usize);
                headers.push(("x-body-sha256".to_string(), bytes_body::sha256_hex(&b)));
                (Bytes::from(b), "application/octet-stream")
            }
            (None, None) => (
                Bytes::from_static(b"{\"message\":\"Hello World\"}"),
                "application/json",
            ),
        };
        let content_type = Some(
            self.content_type
                .clone()
                .unwrap_or_else(|| content_type.to_string()),
        );
        let faults = faults(&self.faults, &format!("{key}.faults"))?;
        let require = super::require::parse(&self.require_headers, key)?;
        Ok(Route {
            name: format!("{} {}", self.method, self.path),
            method,
            segments,
            kind: self.kind,
            latency,
            cpu: Duration::from_micros(self.cpu_us),
            status: self.status,
            headers,
            body,
            content_type,
            chunked: self.chunked,
            health: self.health,
            websocket: self.websocket,
            faults,
            require,
        })
    }
}

fn non_negative(v: f64, key: String) -> Result<f64, AppError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(key, format!("{v} must be a finite number >= 0")))
    }
}

fn positive(v: f64, key: String) -> Result<f64, AppError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(key, format!("{v} must be a finite number > 0")))
    }
}

/// Checks a latency distribution; `key` is its dotted path.
pub fn latency(spec: &LatencySpec, key: &str) -> Result<Latency, AppError> {
    Ok(match spec {
        LatencySpec::Fixed { ms } => Latency::Fixed(non_negative(*ms, format!("{key}.ms"))?),
        LatencySpec::Uniform { min_ms, max_ms } => {
            let lo = non_negative(*min_ms, format!("{key}.min_ms"))?;
            let hi = non_negative(*max_ms, format!("{key}.max_ms"))?;
            if hi < lo {
                return Err(invalid(
                    format!("{key}.max_ms"),
                    format!("{hi} is below min_ms {lo}"),
                ));
            }
            Latency::Uniform(lo, hi)
        }
        LatencySpec::Normal { mean_ms, stddev_ms } => {
            let m = non_negative(*mean_ms, format!("{key}.mean_ms"))?;
            let s = non_negative(*stddev_ms, format!("{key}.stddev_ms"))?;
            Latency::Normal(Normal::new(m, s).map_err(|e| invalid(key, e.to_string()))?)
        }
        LatencySpec::Lognormal { median_ms, p99_ms } => {
            let m = positive(*median_ms, format!("{key}.median_ms"))?;
            let p = positive(*p99_ms, format!("{key}.p99_ms"))?;
            if p < m {
                return Err(invalid(
                    format!("{key}.p99_ms"),
                    format!("{p} is below median_ms {m}"),
                ));
            }
            Latency::lognormal(m, p).ok_or_else(|| invalid(key, "invalid log-normal parameters"))?
        }
        LatencySpec::Pareto {
            scale_ms,
            shape,
            max_ms,
        } => {
            let s = positive(*scale_ms, format!("{key}.scale_ms"))?;
            let a = positive(*shape, format!("{key}.shape"))?;
            let cap = match max_ms {
                Some(c) => {
                    let c = positive(*c, format!("{key}.max_ms"))?;
                    if c < s {
                        return Err(invalid(
                            format!("{key}.max_ms"),
                            format!("{c} is below scale_ms {s}"),
                        ));
                    }
                    Some(c)
                }
                None => None,
            };
            Latency::Pareto(
                Pareto::new(s, a).map_err(|e| invalid(key, e.to_string()))?,
                cap,
            )
        }
        LatencySpec::Mixture { parts } => {
            if parts.is_empty() {
                return Err(invalid(
                    format!("{key}.parts"),
                    "a mixture needs at least one part",
                ));
            }
            let mut total = 0.0;
            let mut built = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                total += positive(p.weight, format!("{key}.parts[{i}].weight"))?;
                built.push((
                    total,
                    latency(&p.latency, &format!("{key}.parts[{i}].latency"))?,
                ));
            }
            Latency::Mixture(built.into_iter().map(|(c, l)| (c / total, l)).collect())
        }
    })
}

fn faults(spec: &FaultSpec, key: &str) -> Result<Faults, AppError> {
    let rates = [
        ("error_500", spec.error_500),
        ("reset", spec.reset),
        ("hang", spec.hang),
        ("truncate", spec.truncate),
        ("trickle", spec.trickle),
    ];
    let mut cumulative = [0.0; 5];
    let mut sum = 0.0;
    for (i, (name, rate)) in rates.iter().enumerate() {
        if !(rate.is_finite() && (0.0..=1.0).contains(rate)) {
            return Err(invalid(
                format!("{key}.{name}"),
                format!("{rate} is not a probability in [0, 1]"),
            ));
        }
        sum += rate;
        cumulative[i] = sum;
    }
    if sum > 1.0 + 1e-9 {
        return Err(invalid(
            key,
            format!("fault rates add up to {sum}, more than 1"),
        ));
    }
    if spec.trickle_bytes == 0 {
        return Err(invalid(
            format!("{key}.trickle_bytes"),
            "must be at least 1",
        ));
    }
    let interval = non_negative(
        spec.trickle_interval_ms,
        format!("{key}.trickle_interval_ms"),
    )?;
    Ok(Faults {
        cumulative,
        trickle_bytes: spec.trickle_bytes.min(1 << 20) as usize,
        trickle_interval: crate::latency::clamp_ms(interval),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
include_default_routes = true

[[routes]]
method = "GET"
path = "/api/items/{id}"
kind = "db"
latency = { dist = "mixture", parts = [
    { weight = 0.95, latency = { dist = "lognormal", median_ms = 20, p99_ms = 200 } },
    { weight = 0.05, latency = { dist = "pareto", scale_ms = 100, shape = 1.5, max_ms = 5000 } },
] }
cpu_us = 150
body_bytes = 2048
headers = { "X-App" = "demo" }
faults = { error_500 = 0.01, reset = 0.001 }
"#;

    #[test]
    fn example_parses_validates_and_round_trips() {
        let spec: AppSpec = toml::from_str(EXAMPLE).expect("parse");
        let app = spec.validate().expect("valid");
        let r = &app.routes[0];
        assert_eq!(
            (r.name.as_str(), r.kind, r.body.len()),
            ("GET /api/items/{id}", super::super::Kind::Db, 2048)
        );
        assert!(
            r.matches("GET", "/api/items/7")
                && !r.matches("GET", "/api/items")
                && !r.matches("POST", "/api/items/7")
        );
        assert_eq!(r.headers[0], ("x-app".to_string(), "demo".to_string()));
        assert_eq!(r.headers[1].0, "x-body-sha256");
        let text = toml::to_string(&spec).expect("serialize");
        let again: AppSpec = toml::from_str(&text).expect("reparse");
        assert_eq!(again, spec);
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse_str(
            "[[routes]]\npath = \"/\"\nlatency = { dist = \"uniform\", min_ms = 5, max_ms = 1 }\n",
            "t.toml",
        )
        .expect_err("invalid");
        assert_eq!(
            e.to_string(),
            "route table: routes[0].latency.max_ms: 1 is below min_ms 5"
        );
        let e =
            parse_str("[[routes]]\npath = \"/\"\nkind = \"gpu\"\n", "t.toml").expect_err("invalid");
        assert!(e.to_string().starts_with("route table t.toml: "), "{e}");
        assert!(e.to_string().contains("gpu"), "{e}");
    }

    #[test]
    fn root_path_matches_only_root() {
        let app = parse_str("[[routes]]\npath = \"/\"\n", "t").expect("valid");
        assert_eq!(app.find("GET", "/"), Some(0));
        assert_eq!(app.find("GET", "/x"), None);
    }

    #[test]
    fn websocket_routes_take_upgrades_and_default_ws_stays() {
        let app = parse_str(
            "include_default_routes = false\n[[routes]]\nmethod = \"*\"\npath = \"/chat/{room}\"\nwebsocket = true\n[[routes]]\npath = \"/ws\"\n",
            "t",
        )
        .expect("valid");
        assert!(app.websocket_at("/chat/lobby"));
        assert!(
            !app.websocket_at("/ws"),
            "a table route without websocket wins"
        );
        assert!(!app.websocket_at("/other"));
        let default = parse_str("[[routes]]\npath = \"/x\"\n", "t").expect("valid");
        assert!(default.websocket_at("/ws") && !default.websocket_at("/x"));
    }
}
