//! The typed value of a level directive (http, server, location), parsed once when the
//! directive is read, with nginx's `-t` wording for a bad value; the merge reads these values
//! and never the directive's text again. [`kind`] names the kind of value each directive
//! holds: a merge that reads a name with another kind, or a name no directive has (a typo),
//! fails a debug assertion on the first config it builds instead of silently taking the
//! default.

use super::super::body::{InFileOnly, Lingering, TempPath};
use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::{LogLevel, next_upstream};
use super::super::table::{DIRECTIVES, ar};
use super::super::values::{parse_number, parse_offset, parse_size, parse_time};
use super::super::{cache, gzip};
use super::err;
use crate::http::status::Status;
use crate::static_files::Expires;
use std::net::IpAddr;
use std::time::Duration;

/// The kind of value a directive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `on` / `off`.
    Flag,
    /// A size (`8k`, `1m`).
    Size,
    /// A size that may use `g` (`client_max_body_size`).
    Offset,
    /// A time (`60s`, `500ms`).
    Time,
    /// `keepalive_timeout TIMEOUT [HEADER_TIMEOUT]`.
    Keepalive,
    /// A plain number.
    Number,
    /// `NUMBER SIZE` (`proxy_buffers 8 4k`).
    Buffers,
    /// `proxy_http_version`.
    HttpVersion,
    /// `server_tokens on|off|build`.
    ServerTokens,
    /// `lingering_close`.
    Lingering,
    /// `client_body_in_file_only`.
    InFileOnly,
    /// `client_body_temp_path`, `proxy_temp_path`.
    TempPath,
    /// A log level (`limit_req_log_level`).
    LogLevel,
    /// A status from 400 to 599 (`limit_req_status`).
    Status,
    /// `proxy_next_upstream`'s conditions.
    NextUpstream,
    /// `allow` / `deny`.
    Access,
    /// `expires`.
    Expires,
    /// A gzip directive with a value of the gzip module's own ([`gzip::Setting`]).
    Gzip,
    /// A cache directive with a value of the cache module's own ([`cache::Setting`]).
    Cache,
}

/// A directive's value.
#[derive(Debug, Clone)]
pub enum Value {
    /// [`Kind::Flag`].
    Flag(bool),
    /// [`Kind::Size`] and [`Kind::Offset`].
    Size(u64),
    /// [`Kind::Time`].
    Time(Duration),
    /// [`Kind::Keepalive`]: the timeout and the `Keep-Alive: timeout=` header's.
    Keepalive(Duration, Option<Duration>),
    /// [`Kind::Number`].
    Number(u64),
    /// [`Kind::Buffers`]: how many, and the size of each.
    Buffers(usize, usize),
    /// [`Kind::HttpVersion`]: HTTP/1.1 (else 1.0).
    Http11(bool),
    /// [`Kind::ServerTokens`]: the version is shown (`on` or `build`).
    ServerTokens(bool),
    /// [`Kind::Lingering`].
    Lingering(Lingering),
    /// [`Kind::InFileOnly`].
    InFileOnly(InFileOnly),
    /// [`Kind::TempPath`], its directory as written (relative to the prefix when not absolute).
    TempPath(TempPath),
    /// [`Kind::LogLevel`].
    LogLevel(LogLevel),
    /// [`Kind::Status`].
    Status(Status),
    /// [`Kind::NextUpstream`]: the condition bits (`off` alone when it is listed).
    NextUpstream(u32),
    /// [`Kind::Access`]: the network, None for `all`.
    Access(Option<(IpAddr, u8)>),
    /// [`Kind::Expires`].
    Expires(Expires),
    /// [`Kind::Gzip`].
    Gzip(gzip::Setting),
    /// [`Kind::Cache`].
    Cache(cache::Setting),
}

/// The kind of value directive `name` holds; None for directives read otherwise (templates,
/// lists of names, blocks).
pub fn kind(name: &str) -> Option<Kind> {
    Some(match name {
        "client_max_body_size" | "proxy_max_temp_file_size" | "proxy_cache_max_range_offset" => {
            Kind::Offset
        }
        "client_body_buffer_size"
        | "proxy_buffer_size"
        | "proxy_busy_buffers_size"
        | "proxy_temp_file_write_size"
        | "client_header_buffer_size"
        | "sendfile_max_chunk"
        | "postpone_output"
        | "limit_rate"
        | "limit_rate_after"
        | "gzip_min_length"
        | "http2_recv_buffer_size" => Kind::Size,
        "client_body_timeout"
        | "send_timeout"
        | "client_header_timeout"
        | "proxy_connect_timeout"
        | "proxy_read_timeout"
        | "proxy_send_timeout"
        | "proxy_next_upstream_timeout"
        | "keepalive_time"
        | "resolver_timeout"
        | "lingering_time"
        | "lingering_timeout"
        | "proxy_cache_lock_timeout"
        | "proxy_cache_lock_age" => Kind::Time,
        "keepalive_timeout" => Kind::Keepalive,
        "keepalive_requests"
        | "proxy_next_upstream_tries"
        | "max_ranges"
        | "proxy_cache_min_uses"
        | "http2_max_concurrent_streams" => Kind::Number,
        "large_client_header_buffers" | "proxy_buffers" | "output_buffers" | "gzip_buffers" => {
            Kind::Buffers
        }
        "proxy_http_version" | "gzip_http_version" => Kind::HttpVersion,
        "server_tokens" => Kind::ServerTokens,
        "lingering_close" => Kind::Lingering,
        "client_body_in_file_only" => Kind::InFileOnly,
        "client_body_temp_path" | "proxy_temp_path" => Kind::TempPath,
        "limit_req_log_level" | "limit_conn_log_level" => Kind::LogLevel,
        "limit_req_status" | "limit_conn_status" => Kind::Status,
        "proxy_next_upstream" => Kind::NextUpstream,
        "allow" | "deny" => Kind::Access,
        "expires" => Kind::Expires,
        _ if is_flag(name) => Kind::Flag,
        _ if gzip::parses(name) => Kind::Gzip,
        _ if cache::parses(name) => Kind::Cache,
        _ => return None,
    })
}

