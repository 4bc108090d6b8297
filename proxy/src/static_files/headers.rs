//! `expires` and `add_header [always]` as nginx's headers filter applies them.

use std::time::SystemTime;

use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, EXPIRES, HeaderMap, HeaderName, HeaderValue};

use super::conditional::{http_date, unix_secs};

/// An `expires` setting. Times in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expires {
    /// `off` (default): headers untouched.
    #[default]
    Off,
    /// `epoch`: `Expires: Thu, 01 Jan 1970 00:00:01 GMT`, `Cache-Control: no-cache`.
    Epoch,
    /// `max`: `Expires: Thu, 31 Dec 2037 23:55:55 GMT`, `Cache-Control: max-age=315360000`.
    Max,
    /// `[+|-]T`: now + T; `max-age=T`, or `no-cache` when T < 0; `0` → Expires = now,
    /// `max-age=0`.
    Access(i64),
    /// `modified [+|-]T`: Last-Modified + T (now + T without a Last-Modified);
    /// `max-age` = that − now, `no-cache` when negative or T < 0.
    Modified(i64),
    /// `@T`: the next occurrence of time-of-day T (seconds after midnight, UTC here; nginx
    /// uses the server's local time), `max-age` = that − now.
    Daily(i64),
}

/// An `expires` argument error, worded as nginx (`"expires" directive invalid value`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"expires\" directive {0}")]
pub struct ExpiresError(pub &'static str);

impl Expires {
    /// Parses the arguments of `expires` (1 or 2; two only as `modified T`).
    pub fn parse(args: &[&str]) -> Result<Expires, ExpiresError> {
        let invalid = ExpiresError("invalid value");
        let (modified, v) = match args {
            [v] => (false, *v),
            ["modified", v] => (true, *v),
            _ => return Err(invalid),
        };
        if !modified {
            match v {
                "epoch" => return Ok(Expires::Epoch),
                "max" => return Ok(Expires::Max),
                "off" => return Ok(Expires::Off),
                _ => {}
            }
        }
        let (daily, minus, t) = if let Some(t) = v.strip_prefix('@') {
            if modified {
                return Err(ExpiresError(
                    "daily time cannot be used with \"modified\" parameter",
                ));
            }
            (true, false, t)
        } else if let Some(t) = v.strip_prefix('+') {
            (false, false, t)
        } else if let Some(t) = v.strip_prefix('-') {
            (false, true, t)
        } else {
            (false, false, v)
        };
        let secs = crate::balance::parse_time_secs(t).ok_or(invalid)? as i64;
        if daily && secs > 24 * 60 * 60 {
            return Err(ExpiresError("daily time value must be less than 24 hours"));
        }
        let secs = if minus { -secs } else { secs };
        Ok(if daily {
            Expires::Daily(secs)
        } else if modified {
            Expires::Modified(secs)
        } else {
            Expires::Access(secs)
        })
    }

    /// Sets `Expires` and `Cache-Control` on a response with `status` (only 200, 201, 204,
    /// 206, 301, 302, 303, 304, 307, 308), as nginx: replaces an existing `Expires`,
    /// overwrites the first `Cache-Control` and drops the others. `last_modified` is the
    /// response's Last-Modified time (for `modified`).
    pub fn apply(
        &self,
        status: StatusCode,
        h: &mut HeaderMap,
        now: SystemTime,
        last_modified: Option<SystemTime>,
    ) {
        if *self == Expires::Off || !is_safe_status(status) {
            return;
        }
        let now = unix_secs(now);
        let (expires, cc): (String, String) = match *self {
            Expires::Off => return,
            Expires::Epoch => ("Thu, 01 Jan 1970 00:00:01 GMT".into(), "no-cache".into()),
            Expires::Max => (
                "Thu, 31 Dec 2037 23:55:55 GMT".into(),
                "max-age=315360000".into(),
            ),
            Expires::Access(0) | Expires::Modified(0) => (http_date(now), "max-age=0".into()),
            Expires::Access(t) => (http_date(now + t), max_age(t, t)),
            Expires::Modified(t) => match last_modified {
                Some(lm) => {
                    let at = unix_secs(lm) + t;
                    (http_date(at), max_age(t, at - now))
                }
                None => (http_date(now + t), max_age(t, t)),
            },
            Expires::Daily(t) => {
                let midnight = now - now.rem_euclid(86400);
                let mut at = midnight + t;
                if at <= now {
                    at += 86400;
                }
                (http_date(at), max_age(t, at - now))
            }
        };
        h.insert(EXPIRES, value(&expires));
        h.insert(CACHE_CONTROL, value(&cc));
    }
}

fn max_age(conf: i64, age: i64) -> String {
    if conf < 0 || age < 0 {
        "no-cache".into()
    } else {
        format!("max-age={age}")
    }
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The statuses `expires` and non-`always` `add_header` apply to.
pub fn is_safe_status(s: StatusCode) -> bool {
    matches!(
        s.as_u16(),
        200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
    )
}

/// One `add_header NAME VALUE [always]` with its value already evaluated.
#[derive(Debug, Clone)]
pub struct AddHeader {
    /// Header name.
    pub name: HeaderName,
    /// Evaluated value; an empty value adds nothing (and for `ETag`/`Last-Modified` removes
    /// the header, as nginx).
    pub value: HeaderValue,
    /// `always`: also on error statuses.
    pub always: bool,
}

/// Applies `add_header` entries in order, as nginx: appended (duplicates allowed) on safe
/// statuses or when `always`; `ETag` and `Last-Modified` replace the response's own value
/// (an empty value removes it). Inheritance (only when the level has none) is the caller's.
pub fn apply_add_headers(status: StatusCode, h: &mut HeaderMap, list: &[AddHeader]) {
    let safe = is_safe_status(status);
    for a in list {
        if !safe && !a.always {
            continue;
        }
        let replaces = a.name == hyper::header::ETAG || a.name == hyper::header::LAST_MODIFIED;
        if replaces {
            h.remove(&a.name);
        }
        if !a.value.is_empty() {
            h.append(a.name.clone(), a.value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn run(e: Expires, status: u16, now: u64, lm: Option<u64>) -> (Option<String>, Option<String>) {
        let mut h = HeaderMap::new();
        h.append(CACHE_CONTROL, HeaderValue::from_static("private"));
        h.append(CACHE_CONTROL, HeaderValue::from_static("x"));
        e.apply(
            StatusCode::from_u16(status).unwrap(),
            &mut h,
            at(now),
            lm.map(at),
        );
        let get = |n| {
            h.get(n)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_string())
        };
        (get(EXPIRES), get(CACHE_CONTROL))
    }

    #[test]
    fn parse_forms() {
        assert_eq!(Expires::parse(&["30d"]), Ok(Expires::Access(30 * 86400)));
        assert_eq!(Expires::parse(&["-1h"]), Ok(Expires::Access(-3600)));
        assert_eq!(Expires::parse(&["+10"]), Ok(Expires::Access(10)));
        assert_eq!(
            Expires::parse(&["modified", "+1h"]),
            Ok(Expires::Modified(3600))
        );
        assert_eq!(Expires::parse(&["@15h30m"]), Ok(Expires::Daily(55800)));
        assert_eq!(Expires::parse(&["epoch"]), Ok(Expires::Epoch));
        assert_eq!(Expires::parse(&["max"]), Ok(Expires::Max));
        assert_eq!(Expires::parse(&["off"]), Ok(Expires::Off));
        assert_eq!(
            Expires::parse(&["soon"]).unwrap_err().to_string(),
            "\"expires\" directive invalid value"
        );
        assert!(Expires::parse(&["modified", "@1h"]).is_err());
        assert!(Expires::parse(&["@25h"]).is_err());
        assert!(Expires::parse(&["later", "1h"]).is_err());
    }

    #[test]
    fn apply_values() {
        let now = 1_700_000_000;
        let (e, cc) = run(Expires::Access(2_592_000), 200, now, None);
        assert_eq!(e.unwrap(), http_date(now as i64 + 2_592_000));
        assert_eq!(cc.unwrap(), "max-age=2592000");
        assert_eq!(run(Expires::Epoch, 200, now, None).1.unwrap(), "no-cache");
        assert_eq!(
            run(Expires::Max, 304, now, None).0.unwrap(),
            "Thu, 31 Dec 2037 23:55:55 GMT"
        );
        assert_eq!(
            run(Expires::Access(0), 200, now, None),
            (Some(http_date(now as i64)), Some("max-age=0".into()))
        );
        assert_eq!(
            run(Expires::Access(-60), 200, now, None),
            (Some(http_date(now as i64 - 60)), Some("no-cache".into()))
        );
        let (e, cc) = run(Expires::Modified(3600), 200, now, Some(now - 600));
        assert_eq!(
            (e.unwrap(), cc.unwrap()),
            (http_date(now as i64 + 3000), "max-age=3000".into())
        );
        // not on 404: upstream headers stay
        assert_eq!(
            run(Expires::Max, 404, now, None),
            (None, Some("private".into()))
        );
        // daily: 1700000000 is 22:13:20 UTC → @23h is in 2800 s
        assert_eq!(
            run(Expires::Daily(23 * 3600), 200, now, None).1.unwrap(),
            "max-age=2800"
        );
        // only one Cache-Control remains
        let mut h = HeaderMap::new();
        h.append(CACHE_CONTROL, HeaderValue::from_static("a"));
        h.append(CACHE_CONTROL, HeaderValue::from_static("b"));
        Expires::Max.apply(StatusCode::OK, &mut h, at(now), None);
        assert_eq!(h.get_all(CACHE_CONTROL).iter().count(), 1);
    }

    #[test]
    fn add_header_rules() {
        let x = |v: &'static str, always| AddHeader {
            name: HeaderName::from_static("x-a"),
            value: HeaderValue::from_static(v),
            always,
        };
        let list = [x("1", false), x("2", true), x("", true)];
        let mut h = HeaderMap::new();
        apply_add_headers(StatusCode::OK, &mut h, &list);
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        let mut h = HeaderMap::new();
        apply_add_headers(StatusCode::NOT_FOUND, &mut h, &list);
        assert_eq!(
            h.get_all("x-a")
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["2"]
        );
        let mut h = HeaderMap::new();
        h.insert(hyper::header::ETAG, HeaderValue::from_static("\"a\""));
        let e = AddHeader {
            name: hyper::header::ETAG,
            value: HeaderValue::from_static(""),
            always: false,
        };
        apply_add_headers(StatusCode::OK, &mut h, &[e]);
        assert!(h.get(hyper::header::ETAG).is_none());
    }
}
