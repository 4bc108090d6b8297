//! proxy_cache settings of a location: the `proxy_cache*` / `proxy_no_cache` directives,
//! validated with `nginx -t`'s wording and merged as nginx's proxy module merges them
//! (`proxy_cache_path` is [`super::cache_path`]).

use super::error::ConfError;
use super::lexer::Directive;
use super::values::{parse_number, parse_time};
use crate::http::status::Status;
use crate::vars::Template;
use std::sync::Arc;

use super::cache_path::at;
pub use super::cache_path::{Batches, CachePath, parse_path};
use std::time::Duration;

/// `proxy_cache_use_stale` bits (nginx's `NGX_HTTP_UPSTREAM_FT_*`, as in
/// [`super::model::next_upstream`]).
pub mod stale {
    /// `updating`.
    pub const UPDATING: u32 = 0x800;
    /// No live upstreams (implied by `error`).
    pub const NOLIVE: u32 = 0x4000_0000;
    /// `off`.
    pub const OFF: u32 = 0x8000_0000;
}

/// `proxy_ignore_headers` bits that matter to the cache.
pub mod ignore {
    /// `X-Accel-Expires`.
    pub const XA_EXPIRES: u32 = 0x2;
    /// `Expires`.
    pub const EXPIRES: u32 = 0x8;
    /// `Cache-Control`.
    pub const CACHE_CONTROL: u32 = 0x10;
    /// `Set-Cookie`.
    pub const SET_COOKIE: u32 = 0x20;
    /// `Vary`.
    pub const VARY: u32 = 0x200;
}

/// The zone of `proxy_cache`.
#[derive(Debug)]
pub enum ZoneRef {
    /// A name: index into `Http::cache_paths`.
    Index(usize),
    /// Variables, rendered per request: a zone's name, or empty / `off` for no caching;
    /// any other name is nginx's `cache "NAME" not found` and a 500.
    Var(Template),
}

/// The cache settings of one location (present when `proxy_cache ZONE` applies).
#[derive(Debug)]
pub struct CacheLoc {
    /// The zone.
    pub zone: ZoneRef,
    /// `proxy_cache_key`; None: nginx's default, the proxy_pass URL's scheme and host and
    /// the URI sent upstream (documented as `$scheme$proxy_host$request_uri`).
    pub key: Option<Template>,
    /// `proxy_cache_valid`: (status, 0 = any) → time.
    pub valid: Vec<(u16, Duration)>,
    /// `proxy_cache_methods` (GET and HEAD always).
    pub methods: Vec<String>,
    /// `proxy_cache_min_uses` (1).
    pub min_uses: u32,
    /// `proxy_cache_bypass` values.
    pub bypass: Vec<Template>,
    /// `proxy_no_cache` values.
    pub no_cache: Vec<Template>,
    /// `proxy_cache_use_stale` bits (`next_upstream` + [`stale`]).
    pub use_stale: u32,
    /// `proxy_cache_background_update` (off).
    pub background_update: bool,
    /// `proxy_cache_lock` (off).
    pub lock: bool,
    /// `proxy_cache_lock_timeout` (5s).
    pub lock_timeout: Duration,
    /// `proxy_cache_lock_age` (5s).
    pub lock_age: Duration,
    /// `proxy_cache_revalidate` (off).
    pub revalidate: bool,
    /// `proxy_cache_convert_head` (on): a HEAD goes upstream as GET.
    pub convert_head: bool,
    /// `proxy_ignore_headers` bits ([`ignore`]).
    pub ignore: u32,
}

