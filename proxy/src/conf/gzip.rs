//! gzip settings of a location (nginx's `ngx_http_gzip_filter_module`, the gzip part of
//! `ngx_http_core_module` and `ngx_http_gzip_static_module`): `gzip`, `gzip_types`,
//! `gzip_min_length`, `gzip_comp_level`, `gzip_proxied`, `gzip_vary`, `gzip_disable`,
//! `gzip_http_version`, `gzip_buffers`, `gzip_window`, `gzip_hash`, `gzip_static`; their value
//! checks worded as `nginx -t`, and their inheritance.

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

/// Value checks of the gzip directives as nginx reads them (`None` for other directives).
pub fn validate(d: &Directive) -> Result<(), ConfError> {
    let a = &d.args;
    match d.name.as_str() {
        "gzip_comp_level" => {
            let n = parse_number(&a[0])
                .ok_or_else(|| err(d, "\"gzip_comp_level\" directive invalid number"))?;
            if !(1..=9).contains(&n) {
                return Err(err(d, "value must be between 1 and 9"));
            }
        }
        "gzip_min_length" if parse_size(&a[0]).is_none() => {
            return Err(err(d, "\"gzip_min_length\" directive invalid value"));
        }
        "gzip_http_version" if a[0] != "1.0" && a[0] != "1.1" => {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "gzip_static" if !matches!(a[0].as_str(), "on" | "off" | "always") => {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "gzip_proxied" => {
            if let Some(bad) = a.iter().find(|v| proxied_bit(v).is_none()) {
                return Err(err(d, format!("invalid value \"{bad}\"")));
            }
        }
        "gzip_window" if power_of_two(&a[0], 32 * 1024).is_none() => {
            return Err(err(
                d,
                "\"gzip_window\" directive must be 512, 1k, 2k, 4k, 8k, 16k, or 32k",
            ));
        }
        "gzip_hash" if power_of_two(&a[0], 128 * 1024).is_none() => {
            return Err(err(
                d,
                "\"gzip_hash\" directive must be 512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k",
            ));
        }
        "gzip_disable" => {
            for re in a.iter().filter(|v| *v != "msie6" && *v != "degradation") {
                compile(re).map_err(|m| err(d, m))?;
            }
        }
        _ => {}
    }
    Ok(())
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

/// The directives of one level's chain, outermost level first (http, server, locations).
pub type Levels<'a> = [&'a [Directive]];

/// The last `name` in the innermost level that has one.
fn get<'a>(levels: &Levels<'a>, name: &str) -> Option<&'a Directive> {
    levels
        .iter()
        .rev()
        .find_map(|l| l.iter().rev().find(|d| d.name == name))
}

/// Every `name` of the innermost level that has any (lists that accumulate within a level
/// and are inherited whole: `gzip_types`, `gzip_proxied`, `gzip_disable`).
fn list<'a>(levels: &Levels<'a>, name: &str) -> Vec<&'a Directive> {
    for l in levels.iter().rev() {
        let v: Vec<&Directive> = l.iter().filter(|d| d.name == name).collect();
        if !v.is_empty() {
            return v;
        }
    }
    Vec::new()
}

impl GzipConf {
    /// The merged settings for a chain of levels (values were checked by [`validate`]).
    pub fn build(levels: &Levels<'_>) -> Result<GzipConf, ConfError> {
        let mut g = GzipConf::default();
        let arg = |name: &str| get(levels, name).map(|d| d.args[0].as_str());
        g.enable = arg("gzip").is_some_and(|v| v.eq_ignore_ascii_case("on"));
        g.vary = arg("gzip_vary").is_some_and(|v| v.eq_ignore_ascii_case("on"));
        if let Some(n) = arg("gzip_min_length").and_then(parse_size) {
            g.min_length = n;
        }
        if let Some(n) = arg("gzip_comp_level").and_then(parse_number) {
            g.level = n as u32;
        }
        if arg("gzip_http_version") == Some("1.0") {
            g.http_version = 10;
        }
        g.static_mode = match arg("gzip_static") {
            Some("on") => StaticMode::On,
            Some("always") => StaticMode::Always,
            _ => StaticMode::Off,
        };
        if let Some(w) = arg("gzip_window").and_then(|v| power_of_two(v, 32 * 1024)) {
            g.window_bits = w;
        }
        if let Some(h) = arg("gzip_hash").and_then(|v| power_of_two(v, 128 * 1024)) {
            g.mem_level = h - 8;
        }
        if let Some(d) = get(levels, "gzip_buffers")
            && let (Some(n), Some(s)) = (parse_number(&d.args[0]), parse_size(&d.args[1]))
        {
            g.buffers = (n as usize, s as usize);
        }
        let proxied = list(levels, "gzip_proxied")
            .iter()
            .flat_map(|d| d.args.iter().filter_map(|v| proxied_bit(v)))
            .fold(0, |a, b| a | b);
        if proxied != 0 {
            g.proxied = proxied;
        }
        g.types = types(&list(levels, "gzip_types"));
        g.disable_msie6 = levels
            .iter()
            .flat_map(|l| l.iter())
            .any(|d| d.name == "gzip_disable" && d.args.iter().any(|a| a == "msie6"));
        for d in list(levels, "gzip_disable") {
            for re in d
                .args
                .iter()
                .filter(|v| *v != "msie6" && *v != "degradation")
            {
                g.disable.push(compile(re).map_err(|m| err(d, m))?);
            }
        }
        Ok(g)
    }
}

