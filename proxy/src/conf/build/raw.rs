//! One configuration level (http, server, location) as written: the directives seen there,
//! with nginx's per-level duplicate checks and immediate value validation. Values are read
//! again at merge time ([`super::merge`]), so validation here only reports errors.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::values::{parse_number, parse_offset, parse_size, parse_time};
use super::err;
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
    /// Directives in order (only those that carry a value; blocks are not stored).
    pub dirs: Vec<Directive>,
}

impl RawLevel {
    /// The last occurrence of `name` at this level.
    pub fn get(&self, name: &str) -> Option<&Directive> {
        self.dirs.iter().rev().find(|d| d.name == name)
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
        validate(d)?;
        if name == "limit_req" {
            let zone = d.args.iter().find(|a| a.starts_with("zone="));
            for prev in self.dirs.iter().filter(|p| p.name == "limit_req") {
                if prev.args.iter().find(|a| a.starts_with("zone=")) == zone {
                    return Err(err(d, "\"limit_req\" directive is duplicate"));
                }
            }
        }
        self.dirs.push(d.clone());
        Ok(())
    }
}

fn invalid_value(d: &Directive) -> ConfError {
    err(d, format!("\"{}\" directive invalid value", d.name))
}

/// Value checks of location-level directives, worded as nginx.
fn validate(d: &Directive) -> Result<(), ConfError> {
    let a = &d.args;
    match d.name.as_str() {
        "client_max_body_size" | "proxy_max_temp_file_size" => {
            parse_offset(&a[0]).ok_or_else(|| invalid_value(d))?;
        }
        "client_body_buffer_size"
        | "proxy_buffer_size"
        | "proxy_busy_buffers_size"
        | "proxy_temp_file_write_size"
        | "client_header_buffer_size"
        | "sendfile_max_chunk"
        | "postpone_output"
        | "limit_rate"
        | "limit_rate_after" => {
            parse_size(&a[0]).ok_or_else(|| invalid_value(d))?;
        }
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
        | "lingering_timeout" => {
            parse_time(&a[0], false).ok_or_else(|| invalid_value(d))?;
        }
        "keepalive_timeout" => {
            for v in a {
                parse_time(v, false).ok_or_else(|| invalid_value(d))?;
            }
        }
        "keepalive_requests" | "proxy_next_upstream_tries" | "max_ranges" => {
            parse_number(&a[0])
                .ok_or_else(|| err(d, format!("\"{}\" directive invalid number", d.name)))?;
        }
        "large_client_header_buffers" | "proxy_buffers" | "output_buffers" | "gzip_buffers" => {
            let n = parse_number(&a[0]).filter(|n| *n > 0);
            let s = parse_size(&a[1]).filter(|n| *n > 0);
            if n.is_none() || s.is_none() {
                return Err(invalid_value(d));
            }
        }
        "proxy_http_version" if a[0] != "1.0" && a[0] != "1.1" => {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "server_tokens" if !matches!(a[0].as_str(), "on" | "off" | "build") => {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "lingering_close" if !matches!(a[0].as_str(), "on" | "off" | "always") => {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "client_body_in_file_only" if !matches!(a[0].as_str(), "on" | "off" | "clean") => {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "client_body_temp_path"
            if crate::conf::body::TempPath::parse(a, std::path::Path::new("/")).is_none() =>
        {
            return Err(invalid_value(d));
        }
        "limit_req_log_level" | "limit_conn_log_level"
            if !matches!(a[0].as_str(), "info" | "notice" | "warn" | "error") =>
        {
            return Err(err(d, format!("invalid value \"{}\"", a[0])));
        }
        "limit_req_status" | "limit_conn_status" => {
            let n = parse_number(&a[0])
                .ok_or_else(|| err(d, format!("\"{}\" directive invalid number", d.name)))?;
            if !(400..=599).contains(&n) {
                return Err(err(d, "value must be between 400 and 599"));
            }
        }
        "proxy_next_upstream" => {
            for v in a {
                if next_upstream_bit(v).is_none() {
                    return Err(err(d, format!("invalid value \"{v}\"")));
                }
            }
        }
        "error_log" if a.len() > 1 && LogLevel::parse(&a[1]).is_none() => {
            return Err(err(d, format!("invalid log level \"{}\"", a[1])));
        }
        "add_header" | "add_trailer" if a.len() == 3 && a[2] != "always" => {
            return Err(err(d, format!("invalid parameter \"{}\"", a[2])));
        }
        "allow" | "deny" if a[0] != "all" && parse_cidr(&a[0]).is_none() => {
            return Err(err(d, format!("invalid parameter \"{}\"", a[0])));
        }
        "expires" => super::misc::parse_expires(a).ok_or_else(|| invalid_value(d))?,
        n if n.starts_with("gzip") => crate::conf::gzip::validate(d)?,
        _ => crate::conf::cache::validate(d)?,
    }
    Ok(())
}

/// `proxy_next_upstream` value name → bit.
pub fn next_upstream_bit(v: &str) -> Option<u32> {
    crate::conf::model::next_upstream::bit(v)
}

/// `1.2.3.4`, `10.0.0.0/8`, `::1`, `fe80::/10` → (address, prefix length).
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, b)) => (ip, Some(b)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = ip.parse().ok()?;
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
