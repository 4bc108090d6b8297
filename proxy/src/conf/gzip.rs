//! gzip settings of a location (nginx's `ngx_http_gzip_filter_module`, the gzip part of
//! `ngx_http_core_module` and `ngx_http_gzip_static_module`): `gzip`, `gzip_types`,
//! `gzip_min_length`, `gzip_comp_level`, `gzip_proxied`, `gzip_vary`, `gzip_disable`,
//! `gzip_http_version`, `gzip_buffers`, `gzip_window`, `gzip_hash`, `gzip_static`: the merged
//! settings, and the typed values of the module's own directives, parsed once when read with
//! `nginx -t`'s wording (the merge is `conf::build::gzip_conf`).

use super::error::ConfError;
use super::lexer::Directive;
use super::values::{parse_number, parse_size};

/// `gzip_proxied` bits (nginx's `NGX_HTTP_GZIP_PROXIED_*`).
pub mod proxied {
    /// `off` (the default): never for proxied requests.
    pub const OFF: u32 = 0x0002;
    /// `expired`: the response has an `Expires` in the past.
    pub const EXPIRED: u32 = 0x0004;
    /// `no-cache` in the response's `Cache-Control`.
    pub const NO_CACHE: u32 = 0x0008;
    /// `no-store` in the response's `Cache-Control`.
    pub const NO_STORE: u32 = 0x0010;
    /// `private` in the response's `Cache-Control`.
    pub const PRIVATE: u32 = 0x0020;
    /// The response has no `Last-Modified`.
    pub const NO_LM: u32 = 0x0040;
    /// The response has no `ETag`.
    pub const NO_ETAG: u32 = 0x0080;
    /// The request has `Authorization`.
    pub const AUTH: u32 = 0x0100;
    /// Every proxied request.
    pub const ANY: u32 = 0x0200;
}

/// `gzip_proxied` value name → bit (case-insensitive, as nginx's bitmask slot).
fn proxied_bit(v: &str) -> Option<u32> {
    use proxied::*;
    Some(match v.to_ascii_lowercase().as_str() {
        "off" => OFF,
        "expired" => EXPIRED,
        "no-cache" => NO_CACHE,
        "no-store" => NO_STORE,
        "private" => PRIVATE,
        "no_last_modified" => NO_LM,
        "no_etag" => NO_ETAG,
        "auth" => AUTH,
        "any" => ANY,
        _ => return None,
    })
}

/// `gzip_static`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaticMode {
    /// `off` (default).
    #[default]
    Off,
    /// `on`: `FILE.gz` when the client accepts gzip.
    On,
    /// `always`: `FILE.gz` whatever the client sent.
    Always,
}

/// `gzip_types`: MIME types compressed (`text/html` always is), or `*` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Types {
    /// `gzip_types *`.
    Any,
    /// Lowercase types without parameters.
    List(Vec<String>),
}

impl Types {
    /// Whether `content_type` (as sent, parameters allowed) is listed. A response without a
    /// type matches only `*`.
    pub fn matches(&self, content_type: Option<&[u8]>) -> bool {
        let list = match self {
            Types::Any => return true,
            Types::List(l) => l,
        };
        let Some(ct) = content_type else {
            return false;
        };
        let end = ct.iter().position(|&b| b == b';').unwrap_or(ct.len());
        let ty = ct[..end].trim_ascii();
        list.iter().any(|t| t.as_bytes().eq_ignore_ascii_case(ty))
    }
}

