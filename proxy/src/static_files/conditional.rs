//! `ETag`, `Last-Modified` and the conditional-request checks of nginx's not_modified filter.

use super::text::{HeaderText, write_http_date};
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// nginx's strong ETag: `"%xT-%xO"`, lowercase hex of the mtime (seconds since the epoch) and
/// of the size, quoted.
pub fn etag(mtime: SystemTime, size: u64) -> String {
    etag_text(unix_secs(mtime), size).as_str().to_string()
}

fn etag_text(secs: i64, size: u64) -> HeaderText {
    let mut t = HeaderText::new();
    // at most 1 + 16 + 1 + 16 + 1 bytes: always fits
    let _ = write!(t, "\"{secs:x}-{size:x}\"");
    t
}

/// Seconds since the epoch (negative before 1970), truncated like `st_mtime`.
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

/// An HTTP date (RFC 1123, GMT) of whole seconds, as nginx's `ngx_http_time`.
pub fn http_date(secs: i64) -> String {
    let mut s = String::with_capacity(29);
    let _ = write_http_date(&mut s, secs);
    s
}

/// `Last-Modified` and `ETag` values of a file, by (mtime in seconds, size), inline.
#[derive(Clone, Copy)]
pub(super) struct Validators {
    /// mtime in seconds since the epoch.
    pub lm: i64,
    size: u64,
    /// `Last-Modified` value.
    pub last_modified: HeaderText,
    /// `ETag` value.
    pub etag: HeaderText,
}

thread_local! {
    /// The validators of the last file served on this thread (a hot file's dates and tags
    /// are formatted once, not per request).
    static VALIDATORS: std::cell::Cell<Option<Validators>> = const { std::cell::Cell::new(None) };
}

pub(super) fn validators(mtime: SystemTime, size: u64) -> Validators {
    let lm = unix_secs(mtime);
    if let Some(v) = VALIDATORS.get()
        && v.lm == lm
        && v.size == size
    {
        return v;
    }
    let mut last_modified = HeaderText::new();
    // 29 bytes (at most 37 for any i64): always fits
    let _ = write_http_date(&mut last_modified, lm);
    let v = Validators {
        lm,
        size,
        last_modified,
        etag: etag_text(lm, size),
    };
    VALIDATORS.set(Some(v));
    v
}

/// nginx's `ngx_parse_http_time`: RFC 1123, RFC 850 or asctime; `None` when unparsable.
pub fn parse_http_date(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    httpdate::parse_http_date(s.trim()).ok().map(unix_secs)
}

/// `if_modified_since` directive mode (default `exact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImsMode {
    /// `off`: ignore If-Modified-Since.
    Off,
    /// `exact` (default): 304 only when the date equals Last-Modified.
    #[default]
    Exact,
    /// `before`: 304 when Last-Modified is not later than the date.
    Before,
}

/// What the conditional headers ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Send the representation (200, or 206 if a Range applies).
    Full,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed (If-Unmodified-Since / If-Match).
    Failed,
}

/// The request's conditional headers (raw values).
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditionals<'a> {
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a [u8]>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a [u8]>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a [u8]>,
    /// `If-Match`.
    pub if_match: Option<&'a [u8]>,
}

/// nginx's not_modified header filter for a 200 response with `etag` and `last_modified`
/// (seconds): If-Unmodified-Since/If-Match failing → 412; then, when If-Modified-Since or
/// If-None-Match is present, 304 unless a present one says "modified". `etag` as text or
/// bytes.
pub fn evaluate(
    c: &Conditionals<'_>,
    etag: impl AsRef<[u8]>,
    last_modified: i64,
    ims: ImsMode,
) -> Precondition {
    let etag = etag.as_ref();
    if let Some(v) = c.if_unmodified_since
        && parse_http_date(v).is_none_or(|t| t < last_modified)
    {
        return Precondition::Failed;
    }
    if let Some(v) = c.if_match
        && !etag_list_matches(v, etag, false)
    {
        return Precondition::Failed;
    }
    if c.if_modified_since.is_none() && c.if_none_match.is_none() {
        return Precondition::Full;
    }
    if let Some(v) = c.if_modified_since
        && modified_since(v, last_modified, ims)
    {
        return Precondition::Full;
    }
    if let Some(v) = c.if_none_match
        && !etag_list_matches(v, etag, true)
    {
        return Precondition::Full;
    }
    Precondition::NotModified
}