/// `gzip_types` of one level: `text/html` first, then the listed types lowercased; `*`
/// anywhere means every type.
fn types(dirs: &[&Directive]) -> Types {
    let mut v = vec!["text/html".to_string()];
    for d in dirs {
        for t in &d.args {
            if t == "*" {
                return Types::Any;
            }
            let t = t.to_ascii_lowercase();
            if !v.contains(&t) {
                v.push(t);
            }
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

    #[test]
    fn inheritance_follows_nginx_merges() {
        let http = [
            dir("gzip", &["on"]),
            dir("gzip_types", &["application/json"]),
            dir("gzip_disable", &["msie6"]),
            dir("gzip_disable", &["curl"]),
            dir("gzip_proxied", &["expired"]),
            dir("gzip_proxied", &["no-cache"]),
        ];
        let loc = [
            dir("gzip_disable", &["wget"]),
            dir("gzip_comp_level", &["6"]),
        ];
        let g = GzipConf::build(&[&http[..], &loc[..]]).unwrap();
        assert!(g.enable && g.disable_msie6);
        assert_eq!(g.level, 6);
        assert_eq!(
            g.disable.len(),
            1,
            "the location's list replaces the http one"
        );
        assert!(g.disable[0].is_match(b"WGET/1.0"));
        assert_eq!(g.proxied, proxied::EXPIRED | proxied::NO_CACHE);
        assert!(g.types.matches(Some(b"Application/JSON; charset=utf-8")));
        assert!(g.types.matches(Some(b"text/html")));
        assert!(!g.types.matches(Some(b"text/css")));
        assert!(!g.types.matches(None));
        let star = [dir("gzip_types", &["text/css", "*"])];
        assert_eq!(GzipConf::build(&[&star[..]]).unwrap().types, Types::Any);
    }

    #[test]
    fn bad_values_are_worded_as_nginx() {
        let cases = [
            ("gzip_comp_level", "0", "value must be between 1 and 9"),
            (
                "gzip_comp_level",
                "x",
                "\"gzip_comp_level\" directive invalid number",
            ),
            (
                "gzip_min_length",
                "-1",
                "\"gzip_min_length\" directive invalid value",
            ),
            ("gzip_http_version", "2.0", "invalid value \"2.0\""),
            ("gzip_static", "maybe", "invalid value \"maybe\""),
            ("gzip_proxied", "bogus", "invalid value \"bogus\""),
        ];
        for (name, v, want) in cases {
            let e = validate(&dir(name, &[v])).unwrap_err().to_string();
            assert!(e.starts_with(want), "{name} {v}: {e}");
            assert!(e.ends_with("t.conf:3"), "{e}");
        }
        assert!(validate(&dir("gzip_window", &["16k"])).is_ok());
        let sized = [dir("gzip_window", &["4k"]), dir("gzip_hash", &["2k"])];
        let g = GzipConf::build(&[&sized[..]]).unwrap();
        assert_eq!((g.window_bits, g.mem_level), (12, 3));
        let g = GzipConf::build(&[&[dir("gzip_hash", &["128k"])][..]]).unwrap();
        assert_eq!((g.window_bits, g.mem_level), (15, 9));
        assert!(validate(&dir("gzip_window", &["100"])).is_err());
    }
}