/// The merged gzip settings of one location.
#[derive(Debug, Clone)]
pub struct GzipConf {
    /// `gzip` (off).
    pub enable: bool,
    /// `gzip_types` (text/html).
    pub types: Types,
    /// `gzip_min_length` (20): shorter responses with a known length stay plain.
    pub min_length: u64,
    /// `gzip_comp_level` (1).
    pub level: u32,
    /// `gzip_proxied` bits ([`proxied`]; default `off`).
    pub proxied: u32,
    /// `gzip_vary` (off).
    pub vary: bool,
    /// `gzip_disable msie6`.
    pub disable_msie6: bool,
    /// `gzip_disable REGEX...` (case-insensitive) matched against `User-Agent`.
    pub disable: Vec<regex::bytes::Regex>,
    /// `gzip_http_version` as 10 or 11 (11).
    pub http_version: u8,
    /// `gzip_buffers` number and size (32 4k): output is sent in pieces of at most this size.
    pub buffers: (usize, usize),
    /// `gzip_window` as zlib window bits (15).
    pub window_bits: u8,
    /// `gzip_hash` as zlib memLevel (8: a 64k hash; 512 → 1 ... 128k → 9).
    pub mem_level: u8,
    /// `gzip_static` (off).
    pub static_mode: StaticMode,
}

impl Default for GzipConf {
    fn default() -> GzipConf {
        GzipConf {
            enable: false,
            types: Types::List(vec!["text/html".into()]),
            min_length: 20,
            level: 1,
            proxied: proxied::OFF,
            vary: false,
            disable_msie6: false,
            disable: Vec::new(),
            http_version: 11,
            buffers: (32, 4096),
            window_bits: 15,
            mem_level: 8,
            static_mode: StaticMode::Off,
        }
    }
}

fn err(d: &Directive, msg: impl Into<String>) -> ConfError {
    ConfError::at(msg, &d.file, d.line)
}

/// `gzip_window` / `gzip_hash` sizes nginx accepts → log2.
fn power_of_two(s: &str, max: u64) -> Option<u8> {
    let n = parse_size(s)?;
    (n.is_power_of_two() && (512..=max).contains(&n)).then(|| n.trailing_zeros() as u8)
}

/// The typed value of a gzip directive whose value is the gzip module's own (`gzip`,
/// `gzip_vary`, `gzip_min_length`, `gzip_http_version` and `gzip_buffers` hold the shared
/// kinds of `conf::build::setting`).
#[derive(Debug, Clone)]
pub enum Setting {
    /// `gzip_comp_level`, 1 to 9.
    Level(u32),
    /// `gzip_static`.
    Static(StaticMode),
    /// `gzip_proxied`: the listed [`proxied`] bits.
    Proxied(u32),
    /// `gzip_window` / `gzip_hash`: log2 of the size.
    Bits(u8),
    /// `gzip_disable`: whether `msie6` is listed, and the patterns (case-insensitive).
    Disable(bool, Vec<regex::bytes::Regex>),
    /// `gzip_types`: the listed types lowercased (`*` kept as written).
    Types(Vec<String>),
}

/// Whether [`parse`] reads directive `name`.
pub fn parses(name: &str) -> bool {
    matches!(
        name,
        "gzip_comp_level"
            | "gzip_static"
            | "gzip_proxied"
            | "gzip_window"
            | "gzip_hash"
            | "gzip_disable"
            | "gzip_types"
    )
}

/// The value of a gzip directive that [`parses`] names (None for any other), checked as nginx
/// reads it and worded as `nginx -t`.
pub fn parse(d: &Directive) -> Result<Option<Setting>, ConfError> {
    let a = &d.args;
    let one = a[0].as_str();
    let invalid = |v: &str| err(d, format!("invalid value \"{v}\""));
    Ok(Some(match d.name.as_str() {
        "gzip_comp_level" => Setting::Level(level(d)?),
        "gzip_static" => Setting::Static(match one {
            "on" => StaticMode::On,
            "always" => StaticMode::Always,
            "off" => StaticMode::Off,
            _ => return Err(invalid(one)),
        }),
        "gzip_proxied" => {
            let mut bits = 0;
            for v in a {
                bits |= proxied_bit(v).ok_or_else(|| invalid(v))?;
            }
            Setting::Proxied(bits)
        }
        "gzip_window" => Setting::Bits(power_of_two(one, 32 * 1024).ok_or_else(|| {
            err(
                d,
                "\"gzip_window\" directive must be 512, 1k, 2k, 4k, 8k, 16k, or 32k",
            )
        })?),
        "gzip_hash" => Setting::Bits(power_of_two(one, 128 * 1024).ok_or_else(|| {
            err(
                d,
                "\"gzip_hash\" directive must be 512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k",
            )
        })?),
        "gzip_disable" => {
            let mut patterns = Vec::new();
            for re in a.iter().filter(|v| *v != "msie6" && *v != "degradation") {
                patterns.push(compile(re).map_err(|m| err(d, m))?);
            }
            Setting::Disable(a.iter().any(|v| v == "msie6"), patterns)
        }
        "gzip_types" => Setting::Types(a.iter().map(|t| t.to_ascii_lowercase()).collect()),
        _ => return Ok(None),
    }))
}

