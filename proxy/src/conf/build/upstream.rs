//! `upstream {}` blocks, `server` lines and their parameters, balancing methods (with nginx's
//! order quirks: `keepalive` before the method is disabled, `backup` after ip_hash/hash/random
//! is refused), `proxy_pass` URLs, and implicit upstreams resolved after parsing.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::{Method, Upstream, UpstreamServer};
use super::super::table::{check, ctx};
use super::super::values::{parse_number, parse_time};
use super::{Builder, dirs, err};
use crate::balance::ServerSpec;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// A `proxy_pass` as written, pointing at an upstream slot.
#[derive(Debug, Clone)]
pub(crate) struct ProxyPassRaw {
    pub slot: usize,
    pub https: bool,
    pub uri: Option<String>,
    pub proxy_host: String,
    pub port: u16,
}

struct Slot {
    /// Lowercased host name (upstream name).
    host: String,
    /// Port given in proxy_pass (None = no port written).
    port: Option<u16>,
    explicit: Option<Upstream>,
    /// Where the implicit upstream was first referenced (for errors).
    at: Option<Directive>,
    /// Line of the `upstream` block (for `no servers in upstream`).
    block: Option<Directive>,
}

/// All upstream slots in order of first appearance.
#[derive(Default)]
pub(crate) struct Upstreams {
    slots: Vec<Slot>,
}

fn split_host_port<'a>(
    d: &Directive,
    text: &'a str,
    default_port: u16,
) -> Result<(&'a str, Option<u16>, u16), ConfError> {
    if let Some((h, p)) = text.rsplit_once(':')
        && !h.is_empty()
        && !h.ends_with(':')
    {
        let port = parse_number(p)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| err(d, format!("invalid port in upstream \"{text}\"")))?;
        return Ok((h, Some(port), port));
    }
    Ok((text, None, default_port))
}

fn resolve(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = h.parse::<std::net::IpAddr>() {
        return Some(vec![SocketAddr::new(ip, port)]);
    }
    let v: Vec<SocketAddr> = (h, port).to_socket_addrs().ok()?.collect();
    (!v.is_empty()).then_some(v)
}

impl Upstreams {
    fn slot_for(&mut self, host: &str, port: Option<u16>, explicit: bool) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.host.eq_ignore_ascii_case(host)
                && (explicit || s.explicit.is_some() || s.port == port)
        })
    }

    /// Parses `proxy_pass URL`; `no_uri` for regex/named locations.
    pub fn proxy_pass(&mut self, d: &Directive, no_uri: bool) -> Result<ProxyPassRaw, ConfError> {
        let url = &d.args[0];
        let lower = url.to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("http://") {
            (false, &url[7..])
        } else if lower.starts_with("https://") {
            (true, &url[8..])
        } else {
            return Err(err(d, "invalid URL prefix"));
        };
        if url.contains('$') {
            return Err(err(
                d,
                "proxylab does not support variables in \"proxy_pass\"",
            ));
        }
        let (hostport, uri) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(rest[i..].to_string())),
            None => (rest, None),
        };
        if uri.is_some() && no_uri {
            return Err(err(
                d,
                "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside named location, or inside \"if\" statement, or inside \"limit_except\" block",
            ));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port_written, port) = split_host_port(d, hostport, default_port)?;
        if host.is_empty() {
            return Err(err(d, format!("no host in upstream \"{hostport}\"")));
        }
        let slot = match self.slot_for(host, port_written, false) {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    host: host.to_ascii_lowercase(),
                    port: port_written,
                    explicit: None,
                    at: Some(d.clone()),
                    block: None,
                });
                self.slots.len() - 1
            }
        };
        let proxy_host = if port_written.is_some() && port != default_port {
            hostport.to_string()
        } else {
            host.to_string()
        };
        Ok(ProxyPassRaw {
            slot,
            https,
            uri,
            proxy_host,
            port,
        })
    }

    /// Turns slots into upstream groups (resolving implicit ones), in nginx's order.
    pub fn finish(&mut self, _warnings: &mut [String]) -> Result<Vec<Arc<Upstream>>, ConfError> {
        let mut out = Vec::new();
        for s in &mut self.slots {
            if let Some(u) = s.explicit.take() {
                if u.servers.iter().all(|p| p.spec.backup) {
                    let b = s.block.as_ref().or(s.at.as_ref());
                    let msg = format!("no servers in upstream \"{}\"", u.name);
                    return Err(match b {
                        Some(b) => err(b, msg),
                        None => ConfError::global(msg),
                    });
                }
                out.push(Arc::new(u));
                continue;
            }
            let Some(at) = s.at.as_ref() else { continue };
            let port = s.port.unwrap_or(80);
            let addrs = resolve(&s.host, port)
                .ok_or_else(|| err(at, format!("host not found in upstream \"{}\"", s.host)))?;
            let name = match s.port {
                Some(p) => format!("{}:{p}", s.host),
                None => s.host.clone(),
            };
            out.push(Arc::new(Upstream {
                name: name.clone(),
                explicit: false,
                servers: addrs
                    .into_iter()
                    .map(|addr| UpstreamServer {
                        addr,
                        spec: ServerSpec::new(name.clone()),
                    })
                    .collect(),
                method: Method::RoundRobin,
                keepalive: None,
                keepalive_timeout: Duration::from_secs(60),
                keepalive_requests: 1000,
                keepalive_time: Duration::from_secs(3600),
                zone: None,
                health_check: None,
            }));
        }
        Ok(out)
    }
}

