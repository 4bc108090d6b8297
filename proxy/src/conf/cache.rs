//! proxy_cache settings of a location: the `proxy_cache*` / `proxy_no_cache` directives, each
//! parsed once when read into its typed value with `nginx -t`'s wording (the merge is
//! `conf::build::cache_conf`; `proxy_cache_path` is [`super::cache_path`]).

use super::error::ConfError;
use super::lexer::Directive;
use super::values::{parse_number, parse_time};
use crate::http::status::Status;
use crate::vars::Template;

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
    /// `proxy_cache_max_range_offset` (None: no limit): a request for a range starting at or
    /// beyond it is passed upstream as it is, and its response not stored.
    pub max_range_offset: Option<u64>,
}

/// The typed value of a cache directive whose value is the cache module's own
/// (`proxy_cache_min_uses`, the lock times and the on/off flags hold the shared kinds of
/// `conf::build::setting`).
#[derive(Debug, Clone)]
pub enum Setting {
    /// `proxy_cache`: None for `off`, else the zone's name as written and compiled.
    Zone(Option<(String, Template)>),
    /// `proxy_cache_key`.
    Key(Template),
    /// `proxy_cache_valid`: (status, 0 = any) → time; a time alone stands for 200, 301, 302.
    Valid(Vec<(u16, Duration)>),
    /// `proxy_cache_methods`.
    Methods(Vec<String>),
    /// `proxy_cache_use_stale` ([`stale_bit`]) or `proxy_ignore_headers` ([`ignore`]) bits.
    Bits(u32),
    /// `proxy_cache_bypass` / `proxy_no_cache`.
    Templates(Vec<Template>),
}

/// Whether [`parse`] reads directive `name`.
pub fn parses(name: &str) -> bool {
    matches!(
        name,
        "proxy_cache"
            | "proxy_cache_key"
            | "proxy_cache_valid"
            | "proxy_cache_methods"
            | "proxy_cache_use_stale"
            | "proxy_ignore_headers"
            | "proxy_cache_bypass"
            | "proxy_no_cache"
    )
}

/// The value of a cache directive that [`parses`] names (None for any other), checked as
/// nginx reads it and worded as `nginx -t`.
pub fn parse(d: &Directive) -> Result<Option<Setting>, ConfError> {
    let a = &d.args;
    let template = |v: &str| Template::compile(v).map_err(|e| at(d, e.to_string()));
    Ok(Some(match d.name.as_str() {
        "proxy_cache_valid" => Setting::Valid(valid(d)?),
        "proxy_cache_use_stale" => Setting::Bits(bits(d, stale_bit)?),
        "proxy_ignore_headers" => Setting::Bits(bits(d, ignore_bit)?),
        "proxy_cache_methods" => {
            if let Some(v) = a
                .iter()
                .find(|v| !matches!(v.as_str(), "GET" | "HEAD" | "POST"))
            {
                return Err(at(d, format!("invalid value \"{v}\"")));
            }
            Setting::Methods(a.clone())
        }
        "proxy_cache" => {
            let value = template(&a[0])?;
            Setting::Zone((a[0] != "off").then(|| (a[0].clone(), value)))
        }
        "proxy_cache_key" => Setting::Key(template(&a[0])?),
        "proxy_cache_bypass" | "proxy_no_cache" => {
            Setting::Templates(a.iter().map(|v| template(v)).collect::<Result<_, _>>()?)
        }
        _ => return Ok(None),
    }))
}

/// `proxy_cache_valid [STATUS...] TIME`: the time checked first, then each status.
fn valid(d: &Directive) -> Result<Vec<(u16, Duration)>, ConfError> {
    let Some((last, statuses)) = d.args.split_last() else {
        return Ok(Vec::new());
    };
    let t =
        parse_time(last, true).ok_or_else(|| at(d, format!("invalid time value \"{last}\"")))?;
    if statuses.is_empty() {
        return Ok([200, 301, 302].map(|s| (s, t)).to_vec());
    }
    statuses
        .iter()
        .map(|s| match status_of(s) {
            Some(code) => Ok((code, t)),
            None => Err(at(d, format!("invalid status \"{s}\""))),
        })
        .collect()
}

/// The bits of every value of `d`, each named by `bit`.
fn bits(d: &Directive, bit: fn(&str) -> Option<u32>) -> Result<u32, ConfError> {
    let mut all = 0;
    for v in &d.args {
        all |= bit(v).ok_or_else(|| at(d, format!("invalid value \"{v}\"")))?;
    }
    Ok(all)
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
