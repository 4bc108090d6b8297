//! Whether an upstream response may be stored and until when, as nginx decides it: the
//! headers in the order received (`Cache-Control` no-cache/no-store/private, `s-maxage`,
//! `max-age`, `stale-while-revalidate`, `stale-if-error`; `Expires`; `X-Accel-Expires`
//! seconds or `@` time; any `Set-Cookie`; `Vary: *`), each unless `proxy_ignore_headers`
//! names it, then `proxy_cache_valid` for the status when no header gave a time.

use super::file::{Meta, VARY_MAX};
use crate::conf::cache::{CacheLoc, ignore};
use crate::http::status::Status;

/// The decision for one response.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// The response may be stored.
    pub cacheable: bool,
    /// The header fields to store it with.
    pub meta: Meta,
}

/// The digits of a `NAME=` directive in `v` (nginx stops at `,`, `;` or a space);
/// Err when another character comes first.
fn directive_num(v: &[u8], name: &[u8]) -> Option<Result<i64, ()>> {
    let lower = v.to_ascii_lowercase();
    let at = lower.windows(name.len()).position(|w| w == name)?;
    let mut n: i64 = 0;
    for &c in &v[at + name.len()..] {
        match c {
            b',' | b';' | b' ' => break,
            b'0'..=b'9' => n = n.saturating_mul(10).saturating_add(i64::from(c - b'0')),
            _ => return Some(Err(())),
        }
    }
    Some(Ok(n))
}

fn contains_ci(v: &[u8], what: &[u8]) -> bool {
    v.to_ascii_lowercase()
        .windows(what.len())
        .any(|w| w == what)
}

/// Reads one `Cache-Control` value into `d` (nginx's `process_cache_control`).
fn cache_control(v: &[u8], now: i64, d: &mut Decision) {
    if contains_ci(v, b"no-cache") || contains_ci(v, b"no-store") || contains_ci(v, b"private") {
        d.cacheable = false;
        return;
    }
    let age = directive_num(v, b"s-maxage=").or_else(|| directive_num(v, b"max-age="));
    match age {
        Some(Err(())) | Some(Ok(0)) => {
            d.cacheable = false;
            return;
        }
        Some(Ok(n)) => d.meta.valid_sec = now + n,
        None => {}
    }
    match directive_num(v, b"stale-while-revalidate=") {
        Some(Err(())) => {
            d.cacheable = false;
            return;
        }
        Some(Ok(n)) => {
            d.meta.updating_sec = n;
            d.meta.error_sec = n;
        }
        None => {}
    }
    match directive_num(v, b"stale-if-error=") {
        Some(Err(())) => d.cacheable = false,
        Some(Ok(n)) => d.meta.error_sec = n,
        None => {}
    }
}

/// `X-Accel-Expires`: seconds from now (0: not cacheable), or `@` an absolute time.
fn accel_expires(v: &[u8], now: i64, d: &mut Decision) {
    let num = |s: &[u8]| -> Option<i64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    if let Some(rest) = v.strip_prefix(b"@") {
        if let Some(n) = num(rest) {
            d.meta.valid_sec = n;
        }
        return;
    }
    match num(v) {
        Some(0) => d.cacheable = false,
        Some(n) => d.meta.valid_sec = now + n,
        None => {}
    }
}

/// An HTTP date as Unix seconds.
pub fn http_time(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// Decides for a response with `status` and `headers` received at `now` (Unix seconds).
pub fn decide<'h>(
    conf: &CacheLoc,
    status: Status,
    headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    now: i64,
) -> Decision {
    let (mut d, etag, last_modified) = from_headers(conf, headers, now);
    if !d.cacheable {
        return d;
    }
    if d.meta.valid_sec == 0 {
        match conf.valid_for(status) {
            Some(t) if !t.is_zero() => d.meta.valid_sec = now + t.as_secs() as i64,
            _ => {
                d.cacheable = false;
                return d;
            }
        }
    }
    d.meta.date = now;
    if status == Status::OK || status == Status::PARTIAL_CONTENT {
        d.meta.last_modified = last_modified.unwrap_or(-1);
        d.meta.etag = etag
            .filter(|e| e.len() <= super::file::ETAG_MAX)
            .unwrap_or_default();
    }
    d
}

/// The header pass alone: cacheability and the times the headers give (valid_sec 0 when
/// none), with the ETag and Last-Modified seen.
pub fn from_headers<'h>(
    conf: &CacheLoc,
    headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    now: i64,
) -> (Decision, Option<Vec<u8>>, Option<i64>) {
    let mut d = Decision {
        cacheable: true,
        meta: Meta {
            last_modified: -1,
            ..Meta::default()
        },
    };
    let ign = |bit: u32| conf.ignore & bit != 0;
    let mut accel_seen = false;
    let mut etag = None;
    let mut last_modified = None;
    for (n, v) in headers {
        let is = |s: &[u8]| n.eq_ignore_ascii_case(s);
        if is(b"cache-control") && !ign(ignore::CACHE_CONTROL) {
            if !(d.meta.valid_sec != 0 && accel_seen) {
                cache_control(v, now, &mut d);
            }
        } else if is(b"expires") && !ign(ignore::EXPIRES) {
            if d.meta.valid_sec == 0 {
                match http_time(v) {
                    Some(t) if t >= now => d.meta.valid_sec = t,
                    _ => d.cacheable = false,
                }
            }
        } else if is(b"x-accel-expires") && !ign(ignore::XA_EXPIRES) {
            accel_seen = true;
            accel_expires(v, now, &mut d);
        } else if is(b"set-cookie") && !ign(ignore::SET_COOKIE) {
            d.cacheable = false;
        } else if is(b"vary") && !ign(ignore::VARY) {
            if v.len() > VARY_MAX || v == b"*" {
                d.cacheable = false;
            }
            d.meta.vary = v[..v.len().min(VARY_MAX)].to_vec();
        } else if is(b"etag") && etag.is_none() {
            etag = Some(v.to_vec());
        } else if is(b"last-modified") && last_modified.is_none() {
            last_modified = http_time(v);
        }
    }
    (d, etag, last_modified)
}