fn modified_since(v: &[u8], last_modified: i64, mode: ImsMode) -> bool {
    if mode == ImsMode::Off {
        return true;
    }
    let ims = parse_http_date(v).unwrap_or(-1);
    if ims == last_modified {
        return false;
    }
    mode == ImsMode::Exact || ims < last_modified
}

/// nginx's `ngx_http_test_if_match`: `*`, or a comma list containing `etag` (with `weak`,
/// `W/` prefixes are ignored on both sides). `etag` as text or bytes.
pub fn etag_list_matches(list: &[u8], etag: impl AsRef<[u8]>, weak: bool) -> bool {
    if list == b"*" {
        return true;
    }
    let mut etag = etag.as_ref();
    if weak && etag.len() > 2 && etag.starts_with(b"W/") {
        etag = &etag[2..];
    }
    let mut s = list;
    while !s.is_empty() {
        if weak && s.len() > 2 && s.starts_with(b"W/") {
            s = &s[2..];
        }
        if etag.len() > s.len() {
            return false;
        }
        if s.starts_with(etag) {
            let mut rest = &s[etag.len()..];
            while let Some((&c, r)) = rest.split_first() {
                if c == b' ' || c == b'\t' {
                    rest = r
                } else {
                    break;
                }
            }
            if rest.is_empty() || rest[0] == b',' {
                return true;
            }
        }
        // skip to the next element
        let next = s.iter().position(|&c| c == b',').map_or(s.len(), |i| i);
        s = &s[next..];
        while let Some((&c, r)) = s.split_first() {
            if c == b' ' || c == b'\t' || c == b',' {
                s = r
            } else {
                break;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn etag_and_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(0x5f2b_1234);
        assert_eq!(etag(t, 26), "\"5f2b1234-1a\"");
        assert_eq!(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date(b"Sun Nov  6 08:49:37 1994"),
            Some(784111777)
        );
        assert_eq!(parse_http_date(b"garbage"), None);
    }

    #[test]
    fn conditional_rules() {
        let lm = 784111777;
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        let later = b"Sun, 06 Nov 1994 08:49:38 GMT";
        let e = "\"abc-1\"";
        let c = |ims: Option<&'static [u8]>, inm: Option<&'static [u8]>| Conditionals {
            if_modified_since: ims,
            if_none_match: inm,
            ..Default::default()
        };
        assert_eq!(
            evaluate(&c(Some(date), None), e, lm, ImsMode::Exact),
            Precondition::NotModified
        );
        // exact: a later date is "modified"; before: not modified
        assert_eq!(
            evaluate(&c(Some(later), None), e, lm, ImsMode::Exact),
            Precondition::Full
        );
        assert_eq!(
            evaluate(&c(Some(later), None), e, lm, ImsMode::Before),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&c(Some(b"junk"), None), e, lm, ImsMode::Exact),
            Precondition::Full
        );
        assert_eq!(
            evaluate(&c(None, Some(b"\"x\", \"abc-1\"")), e, lm, ImsMode::Exact),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&c(None, Some(b"W/\"abc-1\"")), e, lm, ImsMode::Exact),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&c(None, Some(b"*")), e, lm, ImsMode::Exact),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&c(None, Some(b"\"abc-2\"")), e, lm, ImsMode::Exact),
            Precondition::Full
        );
        // both present: both must agree
        assert_eq!(
            evaluate(&c(Some(date), Some(b"\"zz\"")), e, lm, ImsMode::Exact),
            Precondition::Full
        );
        let iums = Conditionals {
            if_unmodified_since: Some(b"Sat, 05 Nov 1994 08:49:37 GMT"),
            ..Default::default()
        };
        assert_eq!(evaluate(&iums, e, lm, ImsMode::Exact), Precondition::Failed);
        let im = Conditionals {
            if_match: Some(b"W/\"abc-1\""),
            ..Default::default()
        };
        assert_eq!(evaluate(&im, e, lm, ImsMode::Exact), Precondition::Failed);
    }
}
