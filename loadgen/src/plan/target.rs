//! `Target`: a checked base URL (scheme, host, port, path prefix).

use super::PlanError;

/// A parsed target URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `https://` or `wss://`.
    pub tls: bool,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// Port (default 80 / 443).
    pub port: u16,
    /// Value for the `Host` header / `:authority` (`host[:port]` as written).
    pub authority: String,
    /// Path prefix from the URL without a trailing `/` (empty for `http://h:p/`).
    pub base_path: String,
}

impl Target {
    /// Parses `url`; accepts `http`, `https`, `ws`, `wss`.
    pub fn parse(url: &str) -> Result<Target, PlanError> {
        let bad = |why: &str| PlanError::Invalid(format!("bad URL {url:?}: {why}"));
        let uri: http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        let tls = match uri.scheme_str() {
            Some("http") | Some("ws") => false,
            Some("https") | Some("wss") => true,
            Some(other) => return Err(bad(&format!("unsupported scheme {other:?}"))),
            None => return Err(bad("missing scheme (http:// or https://)")),
        };
        let auth = uri.authority().ok_or_else(|| bad("missing host"))?;
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let port = auth.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if port == 0 {
            return Err(bad("port 0"));
        }
        if uri.query().is_some() {
            return Err(bad("put queries in the request path, not the target"));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Target {
            tls,
            host: host.to_string(),
            port,
            authority: auth.as_str().to_string(),
            base_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults_ports() {
        let t = Target::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!((t.tls, t.port, t.base_path.as_str()), (false, 8080, "/api"));
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = Target::parse("https://localhost").unwrap();
        assert_eq!((t.tls, t.port, t.host.as_str()), (true, 443, "localhost"));
        let t = Target::parse("ws://[::1]:9/ws").unwrap();
        assert_eq!((t.host.as_str(), t.base_path.as_str()), ("::1", "/ws"));
    }

    #[test]
    fn rejects_bad_urls() {
        for u in [
            "127.0.0.1:80",
            "ftp://x/",
            "http://",
            "not a url",
            "http://h:0/",
            "http://h/?q=1",
        ] {
            assert!(Target::parse(u).is_err(), "{u}");
        }
    }
}
