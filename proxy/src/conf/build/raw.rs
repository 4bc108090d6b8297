//! One configuration level (http, server, location) as written: the directives seen there,
//! with nginx's per-level duplicate checks, and each directive's typed value parsed once
//! ([`super::setting`]) for the merge ([`super::merge`]) to read.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::err;
use super::setting::{self, Value};
use crate::conf::model::LogLevel;

/// Directives that may appear several times at one level.
fn repeatable(name: &str) -> bool {
    matches!(
        name,
        "proxy_set_header"
            | "add_header"
            | "add_trailer"
            | "access_log"
            | "allow"
            | "deny"
            | "error_page"
            | "return"
            | "rewrite"
            | "set"
            | "if"
            | "break"
            | "error_log"
            | "index"
            | "proxy_hide_header"
            | "proxy_pass_header"
            | "proxy_redirect"
            | "proxy_cookie_domain"
            | "proxy_cookie_path"
            | "limit_req"
            | "limit_conn"
            | "ssl_certificate"
            | "ssl_certificate_key"
            | "set_real_ip_from"
            | "stub_status"
            | "health_check"
            | "gzip_disable"
            | "gzip_types"
            | "gzip_proxied"
            | "proxylab_status"
            | "proxylab_cache_status"
            | "types"
    ) || crate::conf::cache::repeatable(name)
}

/// Directives recorded at one level.
#[derive(Debug, Default, Clone)]
pub struct RawLevel {
    /// Directives in order (only those that carry a value; blocks are not stored). Added
    /// only through [`RawLevel::add`] and [`RawLevel::keep`], which keep `values` beside it.
    pub dirs: Vec<Directive>,
    /// The typed value of each directive in `dirs` (same index; None for directives without
    /// a [`setting::kind`]).
    values: Vec<Option<Value>>,
}

impl RawLevel {
    /// The last occurrence of `name` at this level.
    pub fn get(&self, name: &str) -> Option<&Directive> {
        self.dirs.iter().rev().find(|d| d.name == name)
    }

    /// The typed value of the last `name` at this level.
    pub fn value(&self, name: &str) -> Option<&Value> {
        let i = self.dirs.iter().rposition(|d| d.name == name)?;
        self.values[i].as_ref()
    }

    /// Every directive at this level with its typed value, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&Directive, Option<&Value>)> {
        self.dirs.iter().zip(self.values.iter().map(Option::as_ref))
    }

    /// Records `d` without the level's checks and without a value (`health_check`,
    /// `stub_status`, `try_files`: read by their own code).
    pub fn keep(&mut self, d: &Directive) {
        self.dirs.push(d.clone());
        self.values.push(None);
    }

    /// Whether `name` occurs at this level.
    pub fn has(&self, name: &str) -> bool {
        self.dirs.iter().any(|d| d.name == name)
    }

    /// Validates and records `d` (an http/server/location-level setting).
    pub fn add(&mut self, d: &Directive) -> Result<(), ConfError> {
        let name = d.name.as_str();
        if !repeatable(name) && self.has(name) {
            return Err(err(d, format!("\"{name}\" directive is duplicate")));
        }
        match name {
            "root" if self.has("alias") => {
                return Err(err(
                    d,
                    "\"root\" directive is duplicate, \"alias\" directive was specified earlier",
                ));
            }
            "alias" if self.has("root") => {
                return Err(err(
                    d,
                    "\"alias\" directive is duplicate, \"root\" directive was specified earlier",
                ));
            }
            _ => {}
        }
        let value = setting::parse(d)?;
        check_only(d)?;
        if name == "limit_req" {
            let zone = d.args.iter().find(|a| a.starts_with("zone="));
            for prev in self.dirs.iter().filter(|p| p.name == "limit_req") {
                if prev.args.iter().find(|a| a.starts_with("zone=")) == zone {
                    return Err(err(d, "\"limit_req\" directive is duplicate"));
                }
            }
        }
        self.dirs.push(d.clone());
        self.values.push(value);
        Ok(())
    }
}

/// The checks of level directives that keep no value here (their builders read them at merge
/// time: `error_log`, `add_header`), worded as nginx.
fn check_only(d: &Directive) -> Result<(), ConfError> {
    let a = &d.args;
    match d.name.as_str() {
        "error_log" if a.len() > 1 && LogLevel::parse(&a[1]).is_none() => {
            Err(err(d, format!("invalid log level \"{}\"", a[1])))
        }
        "add_header" | "add_trailer" if a.len() == 3 && a[2] != "always" => {
            Err(err(d, format!("invalid parameter \"{}\"", a[2])))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::at("nginx.conf", 3, name, args)
    }

    #[test]
    fn values_stay_beside_their_directives() {
        let mut level = RawLevel::default();
        level.keep(&dir("health_check", &[]));
        level.add(&dir("proxy_read_timeout", &["5s"])).unwrap();
        level.keep(&dir("try_files", &["$uri", "=404"]));
        level.add(&dir("proxy_buffering", &["off"])).unwrap();
        assert!(matches!(
            level.value("proxy_read_timeout"),
            Some(Value::Time(t)) if t.as_secs() == 5
        ));
        assert!(matches!(
            level.value("proxy_buffering"),
            Some(Value::Flag(false))
        ));
        assert!(level.value("try_files").is_none());
        let e = level.add(&dir("proxy_read_timeout", &["6s"])).unwrap_err();
        assert_eq!(e.msg, "\"proxy_read_timeout\" directive is duplicate");
    }
}
