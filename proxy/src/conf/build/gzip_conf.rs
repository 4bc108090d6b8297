//! A level's merged gzip settings ([`GzipConf`]) from its inheritance chain, read from the
//! values parsed when the directives were read: single values from the innermost level that
//! sets them; `gzip_types`, `gzip_proxied` and `gzip_disable` accumulate within a level and are
//! inherited whole, as nginx's gzip merge does.

use super::chain::Chain;
use super::setting::Value;
use crate::conf::gzip::{GzipConf, Setting, StaticMode, types};

/// The merged gzip settings of the level `c` ends at.
pub(super) fn build_gzip(c: &Chain<'_>) -> GzipConf {
    let d = GzipConf::default();
    let proxied = c
        .gzip_list("gzip_proxied")
        .into_iter()
        .map(|s| match s {
            Setting::Proxied(bits) => *bits,
            _ => 0,
        })
        .fold(0, |a, b| a | b);
    let (disable_msie6, disable) = disable(c, &c.gzip_list("gzip_disable"));
    GzipConf {
        enable: c.flag("gzip", false),
        types: types(c.gzip_list("gzip_types").into_iter().map(|s| match s {
            Setting::Types(t) => t.as_slice(),
            _ => &[][..],
        })),
        min_length: c.size("gzip_min_length", d.min_length),
        level: match c.gzip("gzip_comp_level") {
            Some(Setting::Level(n)) => *n,
            _ => d.level,
        },
        proxied: if proxied != 0 { proxied } else { d.proxied },
        vary: c.flag("gzip_vary", false),
        disable_msie6,
        disable,
        http_version: match c.http_version("gzip_http_version") {
            Some(false) => 10,
            _ => d.http_version,
        },
        buffers: c.buffers("gzip_buffers", d.buffers),
        window_bits: match c.gzip("gzip_window") {
            Some(Setting::Bits(b)) => *b,
            _ => d.window_bits,
        },
        mem_level: match c.gzip("gzip_hash") {
            Some(Setting::Bits(b)) => *b - 8,
            _ => d.mem_level,
        },
        static_mode: match c.gzip("gzip_static") {
            Some(Setting::Static(m)) => *m,
            _ => StaticMode::Off,
        },
    }
}

/// `gzip_disable`: `msie6` at any level of the chain, and the patterns of the innermost level
/// that has any `gzip_disable`.
fn disable(c: &Chain<'_>, innermost: &[&Setting]) -> (bool, Vec<regex::bytes::Regex>) {
    let msie6 = c
        .levels
        .iter()
        .flat_map(|l| l.entries())
        .any(|(_, v)| matches!(v, Some(Value::Gzip(Setting::Disable(true, _)))));
    let patterns = innermost
        .iter()
        .flat_map(|s| match s {
            Setting::Disable(_, p) => p.as_slice(),
            _ => &[][..],
        })
        .cloned()
        .collect();
    (msie6, patterns)
}

#[cfg(test)]
mod tests {
    use super::super::raw::RawLevel;
    use super::*;
    use crate::conf::gzip::{Types, proxied};
    use crate::conf::lexer::Directive;

    fn level(dirs: &[(&str, &[&str])]) -> RawLevel {
        let mut l = RawLevel::default();
        for (name, args) in dirs {
            l.add(&Directive::at("t.conf", 3, name, args)).unwrap();
        }
        l
    }

    #[test]
    fn inheritance_follows_nginx_merges() {
        let http = level(&[
            ("gzip", &["on"]),
            ("gzip_types", &["application/json"]),
            ("gzip_disable", &["msie6"]),
            ("gzip_disable", &["curl"]),
            ("gzip_proxied", &["expired"]),
            ("gzip_proxied", &["no-cache"]),
            ("gzip_http_version", &["1.0"]),
        ]);
        let loc = level(&[("gzip_disable", &["wget"]), ("gzip_comp_level", &["6"])]);
        let g = build_gzip(&Chain {
            levels: vec![&http, &loc],
        });
        assert!(g.enable && g.disable_msie6);
        assert_eq!((g.level, g.http_version, g.min_length), (6, 10, 20));
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
        let star = level(&[("gzip_types", &["text/css", "*"])]);
        let g = build_gzip(&Chain {
            levels: vec![&star],
        });
        assert_eq!(g.types, Types::Any);
        assert_eq!(g.proxied, proxied::OFF);
    }

    #[test]
    fn window_and_hash_are_zlib_bits_and_mem_level() {
        let sized = level(&[("gzip_window", &["4k"]), ("gzip_hash", &["2k"])]);
        let g = build_gzip(&Chain {
            levels: vec![&sized],
        });
        assert_eq!((g.window_bits, g.mem_level), (12, 3));
        let big = level(&[("gzip_hash", &["128k"])]);
        let g = build_gzip(&Chain { levels: vec![&big] });
        assert_eq!((g.window_bits, g.mem_level), (15, 9));
    }

    #[test]
    fn shared_kinds_keep_nginx_wording() {
        let mut l = RawLevel::default();
        for (name, v, want) in [
            (
                "gzip_min_length",
                "-1",
                "\"gzip_min_length\" directive invalid value",
            ),
            ("gzip_http_version", "2.0", "invalid value \"2.0\""),
        ] {
            let e = l.add(&Directive::at("t.conf", 3, name, &[v])).unwrap_err();
            assert_eq!(e.to_string(), format!("{want} in t.conf:3"), "{name}");
        }
    }
}
