//! `server {}` blocks: `listen`, `server_name`, server-level `return`, TLS file names, and the
//! listen-socket table with nginx's `a duplicate default server` check.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::{ListenSocket, Return};
use super::super::table::{check, ctx};
use super::location::RawLocation;
use super::raw::RawLevel;
use super::{Builder, dirs, err};
use crate::http::status::Status;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

/// A server block as written.
pub(crate) struct RawServer {
    pub level: RawLevel,
    pub names: Vec<String>,
    pub ret: Option<Return>,
    pub locations: Vec<RawLocation>,
    pub ssl_listen_line: Option<Directive>,
    pub index: usize,
    /// The `server` directive (its opening line).
    pub decl: Option<Directive>,
}

/// One parsed `listen`.
#[derive(Debug, Clone)]
struct ListenEntry {
    addr: SocketAddr,
    servers: Vec<usize>,
    default: Option<usize>,
    ssl: bool,
    http2: bool,
}

/// Listen addresses seen so far, keyed by address.
#[derive(Debug, Default)]
pub(crate) struct Listens {
    map: BTreeMap<SocketAddr, ListenEntry>,
}

impl Listens {
    /// The listen table; a server without `listen` gets `*:80` (`*:8000` when not root).
    pub fn finish(&mut self, _nservers: usize) -> Vec<ListenSocket> {
        self.map
            .values()
            .map(|e| ListenSocket {
                addr: e.addr,
                servers: e.servers.clone(),
                default_server: e.default.unwrap_or(e.servers[0]),
                ssl: e.ssl,
                http2: e.http2,
            })
            .collect()
    }

    fn add(
        &mut self,
        d: &Directive,
        addr: SocketAddr,
        server: usize,
        default: bool,
        ssl: bool,
        http2: bool,
    ) -> Result<(), ConfError> {
        let e = self.map.entry(addr).or_insert_with(|| ListenEntry {
            addr,
            servers: Vec::new(),
            default: None,
            ssl: false,
            http2: false,
        });
        if default {
            if e.default.is_some() {
                return Err(err(d, format!("a duplicate default server for {addr}")));
            }
            e.default = Some(server);
        }
        if !e.servers.contains(&server) {
            e.servers.push(server);
        }
        e.ssl |= ssl;
        e.http2 |= http2;
        Ok(())
    }
}

fn parse_listen_addr(d: &Directive, s: &str) -> Result<SocketAddr, ConfError> {
    let bad_port = || {
        err(
            d,
            format!("invalid port in \"{s}\" of the \"listen\" directive"),
        )
    };
    let port_of = |p: &str| -> Result<u16, ConfError> {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad_port)
    };
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_of(s)?,
        ));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once(']').ok_or_else(|| {
            err(
                d,
                format!("invalid IPv6 address in \"{s}\" of the \"listen\" directive"),
            )
        })?;
        let ip: IpAddr = ip.parse().map_err(|_| {
            err(
                d,
                format!("invalid IPv6 address in \"{s}\" of the \"listen\" directive"),
            )
        })?;
        let port = match port.strip_prefix(':') {
            Some(p) => port_of(p)?,
            None => 80,
        };
        return Ok(SocketAddr::new(ip, port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, port_of(p)?),
        None => (s, 80),
    };
    if host == "*" {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.find(SocketAddr::is_ipv4))
        .ok_or_else(|| {
            err(
                d,
                format!("host not found in \"{s}\" of the \"listen\" directive"),
            )
        })
}

/// Parses `return CODE [TEXT]` / `return URL` as `ngx_http_rewrite_return`.
pub(crate) fn parse_return(d: &Directive) -> Result<Return, ConfError> {
    let a = &d.args;
    let bad = || err(d, format!("invalid return code \"{}\"", a[0]));
    let code = match a[0].parse::<u32>() {
        Ok(c) if a[0].bytes().all(|b| b.is_ascii_digit()) => c,
        _ => {
            let v = &a[0];
            if a.len() == 1
                && (v.starts_with("http://")
                    || v.starts_with("https://")
                    || v.starts_with("$scheme"))
            {
                return Ok(Return {
                    status: Status::MOVED_TEMPORARILY,
                    text: Some(super::misc::template(d, v)?),
                });
            }
            return Err(bad());
        }
    };
    let Some(status) = u16::try_from(code).ok().and_then(Status::new) else {
        return Err(bad());
    };
    let text = match a.get(1) {
        Some(t) => Some(super::misc::template(d, t)?),
        None => None,
    };
    Ok(Return { status, text })
}