/// `gzip_comp_level`: a number from 1 to 9.
fn level(d: &Directive) -> Result<u32, ConfError> {
    let n = parse_number(&d.args[0])
        .ok_or_else(|| err(d, "\"gzip_comp_level\" directive invalid number"))?;
    if !(1..=9).contains(&n) {
        return Err(err(d, "value must be between 1 and 9"));
    }
    Ok(n as u32)
}

/// A `gzip_disable` pattern, case-insensitive; the error worded as nginx's PCRE one.
fn compile(re: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::RegexBuilder::new(re)
        .case_insensitive(true)
        .build()
        .map_err(|e| {
            let why = e.to_string();
            let why = why.lines().last().unwrap_or("").trim().to_string();
            format!("pcre2_compile() failed: {why} in \"{re}\"")
        })
}

/// `gzip_types` of one level (every directive's types, in order): `text/html` first, then
/// the listed types; `*` anywhere means every type.
pub fn types<'a>(lists: impl IntoIterator<Item = &'a [String]>) -> Types {
    let mut v = vec!["text/html".to_string()];
    for t in lists.into_iter().flatten() {
        if t == "*" {
            return Types::Any;
        }
        if !v.contains(t) {
            v.push(t.clone());
        }
    }
    Types::List(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::at("t.conf", 3, name, args)
    }

    fn message(name: &str, v: &str) -> String {
        parse(&dir(name, &[v])).unwrap_err().to_string()
    }

    #[test]
    fn values_are_parsed_once_and_bad_ones_worded_as_nginx() {
        let cases = [
            ("gzip_comp_level", "0", "value must be between 1 and 9"),
            (
                "gzip_comp_level",
                "x",
                "\"gzip_comp_level\" directive invalid number",
            ),
            ("gzip_static", "maybe", "invalid value \"maybe\""),
            ("gzip_proxied", "bogus", "invalid value \"bogus\""),
        ];
        for (name, v, want) in cases {
            let e = message(name, v);
            assert!(e.starts_with(want), "{name} {v}: {e}");
            assert!(e.ends_with("t.conf:3"), "{e}");
        }
        assert!(matches!(
            parse(&dir("gzip_window", &["16k"])),
            Ok(Some(Setting::Bits(14)))
        ));
        assert!(parse(&dir("gzip_window", &["100"])).is_err());
        assert!(matches!(
            parse(&dir("gzip_proxied", &["expired", "Any"])),
            Ok(Some(Setting::Proxied(b))) if b == proxied::EXPIRED | proxied::ANY
        ));
        assert!(parse(&dir("gzip_vary", &["on"])).unwrap().is_none());
        let lists = [
            vec!["text/css".to_string()],
            vec!["text/html".into(), "application/json".into()],
        ];
        let t = types(lists.iter().map(Vec::as_slice));
        assert_eq!(
            t,
            Types::List(vec![
                "text/html".into(),
                "text/css".into(),
                "application/json".into()
            ])
        );
        assert_eq!(types([&["*".to_string()][..]]), Types::Any);
    }
}
