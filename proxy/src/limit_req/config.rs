//! Parsing of `limit_req_zone` / `limit_req` arguments with nginx 1.22's rules and messages.

/// A `limit_req_zone`/`limit_req` argument error, worded as `nginx -t` does (the config
/// reader appends ` in FILE:LINE`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitReqConfError {
    /// `zone=NAME` without `:SIZE`, or a bad size.
    #[error("invalid zone size \"{0}\"")]
    ZoneSize(String),
    /// Size below 8 pages (32 KiB).
    #[error("zone \"{0}\" is too small")]
    TooSmall(String),
    /// `rate=0r/s`, `rate=1r/h`, …
    #[error("invalid rate \"{0}\"")]
    Rate(String),
    /// `burst=0` or not a number.
    #[error("invalid burst value \"{0}\"")]
    Burst(String),
    /// `delay=0` or not a number.
    #[error("invalid delay value \"{0}\"")]
    Delay(String),
    /// Unknown parameter.
    #[error("invalid parameter \"{0}\"")]
    Param(String),
    /// No `zone=` (the argument is the directive name).
    #[error("\"{0}\" must have \"zone\" parameter")]
    NoZone(&'static str),
}

/// A rate in nginx's internal unit: milli-requests per second (`Nr/s` → N×1000, `Nr/m` →
/// N×1000/60 truncated, so `1r/m` = 16 = one request per 62.5 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub u64);

impl Rate {
    /// Requests per second.
    pub fn per_second(n: u64) -> Rate {
        Rate(n * 1000)
    }

    /// Requests per minute (truncated like nginx).
    pub fn per_minute(n: u64) -> Rate {
        Rate(n * 1000 / 60)
    }

    /// Parses the value of `rate=` (`10r/s`, `30r/m`; a bare `5` is 5 r/s as in nginx).
    /// `arg` is the whole `rate=…` argument, for the error message.
    pub fn parse(arg: &str) -> Result<Rate, LimitReqConfError> {
        let err = || LimitReqConfError::Rate(arg.to_string());
        let v = arg.strip_prefix("rate=").ok_or_else(err)?;
        let (num, scale) = if let Some(n) = v.strip_suffix("r/s") {
            (n, 1)
        } else if let Some(n) = v.strip_suffix("r/m") {
            (n, 60)
        } else {
            (v, 1)
        };
        let n = atoi(num).filter(|&n| n > 0).ok_or_else(err)?;
        n.checked_mul(1000).map(|m| Rate(m / scale)).ok_or_else(err)
    }
}

/// nginx's `ngx_atoi` (digits only).
fn atoi(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// nginx's `ngx_parse_size`: bytes, `k`/`K`, `m`/`M`.
pub fn parse_size(v: &str) -> Option<u64> {
    let (num, scale) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1024),
        b'm' | b'M' => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    atoi(num)?.checked_mul(scale)
}

/// The parsed arguments of `limit_req_zone KEY zone=NAME:SIZE rate=R` after the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneArgs {
    /// Zone name.
    pub name: String,
    /// Zone size in bytes (≥ 32 KiB).
    pub size: u64,
    /// Rate (default 1 r/s when `rate=` is absent — nginx's arity rule requires it anyway).
    pub rate: Rate,
}

impl ZoneArgs {
    /// Parses `zone=NAME:SIZE` and `rate=R` (any order), as `ngx_http_limit_req_zone`.
    pub fn parse(params: &[&str]) -> Result<ZoneArgs, LimitReqConfError> {
        let mut name = None;
        let mut size = 0;
        let mut rate = Rate(1000);
        for &p in params {
            if let Some(z) = p.strip_prefix("zone=") {
                let (n, s) = z
                    .split_once(':')
                    .ok_or_else(|| LimitReqConfError::ZoneSize(p.into()))?;
                size = parse_size(s).ok_or_else(|| LimitReqConfError::ZoneSize(p.into()))?;
                if size < 8 * super::slab::PAGE_SIZE {
                    return Err(LimitReqConfError::TooSmall(p.into()));
                }
                name = Some(n.to_string());
            } else if p.starts_with("rate=") {
                rate = Rate::parse(p)?;
            } else {
                return Err(LimitReqConfError::Param(p.into()));
            }
        }
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or(LimitReqConfError::NoZone("limit_req_zone"))?;
        Ok(ZoneArgs { name, size, rate })
    }
}

/// When requests within the burst are delayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// Default (`delay=0`): every request above the rate is delayed.
    /// `delay=N`: the first N excess requests pass undelayed.
    After(u32),
    /// `nodelay`: never delay (excess within the burst passes at once).
    Never,
}

