//! `health_check [interval=T] [jitter=T] [fails=N] [passes=N] [uri=URI] [match=NAME] [port=N]
//! [mandatory [persistent]] [keepalive_time=T]` parameters with nginx Plus's defaults.

use std::time::Duration;

/// Parsed `health_check` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthParams {
    /// Time between two probes of a peer (`interval=`, default 5s).
    pub interval: Duration,
    /// Consecutive failed probes that make a peer unhealthy (`fails=`, default 1).
    pub fails: u32,
    /// Consecutive good probes that make an unhealthy peer healthy (`passes=`, default 1).
    pub passes: u32,
    /// Request URI of a probe (`uri=`, default `/`).
    pub uri: String,
    /// Name of a `match {}` block deciding what is healthy (default: 2xx or 3xx status).
    pub match_name: Option<String>,
    /// Port probed instead of the peer's own (`port=`).
    pub port: Option<u16>,
    /// `mandatory`: peers start unhealthy until their first good probe.
    pub mandatory: bool,
}

impl Default for HealthParams {
    fn default() -> Self {
        HealthParams {
            interval: Duration::from_secs(5),
            fails: 1,
            passes: 1,
            uri: "/".into(),
            match_name: None,
            port: None,
            mandatory: false,
        }
    }
}

impl HealthParams {
    /// Parses the directive's arguments; the error is the message nginx Plus prints.
    pub fn parse(args: &[String]) -> Result<HealthParams, String> {
        let mut p = HealthParams::default();
        let bad = |a: &str| format!("invalid parameter \"{a}\"");
        for a in args {
            let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
            match k {
                "interval" | "jitter" | "keepalive_time" => {
                    let t = crate::conf::values::parse_time(v, false)
                        .filter(|t| k != "interval" || !t.is_zero())
                        .ok_or_else(|| bad(a))?;
                    if k == "interval" {
                        p.interval = t;
                    }
                }
                "fails" | "passes" => {
                    let n: u32 = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| bad(a))?;
                    if k == "fails" {
                        p.fails = n;
                    } else {
                        p.passes = n;
                    }
                }
                "uri" if v.starts_with('/') => p.uri = v.to_string(),
                "match" if !v.is_empty() => p.match_name = Some(v.to_string()),
                "port" => {
                    p.port = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(|| bad(a))?);
                }
                "mandatory" if v.is_empty() => p.mandatory = true,
                "persistent" if v.is_empty() && p.mandatory => {}
                "type" if v == "http" => {}
                _ => return Err(bad(a)),
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_as_nginx_plus() {
        let p = HealthParams::parse(&[]).unwrap();
        assert_eq!(p.interval, Duration::from_secs(5));
        assert_eq!((p.fails, p.passes, p.uri.as_str()), (1, 1, "/"));
    }

    #[test]
    fn all_parameters() {
        let p = HealthParams::parse(&s(&[
            "interval=500ms",
            "fails=3",
            "passes=2",
            "uri=/health",
            "match=ok",
            "port=8080",
            "mandatory",
        ]))
        .unwrap();
        assert_eq!(p.interval, Duration::from_millis(500));
        assert_eq!((p.fails, p.passes), (3, 2));
        assert_eq!(p.uri, "/health");
        assert_eq!(p.match_name.as_deref(), Some("ok"));
        assert_eq!(p.port, Some(8080));
        assert!(p.mandatory);
    }

    #[test]
    fn bad_values_are_errors() {
        for a in [
            "fails=0",
            "interval=x",
            "uri=health",
            "port=70000",
            "bogus",
            "passes=",
        ] {
            assert_eq!(
                HealthParams::parse(&s(&[a])),
                Err(format!("invalid parameter \"{a}\"")),
                "{a}"
            );
        }
    }
}
