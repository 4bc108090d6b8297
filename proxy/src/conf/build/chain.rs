//! The inheritance chain of one level (http → server → location → nested location) and the
//! typed reads the merge makes through it: single values from the innermost level that sets
//! them, lists taken whole from the innermost level that has any, as nginx's merge functions
//! do. Each typed read checks, in debug builds, that the name is a directive holding that kind
//! of value, so a misspelt name fails the first config built instead of giving the default.

use super::super::body::{InFileOnly, Lingering, TempPath};
use super::super::lexer::Directive;
use super::super::model::LogLevel;
use super::super::{cache, gzip};
use super::raw::RawLevel;
use super::setting::{Kind, Value, kind};
use crate::http::status::Status;
use crate::static_files::Expires;
use std::time::Duration;

/// The levels that apply, outermost first.
pub(super) struct Chain<'a> {
    pub levels: Vec<&'a RawLevel>,
}

impl<'a> Chain<'a> {
    /// The innermost directive `name`.
    pub fn get(&self, name: &str) -> Option<&'a Directive> {
        self.levels.iter().rev().find_map(|l| l.get(name))
    }

    /// Every directive named in `names` of the innermost level that has any of them.
    pub fn list(&self, names: &[&str]) -> Vec<&'a Directive> {
        for l in self.levels.iter().rev() {
            let v: Vec<&Directive> = l
                .dirs
                .iter()
                .filter(|d| names.contains(&d.name.as_str()))
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
        Vec::new()
    }

    /// The innermost value of `name`, which must hold values of `want`.
    fn value(&self, name: &str, want: Kind) -> Option<&'a Value> {
        check_kind(name, want);
        self.levels.iter().rev().find_map(|l| l.value(name))
    }

    /// The values of every `name` of the innermost level that has any, in order (lists that
    /// accumulate within a level and are inherited whole); `name` must hold values of `want`.
    fn values(&self, name: &str, want: Kind) -> Vec<&'a Value> {
        check_kind(name, want);
        for l in self.levels.iter().rev() {
            let v: Vec<&Value> = l
                .entries()
                .filter(|(d, _)| d.name == name)
                .filter_map(|(_, v)| v)
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
        Vec::new()
    }

    /// A time (`proxy_read_timeout`), `default` seconds when unset.
    pub fn time(&self, name: &str, default: u64) -> Duration {
        match self.value(name, Kind::Time) {
            Some(Value::Time(t)) => *t,
            _ => Duration::from_secs(default),
        }
    }

    /// A size or offset (`proxy_buffer_size`, `client_max_body_size`).
    pub fn size(&self, name: &str, default: u64) -> u64 {
        match self.value(name, Kind::Size) {
            Some(Value::Size(n)) => *n,
            _ => default,
        }
    }

    /// A number (`keepalive_requests`).
    pub fn number(&self, name: &str, default: u64) -> u64 {
        match self.value(name, Kind::Number) {
            Some(Value::Number(n)) => *n,
            _ => default,
        }
    }

    /// An on/off flag.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        match self.value(name, Kind::Flag) {
            Some(Value::Flag(on)) => *on,
            _ => default,
        }
    }

    /// `NUMBER SIZE` buffers (`proxy_buffers`).
    pub fn buffers(&self, name: &str, default: (usize, usize)) -> (usize, usize) {
        match self.value(name, Kind::Buffers) {
            Some(Value::Buffers(n, size)) => (*n, *size),
            _ => default,
        }
    }

    /// `keepalive_timeout`: the timeout and the `Keep-Alive` header's.
    pub fn keepalive(&self) -> (Duration, Option<Duration>) {
        match self.value("keepalive_timeout", Kind::Keepalive) {
            Some(Value::Keepalive(t, header)) => (*t, *header),
            _ => (Duration::from_secs(75), None),
        }
    }

    /// `proxy_http_version 1.1`.
    pub fn http11(&self) -> bool {
        self.http_version("proxy_http_version") == Some(true)
    }

    /// An HTTP version (`gzip_http_version`): Some(true) for 1.1, None when unset.
    pub fn http_version(&self, name: &str) -> Option<bool> {
        match self.value(name, Kind::HttpVersion) {
            Some(Value::Http11(v)) => Some(*v),
            _ => None,
        }
    }

    /// `server_tokens` (on unless `off`).
    pub fn server_tokens(&self) -> bool {
        !matches!(
            self.value("server_tokens", Kind::ServerTokens),
            Some(Value::ServerTokens(false))
        )
    }

    /// `lingering_close`.
    pub fn lingering_close(&self) -> Lingering {
        match self.value("lingering_close", Kind::Lingering) {
            Some(Value::Lingering(l)) => *l,
            _ => Lingering::default(),
        }
    }

    /// `client_body_in_file_only`.
    pub fn in_file_only(&self) -> InFileOnly {
        match self.value("client_body_in_file_only", Kind::InFileOnly) {
            Some(Value::InFileOnly(v)) => *v,
            _ => InFileOnly::default(),
        }
    }

    /// A temp path (`client_body_temp_path`, `proxy_temp_path`) as written (None when unset).
    pub fn temp_path(&self, name: &str) -> Option<&'a TempPath> {
        match self.value(name, Kind::TempPath) {
            Some(Value::TempPath(p)) => Some(p),
            _ => None,
        }
    }

    /// A log level (`limit_req_log_level`).
    pub fn log_level(&self, name: &str, default: LogLevel) -> LogLevel {
        match self.value(name, Kind::LogLevel) {
            Some(Value::LogLevel(l)) => *l,
            _ => default,
        }
    }

    /// A status (`limit_req_status`).
    pub fn status(&self, name: &str, default: Status) -> Status {
        match self.value(name, Kind::Status) {
            Some(Value::Status(s)) => *s,
            _ => default,
        }
    }

    /// `proxy_next_upstream` (default `error timeout`).
    pub fn next_upstream(&self, default: u32) -> u32 {
        match self.value("proxy_next_upstream", Kind::NextUpstream) {
            Some(Value::NextUpstream(bits)) => *bits,
            _ => default,
        }
    }

    /// The innermost gzip setting `name` ([`Kind::Gzip`]).
    pub fn gzip(&self, name: &str) -> Option<&'a gzip::Setting> {
        match self.value(name, Kind::Gzip) {
            Some(Value::Gzip(s)) => Some(s),
            _ => None,
        }
    }

    /// The gzip settings `name` of the innermost level that has any.
    pub fn gzip_list(&self, name: &str) -> Vec<&'a gzip::Setting> {
        let values = self.values(name, Kind::Gzip).into_iter();
        values
            .filter_map(|v| match v {
                Value::Gzip(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The innermost cache setting `name` ([`Kind::Cache`]).
    pub fn cache(&self, name: &str) -> Option<&'a cache::Setting> {
        match self.value(name, Kind::Cache) {
            Some(Value::Cache(s)) => Some(s),
            _ => None,
        }
    }

    /// The cache settings `name` of the innermost level that has any.
    pub fn cache_list(&self, name: &str) -> Vec<&'a cache::Setting> {
        let values = self.values(name, Kind::Cache).into_iter();
        values
            .filter_map(|v| match v {
                Value::Cache(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// `expires` (None when unset).
    pub fn expires(&self) -> Option<Expires> {
        match self.value("expires", Kind::Expires) {
            Some(Value::Expires(e)) => Some(*e),
            _ => None,
        }
    }

    /// The `allow` and `deny` rules of the innermost level that has any, in order: whether it
    /// allows, and its network (None for `all`).
    pub fn access_rules(&self) -> Vec<(bool, Option<(std::net::IpAddr, u8)>)> {
        let names = ["allow", "deny"];
        for l in self.levels.iter().rev() {
            if !names.iter().any(|n| l.has(n)) {
                continue;
            }
            return l
                .entries()
                .filter(|(d, _)| names.contains(&d.name.as_str()))
                .filter_map(|(d, v)| match v {
                    Some(Value::Access(net)) => Some((d.name == "allow", *net)),
                    _ => None,
                })
                .collect();
        }
        Vec::new()
    }
}

/// In debug builds, fails when `name` is not a directive holding values of `want` (a typo, or
/// a read of the wrong kind).
fn check_kind(name: &str, want: Kind) {
    debug_assert!(
        kind(name).is_some_and(|k| k == want || (k, want) == (Kind::Offset, Kind::Size)),
        "\"{name}\" is not a directive holding {want:?}"
    );
}