/// Value checks of the location-level cache directives (when the directive is read).
pub fn validate(d: &Directive) -> Result<(), ConfError> {
    let a = &d.args;
    match d.name.as_str() {
        "proxy_cache_valid" => {
            let last = &a[a.len() - 1];
            parse_time(last, true)
                .ok_or_else(|| at(d, format!("invalid time value \"{last}\"")))?;
            for s in &a[..a.len() - 1] {
                status_of(s).ok_or_else(|| at(d, format!("invalid status \"{s}\"")))?;
            }
        }
        "proxy_cache_min_uses" => {
            parse_number(&a[0])
                .ok_or_else(|| at(d, format!("\"{}\" directive invalid number", d.name)))?;
        }
        "proxy_cache_lock_timeout" | "proxy_cache_lock_age" => {
            parse_time(&a[0], false)
                .ok_or_else(|| at(d, format!("\"{}\" directive invalid value", d.name)))?;
        }
        "proxy_cache_use_stale" => {
            for v in a {
                stale_bit(v).ok_or_else(|| at(d, format!("invalid value \"{v}\"")))?;
            }
        }
        "proxy_ignore_headers" => {
            for v in a {
                ignore_bit(v).ok_or_else(|| at(d, format!("invalid value \"{v}\"")))?;
            }
        }
        "proxy_cache_methods" => {
            for v in a {
                if !matches!(v.as_str(), "GET" | "HEAD" | "POST") {
                    return Err(at(d, format!("invalid value \"{v}\"")));
                }
            }
        }
        "proxy_cache_key" | "proxy_cache" => {
            Template::compile(&a[0]).map_err(|e| at(d, e.to_string()))?;
        }
        "proxy_cache_bypass" | "proxy_no_cache" => {
            for v in a {
                Template::compile(v).map_err(|e| at(d, e.to_string()))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `any` → 0, else a status between 100 and 599.
fn status_of(s: &str) -> Option<u16> {
    if s == "any" {
        return Some(0);
    }
    let n = parse_number(s)?;
    (100..=599).contains(&n).then_some(n as u16)
}

/// `proxy_cache_use_stale` value → bit: `proxy_next_upstream`'s conditions (not
/// `non_idempotent`), `updating` and an `off` of its own.
pub fn stale_bit(v: &str) -> Option<u32> {
    match v {
        "updating" => Some(stale::UPDATING),
        "off" => Some(stale::OFF),
        "non_idempotent" => None,
        _ => super::model::next_upstream::bit(v),
    }
}

/// `proxy_ignore_headers` value → bit (the ones the cache does not read map to 0).
fn ignore_bit(v: &str) -> Option<u32> {
    Some(match v {
        "X-Accel-Expires" => ignore::XA_EXPIRES,
        "Expires" => ignore::EXPIRES,
        "Cache-Control" => ignore::CACHE_CONTROL,
        "Set-Cookie" => ignore::SET_COOKIE,
        "Vary" => ignore::VARY,
        "X-Accel-Redirect" | "X-Accel-Limit-Rate" | "X-Accel-Buffering" | "X-Accel-Charset" => 0,
        _ => return None,
    })
}

/// Reads a merged setting: the innermost directive named so, or every directive named so at
/// the innermost level that has one.
pub trait Lookup {
    /// The innermost directive `name`.
    fn one(&self, name: &str) -> Option<&Directive>;
    /// All directives `name` of the innermost level that has any.
    fn all(&self, name: &str) -> Vec<&Directive>;
}

/// The merged cache settings of a location; None when `proxy_cache` is absent or `off`.
/// `end` is where nginx reports merge errors (the http block's closing brace).
pub fn build(
    c: &dyn Lookup,
    paths: &[Arc<CachePath>],
    end: &Directive,
) -> Result<Option<Arc<CacheLoc>>, ConfError> {
    let Some(d) = c.one("proxy_cache") else {
        return Ok(None);
    };
    if d.args[0] == "off" {
        return Ok(None);
    }
    let value = Template::compile(&d.args[0]).map_err(|e| at(d, e.to_string()))?;
    let zone = if !value.is_literal() {
        ZoneRef::Var(value)
    } else {
        let i = paths
            .iter()
            .position(|p| p.name == d.args[0])
            .ok_or_else(|| {
                at(
                    end,
                    format!("\"proxy_cache\" zone \"{}\" is unknown", d.args[0]),
                )
            })?;
        ZoneRef::Index(i)
    };
    let key = match c.one("proxy_cache_key") {
        Some(k) => Some(Template::compile(&k.args[0]).map_err(|e| at(k, e.to_string()))?),
        None => None,
    };
    let mut valid = Vec::new();
    for v in c.all("proxy_cache_valid") {
        let t = parse_time(&v.args[v.args.len() - 1], true).unwrap_or_default();
        if v.args.len() == 1 {
            valid.extend([200, 301, 302].map(|s| (s, t)));
        }
        for s in &v.args[..v.args.len() - 1] {
            valid.push((status_of(s).unwrap_or(0), t));
        }
    }
    let bits = |name: &str, f: fn(&str) -> Option<u32>| -> u32 {
        c.all(name)
            .iter()
            .flat_map(|d| d.args.iter())
            .filter_map(|v| f(v))
            .fold(0, |a, b| a | b)
    };
    let mut use_stale = bits("proxy_cache_use_stale", stale_bit);
    if use_stale & stale::OFF != 0 || use_stale == 0 {
        use_stale = 0;
    }
    if use_stale & super::model::next_upstream::ERROR != 0 {
        use_stale |= stale::NOLIVE;
    }
    let templates = |name: &str| -> Vec<Template> {
        c.all(name)
            .iter()
            .flat_map(|d| d.args.iter())
            .filter_map(|v| Template::compile(v).ok())
            .collect()
    };
    let flag = |name: &str| {
        c.one(name)
            .is_some_and(|d| d.args[0].eq_ignore_ascii_case("on"))
    };
    let time = |name: &str| {
        c.one(name)
            .and_then(|d| parse_time(&d.args[0], false))
            .unwrap_or(Duration::from_secs(5))
    };
    let mut methods: Vec<String> = c
        .all("proxy_cache_methods")
        .iter()
        .flat_map(|d| d.args.iter().cloned())
        .collect();
    methods.extend(["GET".to_string(), "HEAD".to_string()]);
    Ok(Some(Arc::new(CacheLoc {
        zone,
        key,
        valid,
        methods,
        min_uses: c
            .one("proxy_cache_min_uses")
            .and_then(|d| parse_number(&d.args[0]))
            .unwrap_or(1) as u32,
        bypass: templates("proxy_cache_bypass"),
        no_cache: templates("proxy_no_cache"),
        use_stale,
        background_update: flag("proxy_cache_background_update"),
        lock: flag("proxy_cache_lock"),
        lock_timeout: time("proxy_cache_lock_timeout"),
        lock_age: time("proxy_cache_lock_age"),
        revalidate: flag("proxy_cache_revalidate"),
        convert_head: c
            .one("proxy_cache_convert_head")
            .is_none_or(|d| d.args[0].eq_ignore_ascii_case("on")),
        ignore: bits("proxy_ignore_headers", ignore_bit),
    })))
}

impl CacheLoc {
    /// `proxy_cache_valid`'s time for `status` (an exact entry or `any`, first match).
    pub fn valid_for(&self, status: Status) -> Option<Duration> {
        self.valid
            .iter()
            .find(|(s, _)| *s == status.code() || *s == 0)
            .map(|(_, t)| *t)
    }
}

/// The directives of this module (name, whether several may appear at one level).
pub const LOC_DIRECTIVES: &[(&str, bool)] = &[
    ("proxy_cache", false),
    ("proxy_cache_key", false),
    ("proxy_cache_valid", true),
    ("proxy_cache_methods", true),
    ("proxy_cache_min_uses", false),
    ("proxy_cache_bypass", true),
    ("proxy_no_cache", true),
    ("proxy_cache_use_stale", true),
    ("proxy_cache_background_update", false),
    ("proxy_cache_lock", false),
    ("proxy_cache_lock_timeout", false),
    ("proxy_cache_lock_age", false),
    ("proxy_cache_revalidate", false),
    ("proxy_cache_convert_head", false),
    ("proxy_cache_max_range_offset", false),
];

/// Whether `name` may appear several times at one level.
pub fn repeatable(name: &str) -> bool {
    LOC_DIRECTIVES.iter().any(|(n, r)| *n == name && *r)
}