/// Whether the directive table declares `name` an on/off flag.
fn is_flag(name: &str) -> bool {
    DIRECTIVES
        .iter()
        .any(|&(n, _, arity)| n == name && arity & ar::FLAG != 0)
}

fn invalid_value(d: &Directive) -> ConfError {
    err(d, format!("\"{}\" directive invalid value", d.name))
}

fn invalid_number(d: &Directive) -> ConfError {
    err(d, format!("\"{}\" directive invalid number", d.name))
}

fn invalid_arg(d: &Directive, arg: &str) -> ConfError {
    err(d, format!("invalid value \"{arg}\""))
}

/// Parses `d`'s value (None for directives without a [`kind`]); errors worded as nginx's.
pub fn parse(d: &Directive) -> Result<Option<Value>, ConfError> {
    let Some(kind) = kind(&d.name) else {
        return Ok(None);
    };
    let a = &d.args;
    let one = a[0].as_str();
    let value = match kind {
        Kind::Flag => Value::Flag(one.eq_ignore_ascii_case("on")),
        Kind::Offset => Value::Size(parse_offset(one).ok_or_else(|| invalid_value(d))?),
        Kind::Size => Value::Size(parse_size(one).ok_or_else(|| invalid_value(d))?),
        Kind::Time => Value::Time(parse_time(one, false).ok_or_else(|| invalid_value(d))?),
        Kind::Keepalive => keepalive(d)?,
        Kind::Number => Value::Number(parse_number(one).ok_or_else(|| invalid_number(d))?),
        Kind::Buffers => buffers(d)?,
        Kind::HttpVersion if one == "1.0" || one == "1.1" => Value::Http11(one == "1.1"),
        Kind::ServerTokens if matches!(one, "on" | "off" | "build") => {
            Value::ServerTokens(one != "off")
        }
        Kind::Lingering => Value::Lingering(Lingering::parse(one).ok_or(invalid_arg(d, one))?),
        Kind::InFileOnly => Value::InFileOnly(InFileOnly::parse(one).ok_or(invalid_arg(d, one))?),
        Kind::TempPath => Value::TempPath(
            TempPath::parse(a, std::path::Path::new("")).ok_or_else(|| invalid_value(d))?,
        ),
        Kind::LogLevel if matches!(one, "info" | "notice" | "warn" | "error") => {
            Value::LogLevel(LogLevel::parse(one).ok_or(invalid_arg(d, one))?)
        }
        Kind::Status => status(d)?,
        Kind::NextUpstream => next_upstream_value(d)?,
        Kind::Access if one == "all" => Value::Access(None),
        Kind::Access => Value::Access(Some(
            parse_cidr(one).ok_or_else(|| err(d, format!("invalid parameter \"{one}\"")))?,
        )),
        Kind::Expires => {
            let args: Vec<&str> = a.iter().map(String::as_str).collect();
            Value::Expires(Expires::parse(&args).map_err(|e| err(d, e.to_string()))?)
        }
        Kind::Gzip => return Ok(gzip::parse(d)?.map(Value::Gzip)),
        Kind::Cache => return Ok(cache::parse(d)?.map(Value::Cache)),
        Kind::HttpVersion | Kind::ServerTokens | Kind::LogLevel => {
            return Err(invalid_arg(d, one));
        }
    };
    post(d, &value)?;
    Ok(Some(value))
}

/// nginx's post-handler checks of a parsed value (`"NAME" directive value is too small`).
fn post(d: &Directive, value: &Value) -> Result<(), ConfError> {
    match (d.name.as_str(), value) {
        // `ngx_http_v2_recv_buffer_size`: each read keeps two 16-byte state buffers out.
        ("http2_recv_buffer_size", Value::Size(s)) if *s <= 32 => Err(err(
            d,
            format!("\"{}\" directive value is too small", d.name),
        )),
        _ => Ok(()),
    }
}

