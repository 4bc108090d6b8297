//! A level's merged cache settings ([`CacheLoc`]) from its inheritance chain, read from the
//! values parsed when the directives were read, as nginx's proxy module merges them: single
//! values from the innermost level that sets them, lists (`proxy_cache_valid`,
//! `proxy_cache_use_stale`, `proxy_cache_bypass`, ...) from the innermost level that has any.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::chain::Chain;
use super::err;
use crate::conf::cache::{CacheLoc, CachePath, Setting, ZoneRef, stale};
use crate::conf::model::next_upstream;
use std::sync::Arc;

/// The merged cache settings of a location; None when `proxy_cache` is absent or `off`.
/// `end` is where nginx reports merge errors (the http block's closing brace).
pub(super) fn build_cache(
    c: &Chain<'_>,
    paths: &[Arc<CachePath>],
    end: &Directive,
) -> Result<Option<Arc<CacheLoc>>, ConfError> {
    let Some(Setting::Zone(Some((name, value)))) = c.cache("proxy_cache") else {
        return Ok(None);
    };
    let zone = if !value.is_literal() {
        ZoneRef::Var(value.clone())
    } else {
        let i = paths
            .iter()
            .position(|p| p.name == *name)
            .ok_or_else(|| err(end, format!("\"proxy_cache\" zone \"{name}\" is unknown")))?;
        ZoneRef::Index(i)
    };
    let mut methods: Vec<String> = c
        .cache_list("proxy_cache_methods")
        .into_iter()
        .flat_map(|s| match s {
            Setting::Methods(m) => m.clone(),
            _ => Vec::new(),
        })
        .collect();
    methods.extend(["GET".to_string(), "HEAD".to_string()]);
    Ok(Some(Arc::new(CacheLoc {
        zone,
        key: match c.cache("proxy_cache_key") {
            Some(Setting::Key(t)) => Some(t.clone()),
            _ => None,
        },
        valid: c
            .cache_list("proxy_cache_valid")
            .into_iter()
            .flat_map(|s| match s {
                Setting::Valid(v) => v.clone(),
                _ => Vec::new(),
            })
            .collect(),
        methods,
        min_uses: c.number("proxy_cache_min_uses", 1) as u32,
        bypass: templates(c, "proxy_cache_bypass"),
        no_cache: templates(c, "proxy_no_cache"),
        use_stale: use_stale(bits(c, "proxy_cache_use_stale")),
        background_update: c.flag("proxy_cache_background_update", false),
        lock: c.flag("proxy_cache_lock", false),
        lock_timeout: c.time("proxy_cache_lock_timeout", 5),
        lock_age: c.time("proxy_cache_lock_age", 5),
        revalidate: c.flag("proxy_cache_revalidate", false),
        convert_head: c.flag("proxy_cache_convert_head", true),
        ignore: bits(c, "proxy_ignore_headers"),
        max_range_offset: c
            .get("proxy_cache_max_range_offset")
            .map(|_| c.size("proxy_cache_max_range_offset", 0)),
    })))
}

/// The bits of every `name` of the innermost level that has any.
fn bits(c: &Chain<'_>, name: &str) -> u32 {
    c.cache_list(name)
        .into_iter()
        .map(|s| match s {
            Setting::Bits(b) => *b,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// The templates of every `name` of the innermost level that has any.
fn templates(c: &Chain<'_>, name: &str) -> Vec<crate::vars::Template> {
    c.cache_list(name)
        .into_iter()
        .flat_map(|s| match s {
            Setting::Templates(t) => t.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// `proxy_cache_use_stale`'s bits as used: none for `off` or when unset; `error` implies the
/// no-live-upstreams case.
fn use_stale(bits: u32) -> u32 {
    if bits & stale::OFF != 0 || bits == 0 {
        return 0;
    }
    if bits & next_upstream::ERROR != 0 {
        return bits | stale::NOLIVE;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::super::raw::RawLevel;
    use super::*;
    use crate::http::status::Status;
    use std::time::Duration;

    fn level(dirs: &[(&str, &[&str])]) -> Result<RawLevel, String> {
        let mut l = RawLevel::default();
        for (name, args) in dirs {
            l.add(&Directive::at("t.conf", 3, name, args))
                .map_err(|e| e.to_string())?;
        }
        Ok(l)
    }

    #[test]
    fn values_merge_as_nginx_and_bad_ones_are_worded_as_nginx() {
        let http = level(&[
            ("proxy_cache_valid", &["10m"]),
            ("proxy_cache_use_stale", &["error", "updating"]),
            ("proxy_cache_lock", &["on"]),
        ])
        .unwrap();
        let loc = level(&[
            ("proxy_cache", &["$zone"]),
            ("proxy_cache_valid", &["404", "any", "1m"]),
        ])
        .unwrap();
        let end = Directive::at("t.conf", 9, "http", &[]);
        let c = Chain {
            levels: vec![&http, &loc],
        };
        let conf = build_cache(&c, &[], &end).unwrap().unwrap();
        assert!(matches!(conf.zone, ZoneRef::Var(_)));
        assert_eq!(conf.valid_for(Status::OK), Some(Duration::from_secs(60)));
        assert_eq!(
            conf.use_stale,
            next_upstream::ERROR | stale::UPDATING | stale::NOLIVE
        );
        assert!(conf.lock && conf.convert_head && conf.methods.len() == 2);
        let off = level(&[("proxy_cache", &["off"])]).unwrap();
        let c = Chain {
            levels: vec![&loc, &off],
        };
        assert!(build_cache(&c, &[], &end).unwrap().is_none());
        let named = level(&[("proxy_cache", &["one"])]).unwrap();
        let c = Chain {
            levels: vec![&named],
        };
        assert_eq!(
            build_cache(&c, &[], &end).unwrap_err().to_string(),
            "\"proxy_cache\" zone \"one\" is unknown in t.conf:9"
        );
        for (name, args, want) in [
            (
                "proxy_cache_valid",
                &["200", "x"][..],
                "invalid time value \"x\"",
            ),
            (
                "proxy_cache_valid",
                &["600", "1m"],
                "invalid status \"600\"",
            ),
            (
                "proxy_cache_use_stale",
                &["non_idempotent"],
                "invalid value \"non_idempotent\"",
            ),
            ("proxy_cache_methods", &["PUT"], "invalid value \"PUT\""),
            (
                "proxy_cache_min_uses",
                &["x"],
                "\"proxy_cache_min_uses\" directive invalid number",
            ),
            (
                "proxy_cache_lock_age",
                &["x"],
                "\"proxy_cache_lock_age\" directive invalid value",
            ),
        ] {
            assert_eq!(
                level(&[(name, args)]).unwrap_err(),
                format!("{want} in t.conf:3"),
                "{name}"
            );
        }
    }
}
