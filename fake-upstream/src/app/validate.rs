//! Parse and check a route table: TOML text → [`AppSpec`] → [`App`], with errors that name the
//! offending key (`routes[2].latency.p99_ms`).

use super::behaviour::{faults, latency};
use super::spec::{AppSpec, KindSpec, RouteSpec};
use super::{App, Route};
use crate::bytes_body;
use crate::latency::Latency;
use bytes::Bytes;
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

pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>) -> AppError {
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
        let method = self.method_filter(key)?;
        let segments = self.segments(key)?;
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
        let mut headers = self.headers(key)?;
        let (body, content_type) = self.body(key, &mut headers)?;
        let faults = faults(&self.faults, &format!("{key}.faults"))?;
        let require = super::require::parse(&self.require_headers, key)?;
        let table = self.table(key)?;
        Ok(Route {
            name: format!("{} {}", self.method, self.path),
            method,
            segments,
            kind: self.kind,
            table,
            latency,
            cpu: Duration::from_micros(self.cpu_us),
            status: self.status,
            headers,
            body,
            content_type: Some(content_type),
            chunked: self.chunked,
            health: self.health,
            websocket: self.websocket,
            faults,
            require,
        })
    }

    /// The table of a `db` route: a SQL name (letters, digits, `_`; `SCHEMA.NAME`).
    fn table(&self, key: &str) -> Result<Option<String>, AppError> {
        let Some(t) = &self.table else {
            return Ok(None);
        };
        if self.kind != KindSpec::Db {
            return Err(invalid(
                format!("{key}.table"),
                "only a `kind = \"db\"` route reads a table",
            ));
        }
        let ident = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !t.split('.').all(ident) {
            return Err(invalid(
                format!("{key}.table"),
                format!("{t:?} is not a table name (letters, digits, '_'; or SCHEMA.NAME)"),
            ));
        }
        Ok(Some(t.clone()))
    }

    /// The method matched (None for `*`, any method).
    fn method_filter(&self, key: &str) -> Result<Option<String>, AppError> {
        match self.method.as_str() {
            "*" => Ok(None),
            m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) => {
                Ok(Some(m.to_string()))
            }
            m => Err(invalid(
                format!("{key}.method"),
                format!("{m:?} is not an upper-case HTTP method or \"*\""),
            )),
        }
    }

    /// The path's segments: literal text, or None for a `{parameter}`.
    fn segments(&self, key: &str) -> Result<Vec<Option<String>>, AppError> {
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
        Ok(segments)
    }

    /// The extra response headers (names lower-cased; no CR or LF in values).
    fn headers(&self, key: &str) -> Result<Vec<(String, String)>, AppError> {
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
        Ok(headers)
    }

    /// The body (`body` text, `body_bytes` of the byte pattern with its SHA-256 in
    /// `x-body-sha256`, else FastAPI's hello) and its Content-Type (`content_type` wins).
    fn body(
        &self,
        key: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(Bytes, String), AppError> {
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
        let content_type = self
            .content_type
            .clone()
            .unwrap_or_else(|| content_type.to_string());
        Ok((body, content_type))
    }
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
    fn a_table_belongs_to_a_db_route_and_is_a_sql_name() {
        let app = parse_str(
            "[[routes]]\npath = \"/o\"\nkind = \"db\"\ntable = \"public.orders\"\n",
            "t",
        )
        .expect("valid");
        assert_eq!(app.routes[0].table.as_deref(), Some("public.orders"));
        let e = parse_str("[[routes]]\npath = \"/o\"\ntable = \"orders\"\n", "t")
            .expect_err("async route");
        assert!(e.to_string().contains("routes[0].table"), "{e}");
        let e = parse_str(
            "[[routes]]\npath = \"/o\"\nkind = \"db\"\ntable = \"1; drop\"\n",
            "t",
        )
        .expect_err("bad name");
        assert!(e.to_string().contains("not a table name"), "{e}");
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