/// `keepalive_timeout TIMEOUT [HEADER_TIMEOUT]`: every value checked.
fn keepalive(d: &Directive) -> Result<Value, ConfError> {
    let mut times = d.args.iter().map(|v| parse_time(v, false));
    let first = times.next().flatten().ok_or_else(|| invalid_value(d))?;
    let header = match times.next() {
        Some(t) => Some(t.ok_or_else(|| invalid_value(d))?),
        None => None,
    };
    Ok(Value::Keepalive(first, header))
}

/// `NUMBER SIZE`, both above zero.
fn buffers(d: &Directive) -> Result<Value, ConfError> {
    let n = parse_number(&d.args[0]).filter(|n| *n > 0);
    let s = parse_size(&d.args[1]).filter(|n| *n > 0);
    match (n, s) {
        (Some(n), Some(s)) => Ok(Value::Buffers(n as usize, s as usize)),
        _ => Err(invalid_value(d)),
    }
}

/// `limit_req_status` / `limit_conn_status`: 400..599.
fn status(d: &Directive) -> Result<Value, ConfError> {
    let n = parse_number(&d.args[0]).ok_or_else(|| invalid_number(d))?;
    match u16::try_from(n).ok().filter(|n| (400..=599).contains(n)) {
        Some(code) => Ok(Value::Status(Status::new(code).unwrap_or_default())),
        None => Err(err(d, "value must be between 400 and 599")),
    }
}

/// `proxy_next_upstream`: the listed conditions (`off` wins over the others).
fn next_upstream_value(d: &Directive) -> Result<Value, ConfError> {
    let mut bits = 0;
    for v in &d.args {
        bits |= next_upstream::bit(v).ok_or_else(|| invalid_arg(d, v))?;
    }
    if bits & next_upstream::OFF != 0 {
        bits = next_upstream::OFF;
    }
    Ok(Value::NextUpstream(bits))
}

/// `1.2.3.4`, `10.0.0.0/8`, `::1`, `fe80::/10` → (address, prefix length).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, b)) => (ip, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => {
            let n: u8 = parse_number(b)?.try_into().ok()?;
            (n <= max).then_some(n)?
        }
        None => max,
    };
    Some((ip, bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::at("nginx.conf", 3, name, args)
    }

    fn message(name: &str, args: &[&str]) -> String {
        parse(&dir(name, args)).unwrap_err().msg
    }

    #[test]
    fn values_parsed_once_with_nginx_errors() {
        let v = parse(&dir("keepalive_timeout", &["65", "60"])).unwrap();
        assert!(
            matches!(v, Some(Value::Keepalive(t, Some(h))) if t.as_secs() == 65 && h.as_secs() == 60)
        );
        let v = parse(&dir("proxy_next_upstream", &["error", "off", "timeout"])).unwrap();
        assert!(matches!(v, Some(Value::NextUpstream(next_upstream::OFF))));
        let v = parse(&dir("proxy_buffering", &["OFF"])).unwrap();
        assert!(matches!(v, Some(Value::Flag(false))));
        assert!(
            parse(&dir("proxy_set_header", &["A", "b"]))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            message("proxy_read_timeout", &["x"]),
            "\"proxy_read_timeout\" directive invalid value"
        );
        assert_eq!(
            message("limit_req_status", &["600"]),
            "value must be between 400 and 599"
        );
        assert_eq!(message("proxy_http_version", &["2"]), "invalid value \"2\"");
        assert_eq!(
            message("proxy_next_upstream", &["error", "http_418"]),
            "invalid value \"http_418\""
        );
        assert_eq!(
            message("deny", &["10.0.0.0/33"]),
            "invalid parameter \"10.0.0.0/33\""
        );
    }

    #[test]
    fn every_kind_parses_to_a_value() {
        for (name, args) in [
            ("client_max_body_size", &["1m"][..]),
            ("proxy_buffer_size", &["8k"]),
            ("send_timeout", &["5s"]),
            ("keepalive_timeout", &["5"]),
            ("keepalive_requests", &["10"]),
            ("proxy_buffers", &["4", "8k"]),
            ("proxy_http_version", &["1.1"]),
            ("server_tokens", &["build"]),
            ("lingering_close", &["always"]),
            ("client_body_in_file_only", &["clean"]),
            ("client_body_temp_path", &["tmp", "1", "2"]),
            ("proxy_temp_path", &["pt", "1", "2"]),
            ("limit_req_log_level", &["warn"]),
            ("limit_req_status", &["429"]),
            ("proxy_next_upstream", &["error"]),
            ("allow", &["all"]),
            ("expires", &["1h"]),
            ("merge_slashes", &["on"]),
            ("gzip_types", &["text/css"]),
            ("gzip_min_length", &["1k"]),
            ("proxy_cache_valid", &["1m"]),
            ("proxy_cache_min_uses", &["2"]),
        ] {
            assert!(kind(name).is_some(), "{name}");
            assert!(parse(&dir(name, args)).unwrap().is_some(), "{name}");
        }
    }
}
