//! `require_headers` of a route: the forwarded headers an app needs from the proxy in front
//! (`host`, `x-forwarded-for`, `x-forwarded-proto`). A request without them is answered
//! 412 with the missing names in the body, so a population's status counts tell which
//! requests reached the app with what the proxy should have set (`proxy_set_header`).

use super::validate::AppError;
use std::collections::BTreeMap;

/// The request headers a route can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `Host`.
    Host,
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// `X-Forwarded-Proto`.
    XForwardedProto,
}

impl Header {
    const ALL: [(&'static str, Header); 3] = [
        ("host", Header::Host),
        ("x-forwarded-for", Header::XForwardedFor),
        ("x-forwarded-proto", Header::XForwardedProto),
    ];

    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        Header::ALL
            .iter()
            .find(|(_, h)| *h == self)
            .map_or("", |(n, _)| n)
    }
}

/// One requirement: the header present (`"*"`) or with exactly this value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Which header.
    pub header: Header,
    /// The value it must have (None: any).
    pub value: Option<String>,
}

/// The forwarded headers a request carried (None: absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// `Host`.
    pub host: Option<&'a str>,
    /// `X-Forwarded-For`.
    pub x_forwarded_for: Option<&'a str>,
    /// `X-Forwarded-Proto`.
    pub x_forwarded_proto: Option<&'a str>,
}

impl Seen<'_> {
    fn get(&self, h: Header) -> Option<&str> {
        match h {
            Header::Host => self.host,
            Header::XForwardedFor => self.x_forwarded_for,
            Header::XForwardedProto => self.x_forwarded_proto,
        }
    }
}

/// Checks a route's `require_headers` table (`key` names it in errors).
pub fn parse(table: &BTreeMap<String, String>, key: &str) -> Result<Vec<Requirement>, AppError> {
    table
        .iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let header = Header::ALL
                .iter()
                .find(|(n, _)| *n == lower)
                .map(|(_, h)| *h)
                .ok_or_else(|| AppError::Invalid {
                    key: format!("{key}.require_headers"),
                    message: format!(
                        "{name:?} cannot be required (host, x-forwarded-for, x-forwarded-proto)"
                    ),
                })?;
            let value = (value.trim() != "*").then(|| value.trim().to_string());
            Ok(Requirement { header, value })
        })
        .collect()
}

/// The names of the requirements `seen` does not meet (empty: all met).
pub fn unmet(reqs: &[Requirement], seen: &Seen<'_>) -> Vec<&'static str> {
    reqs.iter()
        .filter(|r| match (seen.get(r.header), &r.value) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(v), Some(want)) => v.trim() != want,
        })
        .map(|r| r.header.name())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_checked_by_name_and_value() {
        let table: BTreeMap<String, String> = [
            ("Host".to_string(), "api.sivaro.com".to_string()),
            ("x-forwarded-for".to_string(), "*".to_string()),
        ]
        .into();
        let reqs = parse(&table, "routes[0]").unwrap();
        let all = Seen {
            host: Some("api.sivaro.com"),
            x_forwarded_for: Some("127.0.0.1"),
            x_forwarded_proto: None,
        };
        assert!(unmet(&reqs, &all).is_empty());
        let proxied = Seen {
            host: Some("uvicorn_servers"),
            ..Seen::default()
        };
        assert_eq!(unmet(&reqs, &proxied), vec!["host", "x-forwarded-for"]);
        let bad: BTreeMap<String, String> = [("cookie".to_string(), "*".to_string())].into();
        assert!(parse(&bad, "routes[0]").is_err_and(|e| e.to_string().contains("cookie")));
    }
}
