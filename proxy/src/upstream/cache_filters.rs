//! nginx's not_modified and range filters on a response that comes from the cache or is being
//! stored (nginx's `r->cached` / `u->cacheable`; for any other proxied response
//! `disable_not_modified` is set and ranges are passed to the upstream's own answer):
//! `If-Modified-Since` / `If-None-Match` give 304, `If-Unmodified-Since` / `If-Match` 412,
//! `Range` 206 (several ranges only from the cache: a response being stored gets one, as
//! nginx's `single_range`) or 416. Ranges need the upstream's `Accept-Ranges` and a known
//! length, and never apply to a gzipped response.

use crate::http::response::UpHead;
use crate::http::status::Status;
use crate::request::ctx::Req;
use crate::static_files::{
    ByteRange, Conditionals, Precondition, RangeDecision, conditional_verdict, parse_http_date,
    range_verdict,
};

/// Where a response sent whole comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Read from the cache (HIT, STALE, UPDATING, REVALIDATED): nginx's `r->cached`.
    Cache,
    /// Read whole to be stored (MISS, EXPIRED, BYPASS): nginx's `u->cacheable`.
    Storing,
    /// Neither (a HEAD sent as GET whose response is not stored): passed as it is.
    Passing,
}

/// What the filters make of a 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    /// The response as it is; `accept_ranges` adds `Accept-Ranges: bytes` after add_header's
    /// headers (the range filter saw no usable `Range`).
    Whole {
        /// The range filter ran.
        accept_ranges: bool,
    },
    /// 304 without a body.
    NotModified,
    /// 412 (`If-Unmodified-Since`, `If-Match`): nginx's error page.
    PreconditionFailed,
    /// 206 with these ranges (one: `Content-Range`; several: `multipart/byteranges`).
    Partial(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// The last value of header `name` in `up`.
fn last<'u>(up: &'u UpHead, name: &[u8]) -> Option<&'u [u8]> {
    up.headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .last()
        .map(|(_, v)| v)
}

/// The filters' verdict for `up` from `source`; `length` is the body's length when known and
/// not gzipped (ranges need it).
pub fn decide(req: &Req<'_>, up: &UpHead, source: Source, length: Option<u64>) -> Filtered {
    if source == Source::Passing || up.status != Status::OK {
        return Filtered::Whole {
            accept_ranges: false,
        };
    }
    let etag = last(up, b"etag").unwrap_or_default();
    let last_modified = last(up, b"last-modified")
        .and_then(parse_http_date)
        .unwrap_or(-1);
    let h = |n: &[u8]| req.head.header(n);
    let c = Conditionals {
        if_modified_since: h(b"if-modified-since"),
        if_none_match: h(b"if-none-match"),
        if_unmodified_since: h(b"if-unmodified-since"),
        if_match: h(b"if-match"),
    };
    // nginx's test_if_unmodified: no Last-Modified fails the condition.
    if c.if_unmodified_since.is_some() && last_modified == -1 {
        return Filtered::PreconditionFailed;
    }
    let sc = &req.loc.static_conf;
    match conditional_verdict(&c, etag, last_modified, sc.if_modified_since) {
        Precondition::Failed => return Filtered::PreconditionFailed,
        Precondition::NotModified => return Filtered::NotModified,
        Precondition::Full => {}
    }
    let allow = last(up, b"accept-ranges").is_some();
    let Some(len) = length.filter(|_| allow) else {
        return Filtered::Whole {
            accept_ranges: false,
        };
    };
    if sc.max_ranges == Some(0) {
        return Filtered::Whole {
            accept_ranges: false,
        };
    }
    let max = match source {
        Source::Cache => sc.max_ranges,
        _ => Some(1),
    };
    match range_verdict(h(b"range"), h(b"if-range"), etag, last_modified, len, max) {
        RangeDecision::Full => Filtered::Whole {
            accept_ranges: true,
        },
        RangeDecision::Single(r) => Filtered::Partial(vec![r]),
        RangeDecision::Multi(v) => Filtered::Partial(v),
        RangeDecision::Unsatisfiable => Filtered::Unsatisfiable,
    }
}

/// nginx's `ngx_http_upstream_cache_check_range`: a request that is not answered from the
/// cache and whose `Range` starts at or beyond `proxy_cache_max_range_offset` (a suffix range
/// `bytes=-N` counts as beyond; a limit of 0 declines any `Range`) goes upstream with its
/// `Range` and its response is not stored.
pub fn range_beyond(req: &Req<'_>, max: Option<u64>) -> bool {
    let (Some(max), Some(v)) = (max, req.head.header(b"range")) else {
        return false;
    };
    if max == 0 {
        return true;
    }
    if v.len() < 7 || !v[..6].eq_ignore_ascii_case(b"bytes=") {
        return false;
    }
    let spaces = v[6..].iter().take_while(|c| **c == b' ').count();
    let rest = &v[6 + spaces..];
    if rest.first() == Some(&b'-') {
        return true;
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    // ngx_atoof: no digits or an overflow is -1, below any limit
    let offset = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    offset.is_some_and(|o| o >= max)
}