/// One `server` line: its parameters are parsed by the balancer's [`ServerSpec::parse`] (the
/// one owner of their syntax, defaults and error words), then the address is resolved. As in
/// nginx, parameters are checked before the address.
fn parse_server_line(
    d: &Directive,
    method_set: bool,
    method: &Method,
) -> Result<Vec<UpstreamServer>, ConfError> {
    let args: Vec<&str> = d.args.iter().map(String::as_str).collect();
    let backup_allowed = !method_set || matches!(method, Method::RoundRobin | Method::LeastConn);
    let spec = ServerSpec::parse(&args, backup_allowed).map_err(|e| err(d, e.to_string()))?;
    let text = &d.args[0];
    let (host, _, port) = split_host_port(d, text, 80)?;
    let addrs = resolve(host, port)
        .ok_or_else(|| err(d, format!("host not found in upstream \"{text}\"")))?;
    Ok(addrs
        .into_iter()
        .map(|addr| UpstreamServer {
            addr,
            spec: spec.clone(),
        })
        .collect())
}

/// An `upstream NAME {}` block before its directives: round robin, nginx's keepalive defaults.
fn new_upstream(name: &str) -> Upstream {
    Upstream {
        name: name.to_string(),
        explicit: true,
        servers: Vec::new(),
        method: Method::RoundRobin,
        keepalive: None,
        keepalive_timeout: Duration::from_secs(60),
        keepalive_requests: 1000,
        keepalive_time: Duration::from_secs(3600),
        zone: None,
        health_check: None,
    }
}

/// The balancing method a directive names (`least_conn`, `ip_hash`, `hash`, `random`), None
/// for other directives.
fn method_of(c: &Directive) -> Result<Option<Method>, ConfError> {
    let a = &c.args;
    let invalid = |x: &str| err(c, format!("invalid parameter \"{x}\""));
    Ok(Some(match c.name.as_str() {
        "least_conn" => Method::LeastConn,
        "ip_hash" => Method::IpHash,
        "hash" => {
            let consistent = match a.get(1).map(String::as_str) {
                None => false,
                Some("consistent") => true,
                Some(x) => return Err(invalid(x)),
            };
            let key = super::misc::template(c, &a[0])?;
            Method::Hash { key, consistent }
        }
        "random" => {
            let two = match a.first().map(String::as_str) {
                None => false,
                Some("two") => true,
                Some(x) => return Err(invalid(x)),
            };
            if let Some(x) = a.get(1)
                && x != "least_conn"
            {
                return Err(invalid(x));
            }
            Method::Random { two }
        }
        _ => return Ok(None),
    }))
}