/// The parsed arguments of `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitArgs {
    /// Zone name (must be defined by a `limit_req_zone`).
    pub zone: String,
    /// `burst=N`, default 0.
    pub burst: u32,
    /// `delay=N` / `nodelay`; the last one wins; default `After(0)`.
    pub delay: Delay,
}

impl LimitArgs {
    /// Parses the arguments of `limit_req` (as `ngx_http_limit_req`).
    pub fn parse(params: &[&str]) -> Result<LimitArgs, LimitReqConfError> {
        let mut zone = None;
        let (mut burst, mut delay) = (0, Delay::After(0));
        for &p in params {
            if let Some(z) = p.strip_prefix("zone=") {
                zone = Some(z.to_string());
            } else if let Some(b) = p.strip_prefix("burst=") {
                burst = atoi(b)
                    .filter(|&b| b > 0 && b <= u64::from(u32::MAX))
                    .ok_or_else(|| LimitReqConfError::Burst(p.into()))?
                    as u32;
            } else if let Some(d) = p.strip_prefix("delay=") {
                let d = atoi(d)
                    .filter(|&d| d > 0 && d <= u64::from(u32::MAX))
                    .ok_or_else(|| LimitReqConfError::Delay(p.into()))?;
                delay = Delay::After(d as u32);
            } else if p == "nodelay" {
                delay = Delay::Never;
            } else {
                return Err(LimitReqConfError::Param(p.into()));
            }
        }
        let zone = zone.ok_or(LimitReqConfError::NoZone("limit_req"))?;
        Ok(LimitArgs { zone, burst, delay })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(Rate::parse("rate=10r/s"), Ok(Rate(10_000)));
        assert_eq!(Rate::parse("rate=1r/m"), Ok(Rate(16)));
        assert_eq!(Rate::parse("rate=30r/m"), Ok(Rate(500)));
        assert_eq!(Rate::parse("rate=5"), Ok(Rate(5000)));
        assert_eq!(
            Rate::parse("rate=0r/s").unwrap_err().to_string(),
            "invalid rate \"rate=0r/s\""
        );
        assert!(Rate::parse("rate=1r/h").is_err());
        assert!(Rate::parse("rate=-1r/s").is_err());
    }

    #[test]
    fn zone_args() {
        let z = ZoneArgs::parse(&["zone=one:10m", "rate=10r/s"]).unwrap();
        assert_eq!(
            (z.name.as_str(), z.size, z.rate),
            ("one", 10 << 20, Rate(10_000))
        );
        assert_eq!(
            ZoneArgs::parse(&["zone=a:32k", "rate=1r/s"]).unwrap().size,
            32768
        );
        let e = ZoneArgs::parse(&["zone=a:16k", "rate=1r/s"]).unwrap_err();
        assert_eq!(e.to_string(), "zone \"zone=a:16k\" is too small");
        let e = ZoneArgs::parse(&["zone=a", "rate=1r/s"]).unwrap_err();
        assert_eq!(e.to_string(), "invalid zone size \"zone=a\"");
        let e = ZoneArgs::parse(&["zone=a:1x", "rate=1r/s"]).unwrap_err();
        assert_eq!(e.to_string(), "invalid zone size \"zone=a:1x\"");
        let e = ZoneArgs::parse(&["rate=1r/s", "sync"]).unwrap_err();
        assert_eq!(e.to_string(), "invalid parameter \"sync\"");
        let e = ZoneArgs::parse(&["rate=1r/s"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"limit_req_zone\" must have \"zone\" parameter"
        );
    }

    #[test]
    fn limit_args() {
        let l = LimitArgs::parse(&["zone=one", "burst=5", "nodelay"]).unwrap();
        assert_eq!(
            l,
            LimitArgs {
                zone: "one".into(),
                burst: 5,
                delay: Delay::Never
            }
        );
        let l = LimitArgs::parse(&["zone=one", "nodelay", "delay=3"]).unwrap();
        assert_eq!(l.delay, Delay::After(3));
        let l = LimitArgs::parse(&["zone=one"]).unwrap();
        assert_eq!((l.burst, l.delay), (0, Delay::After(0)));
        let e = LimitArgs::parse(&["zone=one", "burst=0"]).unwrap_err();
        assert_eq!(e.to_string(), "invalid burst value \"burst=0\"");
        let e = LimitArgs::parse(&["zone=one", "delay=0"]).unwrap_err();
        assert_eq!(e.to_string(), "invalid delay value \"delay=0\"");
        let e = LimitArgs::parse(&["burst=1"]).unwrap_err();
        assert_eq!(e.to_string(), "\"limit_req\" must have \"zone\" parameter");
    }
}
