//! The `server ADDRESS [params]` line of an `upstream {}` block (nginx 1.22 semantics): the
//! one parser of its parameters, used by the config reader (`conf::build::upstream`).

use std::time::Duration;

/// Errors of a `server` line's parameters, worded as `nginx -t` words them (without the
/// ` in FILE:LINE` suffix, which the config reader appends).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerParamError {
    /// A parameter nginx does not know or whose value is invalid (`weight=0`, `slow_start=`…).
    #[error("invalid parameter \"{0}\"")]
    Invalid(String),
    /// A parameter the upstream's balancing method (declared before this line) forbids:
    /// `backup` with `ip_hash`, `hash` or `random`.
    #[error("balancing method does not support parameter \"{0}\"")]
    NotSupported(String),
    /// `server` without an address.
    #[error("invalid number of arguments in \"server\" directive")]
    Arity,
}

/// One `server` line of an `upstream {}` block, as written (the address is not resolved).
///
/// Defaults are nginx's: `weight=1`, `max_fails=1`, `fail_timeout=10s`, `max_conns=0`
/// (unlimited), not `backup`, not `down`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The address text as written (`127.0.0.1:9001`, `app.internal`, `unix:/run/app.sock`).
    /// Kept verbatim because `hash … consistent` hashes this text, not the resolved address.
    pub address: String,
    /// `weight=N`, N ≥ 1; default 1.
    pub weight: u32,
    /// `max_fails=N`; default 1; 0 disables failure accounting for this server.
    pub max_fails: u32,
    /// `fail_timeout=T`, whole seconds (nginx parses it with seconds granularity); default 10 s.
    pub fail_timeout: Duration,
    /// `backup`: used only when no primary server is eligible for the request.
    pub backup: bool,
    /// `down`: never selected (and not counted in the request's tries).
    pub down: bool,
    /// `max_conns=N`: at most N requests in flight to this server (per group); 0 = unlimited.
    pub max_conns: u32,
}

impl ServerSpec {
    /// A server with nginx's default parameters.
    pub fn new(address: impl Into<String>) -> ServerSpec {
        ServerSpec {
            address: address.into(),
            weight: 1,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            backup: false,
            down: false,
            max_conns: 0,
        }
    }

    /// Parses the arguments of a `server` directive (`args[0]` is the address, the rest are
    /// parameters), like nginx's `ngx_http_upstream_server`. `backup_allowed` is false when the
    /// balancing method declared *before* this line is `ip_hash`, `hash` or `random` (see
    /// [`super::Method::supports_backup`]).
    pub fn parse(args: &[&str], backup_allowed: bool) -> Result<ServerSpec, ServerParamError> {
        let (address, params) = args.split_first().ok_or(ServerParamError::Arity)?;
        let mut spec = ServerSpec::new(*address);
        let invalid = |p: &str| ServerParamError::Invalid(p.to_string());
        for &p in params {
            if let Some(v) = p.strip_prefix("weight=") {
                spec.weight = parse_atoi(v).filter(|&w| w > 0).ok_or_else(|| invalid(p))?;
            } else if let Some(v) = p.strip_prefix("max_conns=") {
                spec.max_conns = parse_atoi(v).ok_or_else(|| invalid(p))?;
            } else if let Some(v) = p.strip_prefix("max_fails=") {
                spec.max_fails = parse_atoi(v).ok_or_else(|| invalid(p))?;
            } else if let Some(v) = p.strip_prefix("fail_timeout=") {
                let secs = parse_time_secs(v).ok_or_else(|| invalid(p))?;
                spec.fail_timeout = Duration::from_secs(secs);
            } else if p == "backup" {
                if !backup_allowed {
                    return Err(ServerParamError::NotSupported(p.to_string()));
                }
                spec.backup = true;
            } else if p == "down" {
                spec.down = true;
            } else {
                return Err(invalid(p));
            }
        }
        Ok(spec)
    }
}

/// nginx's `ngx_atoi`: ASCII digits only, no sign, no overflow.
fn parse_atoi(v: &str) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// nginx's `ngx_parse_time(s, 1)`: `10`, `10s`, `1m30s`, `2h`, `1d`, `1w`, `1M`, `1y`; units in
/// decreasing order, each at most once; `ms` is refused (seconds granularity). Returns seconds.
pub(crate) fn parse_time_secs(v: &str) -> Option<u64> {
    const UNITS: [(u8, u64); 7] = [
        (b'y', 365 * 86400),
        (b'M', 30 * 86400),
        (b'w', 7 * 86400),
        (b'd', 86400),
        (b'h', 3600),
        (b'm', 60),
        (b's', 1),
    ];
    let bytes = v.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let (mut total, mut i, mut last_unit) = (0u64, 0usize, 0usize);
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: u64 = v[start..i].parse().ok()?;
        let mult = if i == bytes.len() {
            1
        } else {
            if bytes[i] == b'm' && bytes.get(i + 1) == Some(&b's') {
                return None;
            }
            let pos = UNITS.iter().position(|(u, _)| *u == bytes[i])?;
            if pos < last_unit {
                return None;
            }
            last_unit = pos + 1;
            i += 1;
            UNITS[pos].1
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_nginx_defaults() {
        let s = ServerSpec::parse(&["127.0.0.1:9001"], true).unwrap();
        assert_eq!(s, ServerSpec::new("127.0.0.1:9001"));
        assert_eq!((s.weight, s.max_fails, s.max_conns), (1, 1, 0));
        assert_eq!(s.fail_timeout, Duration::from_secs(10));
    }

    #[test]
    fn all_parameters() {
        let s = ServerSpec::parse(
            &[
                "a:1",
                "weight=5",
                "max_fails=3",
                "fail_timeout=1m30s",
                "max_conns=7",
                "backup",
                "down",
            ],
            true,
        )
        .unwrap();
        assert_eq!(s.weight, 5);
        assert_eq!(s.max_fails, 3);
        assert_eq!(s.fail_timeout, Duration::from_secs(90));
        assert_eq!(s.max_conns, 7);
        assert!(s.backup && s.down);
    }

    #[test]
    fn errors_worded_like_nginx() {
        let e = ServerSpec::parse(&["a", "weight=0"], true).unwrap_err();
        assert_eq!(e.to_string(), "invalid parameter \"weight=0\"");
        let e = ServerSpec::parse(&["a", "slow_start=10s"], true).unwrap_err();
        assert_eq!(e.to_string(), "invalid parameter \"slow_start=10s\"");
        let e = ServerSpec::parse(&["a", "resolve"], true).unwrap_err();
        assert_eq!(e.to_string(), "invalid parameter \"resolve\"");
        let e = ServerSpec::parse(&["a", "backup"], false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "balancing method does not support parameter \"backup\""
        );
        assert!(ServerSpec::parse(&["a", "max_fails=-1"], true).is_err());
        assert!(ServerSpec::parse(&["a", "fail_timeout=500ms"], true).is_err());
        assert!(ServerSpec::parse(&["a", "fail_timeout=s"], true).is_err());
        assert_eq!(
            ServerSpec::parse(&[], true).unwrap_err(),
            ServerParamError::Arity
        );
    }

    #[test]
    fn time_units() {
        assert_eq!(parse_time_secs("10"), Some(10));
        assert_eq!(parse_time_secs("10s"), Some(10));
        assert_eq!(parse_time_secs("2m"), Some(120));
        assert_eq!(parse_time_secs("1h1s"), Some(3601));
        assert_eq!(parse_time_secs("1s1h"), None);
        assert_eq!(parse_time_secs("1x"), None);
    }
}