/// `keepalive`, `keepalive_timeout`, `keepalive_time` and `keepalive_requests` inside an
/// upstream block.
fn keepalive_setting(c: &Directive, u: &mut Upstream) -> Result<(), ConfError> {
    let a = &c.args;
    match c.name.as_str() {
        "keepalive" => {
            if u.keepalive.is_some() {
                return Err(err(c, "\"keepalive\" directive is duplicate"));
            }
            let n = parse_number(&a[0]).filter(|n| *n > 0).ok_or_else(|| {
                err(
                    c,
                    format!("invalid value \"{}\" in \"keepalive\" directive", a[0]),
                )
            })?;
            u.keepalive = Some(n as usize);
        }
        "keepalive_timeout" | "keepalive_time" => {
            let t = parse_time(&a[0], false)
                .ok_or_else(|| err(c, format!("\"{}\" directive invalid value", c.name)))?;
            if c.name == "keepalive_time" {
                u.keepalive_time = t;
            } else {
                u.keepalive_timeout = t;
            }
        }
        "keepalive_requests" => {
            u.keepalive_requests = parse_number(&a[0])
                .ok_or_else(|| err(c, "\"keepalive_requests\" directive invalid number"))?;
        }
        _ => {}
    }
    Ok(())
}

impl Builder {
    /// An `upstream NAME {}` block: its servers, method and keepalive settings, recorded in
    /// its slot (an implicit upstream of the same name referenced earlier takes it).
    pub(crate) fn walk_upstream(&mut self, d: &Directive) -> Result<(), ConfError> {
        let name = d.args[0].clone();
        if let Some(i) = self.upstreams.slot_for(&name, None, true)
            && self.upstreams.slots[i].block.is_some()
        {
            return Err(err(d, format!("duplicate upstream \"{name}\"")));
        }
        let mut u = new_upstream(&name);
        let mut method_set = false;
        let mut end_line = d.line;
        for c in dirs(d.block.as_deref().unwrap_or_default()) {
            let c = c?;
            end_line = end_line.max(c.line);
            check(c, ctx::UPS)?;
            if let Some(m) = method_of(c)? {
                self.set_method(c, &mut u, m, &mut method_set);
                continue;
            }
            match c.name.as_str() {
                "server" => {
                    let mut v = parse_server_line(c, method_set, &u.method)?;
                    u.servers.append(&mut v);
                }
                "zone" => u.zone = Some(c.args[0].clone()),
                "health_check" => {
                    self.health.check(c)?;
                    u.health_check = Some(c.args.clone());
                }
                _ => keepalive_setting(c, &mut u)?,
            }
        }
        if u.servers.is_empty() {
            let mut at = d.clone();
            at.line = d.end_line.max(end_line);
            return Err(err(&at, "no servers are inside upstream"));
        }
        self.record_upstream(&name, d, u);
        Ok(())
    }

    /// A balancing method `c` sets: warned when one was set before; a `keepalive` before it
    /// is dropped (nginx 1.22: the method replaces the keepalive hooks).
    fn set_method(&mut self, c: &Directive, u: &mut Upstream, m: Method, set: &mut bool) {
        if *set {
            self.warnings.push(format!(
                "load balancing method redefined in {}:{}",
                c.file, c.line
            ));
        }
        u.keepalive = None;
        u.method = m;
        *set = true;
    }

    /// Puts the block's upstream in its slot (new, or the implicit one named so before).
    fn record_upstream(&mut self, name: &str, d: &Directive, u: Upstream) {
        match self.upstreams.slot_for(name, None, true) {
            Some(i) => {
                let s = &mut self.upstreams.slots[i];
                s.explicit = Some(u);
                s.block = Some(d.clone());
            }
            None => self.upstreams.slots.push(Slot {
                host: name.to_ascii_lowercase(),
                port: None,
                explicit: Some(u),
                at: None,
                block: Some(d.clone()),
            }),
        }
    }
}