impl Builder {
    pub(crate) fn walk_server(&mut self, block: &Directive) -> Result<(), ConfError> {
        let index = self.servers.len();
        let mut s = RawServer {
            level: RawLevel::default(),
            names: Vec::new(),
            ret: None,
            locations: Vec::new(),
            ssl_listen_line: None,
            index,
            decl: Some(Directive {
                block: None,
                ..block.clone()
            }),
        };
        let mut listened = false;
        for d in dirs(block.block.as_deref().unwrap_or_default()) {
            let d = d?;
            check(d, ctx::SRV)?;
            match d.name.as_str() {
                "listen" => {
                    listened = true;
                    self.listen(d, &mut s)?;
                }
                "server_name" => {
                    for n in &d.args {
                        s.names.push(n.clone());
                    }
                }
                "location" => {
                    let loc = self.walk_location(d, None)?;
                    s.locations.push(loc);
                }
                "return" => {
                    let r = parse_return(d)?;
                    if s.ret.is_none() {
                        s.ret = Some(r);
                    }
                }
                "if" => self.walk_if(d, ctx::SIF)?,
                "set" => self.set_variable(d)?,
                "rewrite" | "break" | "rewrite_log" | "uninitialized_variable_warn" => {}
                "stub_status" | "try_files" => s.level.keep(d),
                _ => {
                    self.pre_check_loc_directive(d)?;
                    s.level.add(d)?;
                }
            }
        }
        if !listened {
            // nginx: `listen *:80` when running as root, else `*:8000`.
            let port = if is_root() { 80 } else { 8000 };
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            self.listens.add(block, addr, index, false, false, false)?;
        }
        if s.names.is_empty() {
            s.names.push(String::new());
        }
        self.servers.push(s);
        Ok(())
    }

    /// A `listen` of server `s`: address and parameters (`default_server`, `ssl`, `http2`;
    /// socket options accepted and not used).
    fn listen(&mut self, d: &Directive, s: &mut RawServer) -> Result<(), ConfError> {
        let addr = parse_listen_addr(d, &d.args[0])?;
        let (mut default, mut ssl, mut http2) = (false, false, false);
        for p in &d.args[1..] {
            match p.as_str() {
                "default_server" | "default" => default = true,
                "ssl" => ssl = true,
                "http2" => http2 = true,
                "reuseport" | "deferred" | "bind" | "proxy_protocol" => {}
                _ if p.starts_with("backlog=")
                    || p.starts_with("rcvbuf=")
                    || p.starts_with("sndbuf=")
                    || p.starts_with("ipv6only=")
                    || p.starts_with("so_keepalive=")
                    || p.starts_with("fastopen=")
                    || p.starts_with("accept_filter=") => {}
                _ => return Err(err(d, format!("invalid parameter \"{p}\""))),
            }
        }
        if ssl && s.ssl_listen_line.is_none() {
            s.ssl_listen_line = Some(d.clone());
        }
        self.listens.add(d, addr, s.index, default, ssl, http2)
    }

    /// `set $name value`: the variable becomes known, the value is compiled (and checked).
    pub(crate) fn set_variable(&mut self, d: &Directive) -> Result<(), ConfError> {
        self.misc
            .custom_vars
            .push(d.args[0].trim_start_matches('$').to_string());
        super::misc::template(d, &d.args[1])?;
        Ok(())
    }

    /// `if (...) { }` blocks: checked for allowed directives; not active at runtime.
    pub(crate) fn walk_if(&mut self, d: &Directive, here: u32) -> Result<(), ConfError> {
        for c in dirs(d.block.as_deref().unwrap_or_default()) {
            let c = c?;
            check(c, here)?;
            if c.name == "return" {
                parse_return(c)?;
            }
        }
        Ok(())
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Compiles `server_name` entries.
pub(crate) fn server_names(
    names: &[String],
) -> Result<Vec<crate::conf::model::ServerName>, String> {
    use crate::conf::model::ServerName as N;
    let mut out = Vec::new();
    for n in names {
        let n = n.to_ascii_lowercase();
        if let Some(re) = n.strip_prefix('~') {
            let r = regex::RegexBuilder::new(re)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("pcre2_compile() failed: {e} in \"{re}\""))?;
            out.push(N::Regex(r));
        } else if let Some(rest) = n.strip_prefix("*.") {
            out.push(N::WildHead(format!(".{rest}")));
        } else if let Some(rest) = n.strip_prefix('.') {
            out.push(N::Exact(rest.to_string()));
            out.push(N::WildHead(format!(".{rest}")));
        } else if let Some(rest) = n.strip_suffix(".*") {
            out.push(N::WildTail(format!("{rest}.")));
        } else {
            out.push(N::Exact(n));
        }
    }
    Ok(out)
}
