//! Inheritance: builds each level's [`Loc`] from the chain http → server → location → nested
//! location, as nginx's merge functions do (single values from the innermost level that sets
//! them; lists such as `proxy_set_header`, `add_header`, `access_log`, `allow`/`deny` and
//! `limit_req` taken whole from the innermost level that has any), with the merge-time checks.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::*;
use super::super::values::{parse_number, parse_offset, parse_size, parse_time};
use super::location::{RawKind, RawLocation};
use super::raw::{RawLevel, next_upstream_bit, parse_cidr};
use super::server::{RawServer, server_names};
use super::{Builder, err};
use crate::http::status::Status;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Chain<'a> {
    levels: Vec<&'a RawLevel>,
}

impl<'a> Chain<'a> {
    fn get(&self, name: &str) -> Option<&'a Directive> {
        self.levels.iter().rev().find_map(|l| l.get(name))
    }

    fn list(&self, names: &[&str]) -> Vec<&'a Directive> {
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

    fn time(&self, name: &str, default: u64) -> Duration {
        self.get(name)
            .and_then(|d| parse_time(&d.args[0], false))
            .unwrap_or(Duration::from_secs(default))
    }

    fn size(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .and_then(|d| parse_size(&d.args[0]))
            .unwrap_or(default)
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        self.get(name)
            .map_or(default, |d| d.args[0].eq_ignore_ascii_case("on"))
    }
}

impl crate::conf::cache::Lookup for Chain<'_> {
    fn one(&self, name: &str) -> Option<&Directive> {
        self.get(name)
    }

    fn all(&self, name: &str) -> Vec<&Directive> {
        self.list(&[name])
    }
}

fn build_proxy(c: &Chain<'_>, b: &Builder, _at: &Directive) -> Result<ProxyConf, ConfError> {
    // nginx compiles proxy_set_header values and checks buffers at merge time: errors point
    // at the closing brace of the http block.
    let at = b.http_end.as_ref().unwrap_or(_at);
    let mut set_headers = Vec::new();
    for d in c.list(&["proxy_set_header"]) {
        set_headers.push((d.args[0].clone(), super::misc::template(at, &d.args[1])?));
    }
    let next_upstream = match c.get("proxy_next_upstream") {
        Some(d) => {
            let bits = d
                .args
                .iter()
                .filter_map(|v| next_upstream_bit(v))
                .fold(0, |a, b| a | b);
            if bits & next_upstream::OFF != 0 {
                next_upstream::OFF
            } else {
                bits
            }
        }
        None => next_upstream::ERROR | next_upstream::TIMEOUT,
    };
    let buffer_size = c.size("proxy_buffer_size", 4096) as usize;
    let buffers = c
        .get("proxy_buffers")
        .and_then(|d| {
            Some((
                parse_number(&d.args[0])? as usize,
                parse_size(&d.args[1])? as usize,
            ))
        })
        .unwrap_or((8, 4096));
    let lerr = |m: &str| Err(err(at, m));
    if buffers.0 < 2 {
        return lerr("there must be at least 2 \"proxy_buffers\"");
    }
    let size = buffer_size.max(buffers.1);
    let busy = c
        .get("proxy_busy_buffers_size")
        .and_then(|d| parse_size(&d.args[0]))
        .map_or(2 * size, |v| v as usize);
    if busy < size {
        return lerr(
            "\"proxy_busy_buffers_size\" must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        );
    }
    if busy > (buffers.0 - 1) * buffers.1 {
        return lerr(
            "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" minus one buffer",
        );
    }
    let max_temp = c
        .get("proxy_max_temp_file_size")
        .and_then(|d| parse_offset(&d.args[0]))
        .unwrap_or(1024 * 1024 * 1024);
    if max_temp != 0 && (max_temp as usize) < size {
        return lerr(
            "\"proxy_max_temp_file_size\" must be equal to zero to disable temporary files usage or must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        );
    }
    let lower = |n: &str| -> Vec<String> {
        c.list(&[n])
            .iter()
            .map(|d| d.args[0].to_ascii_lowercase())
            .collect()
    };
    let _ = b;
    Ok(ProxyConf {
        set_headers,
        http11: c
            .get("proxy_http_version")
            .is_some_and(|d| d.args[0] == "1.1"),
        connect_timeout: c.time("proxy_connect_timeout", 60),
        read_timeout: c.time("proxy_read_timeout", 60),
        send_timeout: c.time("proxy_send_timeout", 60),
        next_upstream,
        next_upstream_tries: c
            .get("proxy_next_upstream_tries")
            .and_then(|d| parse_number(&d.args[0]))
            .unwrap_or(0) as u32,
        next_upstream_timeout: c.time("proxy_next_upstream_timeout", 0),
        buffering: c.flag("proxy_buffering", true),
        request_buffering: c.flag("proxy_request_buffering", true),
        buffer_size,
        buffers,
        busy_buffers_size: busy,
        max_temp_file_size: max_temp,
        hide_headers: lower("proxy_hide_header"),
        pass_headers: lower("proxy_pass_header"),
        intercept_errors: c.flag("proxy_intercept_errors", false),
        pass_request_body: c.flag("proxy_pass_request_body", true),
        pass_request_headers: c.flag("proxy_pass_request_headers", true),
        ignore_client_abort: c.flag("proxy_ignore_client_abort", false),
        cache: crate::conf::cache::build(c, &b.cache_paths, at)?,
    })
}

fn build_loc(
    c: &Chain<'_>,
    b: &Builder,
    name: &str,
    at: &Directive,
    ret: Option<Return>,
    handler: Handler,
) -> Result<Loc, ConfError> {
    let keepalive = c
        .get("keepalive_timeout")
        .map_or((Duration::from_secs(75), None), |d| {
            (
                parse_time(&d.args[0], false).unwrap_or_default(),
                d.args.get(1).and_then(|v| parse_time(v, false)),
            )
        });
    let mut access = Vec::new();
    for d in c.list(&["allow", "deny"]) {
        access.push(AccessRule {
            allow: d.name == "allow",
            net: if d.args[0] == "all" {
                None
            } else {
                parse_cidr(&d.args[0])
            },
        });
    }
    let mut logs = Vec::new();
    let log_dirs = c.list(&["access_log"]);
    if log_dirs.is_empty() {
        logs.push(Arc::new(AccessLog {
            path: b.prefix.join("logs/access.log"),
            format: b.misc.formats[0].clone(),
            buffer: None,
            flush: None,
        }));
    }
    for d in log_dirs {
        if let Some(l) = super::misc::parse_access_log(d, &b.misc.formats, &b.prefix)? {
            logs.push(Arc::new(l));
        } else {
            logs.clear();
            break;
        }
    }
    let mut limit_req = Vec::new();
    for d in c.list(&["limit_req"]) {
        let mut r = LimitReqRef {
            zone: usize::MAX,
            burst: 0,
            delay: 0,
        };
        for a in &d.args {
            if let Some(z) = a.strip_prefix("zone=") {
                r.zone = b
                    .misc
                    .zones
                    .iter()
                    .position(|x| x.name == z)
                    .ok_or_else(|| {
                        ConfError::global(format!("zero size shared memory zone \"{z}\""))
                    })?;
            } else if let Some(v) = a.strip_prefix("burst=") {
                r.burst = parse_number(v)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err(d, format!("invalid burst value \"{a}\"")))?;
            } else if let Some(v) = a.strip_prefix("delay=") {
                r.delay = parse_number(v)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err(d, format!("invalid delay value \"{a}\"")))?;
            } else if a == "nodelay" {
                r.delay = u64::MAX;
            } else {
                return Err(err(d, format!("invalid parameter \"{a}\"")));
            }
        }
        if r.zone == usize::MAX {
            return Err(err(d, "\"limit_req\" must have \"zone\" parameter"));
        }
        limit_req.push(r);
    }
    let mut add_headers = Vec::new();
    for d in c.list(&["add_header"]) {
        add_headers.push(AddHeader {
            name: d.args[0].clone(),
            value: super::misc::template(d, &d.args[1])?,
            always: d.args.len() == 3,
        });
    }
    let root = match c.levels.iter().rev().find_map(|l| {
        l.dirs
            .iter()
            .rev()
            .find(|d| d.name == "root" || d.name == "alias")
    }) {
        Some(d) => {
            let p = PathBuf::from(&d.args[0]);
            (
                if p.is_absolute() { p } else { b.prefix.join(p) },
                d.name == "alias",
            )
        }
        None => (b.prefix.join("html"), false),
    };
    let index: Vec<String> = {
        let v: Vec<String> = c
            .list(&["index"])
            .iter()
            .flat_map(|d| d.args.clone())
            .collect();
        if v.is_empty() {
            vec!["index.html".into()]
        } else {
            v
        }
    };
    let types = types_map(c);
    let static_conf = {
        use crate::static_files::{DocRoot, Expires, MimeTypes, StaticConf};
        let doc_root = if root.1 {
            if matches!(at.args.first().map(String::as_str), Some("~" | "~*"))
                || at.args.first().is_some_and(|a| a.starts_with('~'))
            {
                DocRoot::AliasRegex(root.0.clone())
            } else {
                DocRoot::Alias {
                    path: root.0.clone(),
                    location: name.to_string(),
                }
            }
        } else {
            DocRoot::Root(root.0.clone())
        };
        let mut sc = StaticConf::new(doc_root);
        sc.index = index.clone();
        sc.default_type = c
            .get("default_type")
            .map_or("text/plain".into(), |d| d.args[0].clone());
        sc.mime = Arc::new(MimeTypes::from_pairs(
            types.iter().map(|(e, t)| (e.as_str(), t.as_str())),
        ));
        if let Some(d) = c.get("expires") {
            let args: Vec<&str> = d.args.iter().map(String::as_str).collect();
            sc.expires = Expires::parse(&args).unwrap_or(Expires::Off);
        }
        Arc::new(sc)
    };
    Ok(Loc {
        name: name.to_string(),
        client_max_body_size: c
            .get("client_max_body_size")
            .and_then(|d| parse_offset(&d.args[0]))
            .unwrap_or(1 << 20),
        client_body_buffer_size: c.size("client_body_buffer_size", 8192),
        client_body_timeout: c.time("client_body_timeout", 60),
        body: Arc::new(body_conf(c, b)),
        send_timeout: c.time("send_timeout", 60),
        keepalive_timeout: keepalive,
        keepalive_requests: c
            .get("keepalive_requests")
            .and_then(|d| parse_number(&d.args[0]))
            .unwrap_or(1000),
        keepalive_time: c.time("keepalive_time", 3600),
        server_tokens: c.get("server_tokens").is_none_or(|d| d.args[0] != "off"),
        ret,
        handler,
        proxy: Arc::new(build_proxy(c, b, at)?),
        access: access.into(),
        access_logs: logs.into(),
        limit_req: limit_req.into(),
        limit_req_status: c
            .get("limit_req_status")
            .and_then(|d| parse_number(&d.args[0]))
            .and_then(|n| Status::new(u16::try_from(n).ok()?))
            .unwrap_or(Status::SERVICE_UNAVAILABLE),
        limit_req_log_level: c
            .get("limit_req_log_level")
            .and_then(|d| LogLevel::parse(&d.args[0]))
            .unwrap_or(LogLevel::Error),
        limit_req_dry_run: c.flag("limit_req_dry_run", false),
        root,
        index: index.clone().into(),
        expires: c.get("expires").map(|d| d.args.clone()),
        add_headers: add_headers.into(),
        default_type: c
            .get("default_type")
            .map_or("text/plain".into(), |d| d.args[0].clone()),
        types: Arc::new(types),
        static_conf,
        gzip: Arc::new(crate::conf::gzip::GzipConf::build(
            &c.levels.iter().map(|l| &l.dirs[..]).collect::<Vec<_>>(),
        )?),
        absolute_redirect: c.flag("absolute_redirect", true),
        port_in_redirect: c.flag("port_in_redirect", true),
        error_log: None,
        health_check: c
            .levels
            .last()
            .and_then(|l| l.get("health_check"))
            .map(|d| d.args.clone()),
    })
}

/// `client_body_temp_path`, `client_body_in_file_only` and `lingering_*` after inheritance
/// (values were checked when the directives were read).
fn body_conf(c: &Chain<'_>, b: &Builder) -> crate::conf::body::BodyConf {
    use crate::conf::body::{BodyConf, InFileOnly, Lingering, TempPath};
    BodyConf {
        temp_path: c
            .get("client_body_temp_path")
            .and_then(|d| TempPath::parse(&d.args, &b.prefix))
            .unwrap_or_else(|| TempPath {
                dir: b.prefix.join("client_body_temp"),
                levels: Vec::new(),
            }),
        in_file_only: c
            .get("client_body_in_file_only")
            .and_then(|d| InFileOnly::parse(&d.args[0]))
            .unwrap_or_default(),
        lingering_close: c
            .get("lingering_close")
            .and_then(|d| Lingering::parse(&d.args[0]))
            .unwrap_or_default(),
        lingering_time: c.time("lingering_time", 30),
        lingering_timeout: c.time("lingering_timeout", 5),
    }
}

/// The innermost `types {}` blocks (all blocks at that level), else nginx's defaults.
fn types_map(c: &Chain<'_>) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    let blocks = c.list(&["types"]);
    if blocks.is_empty() {
        for (e, t) in [
            ("html", "text/html"),
            ("gif", "image/gif"),
            ("jpg", "image/jpeg"),
        ] {
            m.insert(e.to_string(), t.to_string());
        }
        return m;
    }
    for b in blocks {
        for it in b.block.as_deref().unwrap_or_default() {
            if let super::super::lexer::Item::Dir(d) = it {
                for ext in &d.args {
                    m.insert(ext.to_ascii_lowercase(), d.name.clone());
                }
            }
        }
    }
    m
}

fn handler_of(l: &RawLocation, http: &Http) -> Handler {
    match &l.proxy_pass {
        Some(p) => {
            let _ = http;
            Handler::Proxy(ProxyPass {
                upstream: p.slot,
                https: p.https,
                uri: p.uri.clone(),
                proxy_host: p.proxy_host.clone(),
                proxy_port: p.port,
            })
        }
        None => l.handler.clone(),
    }
}

fn build_tree(
    raws: Vec<RawLocation>,
    chain: &[&RawLevel],
    b: &Builder,
    http: &Http,
    named: &mut Vec<(String, Arc<Loc>)>,
) -> Result<LocationTree, ConfError> {
    let mut tree = LocationTree::default();
    let mut seen: Vec<(bool, String)> = Vec::new();
    for mut r in raws {
        let children = std::mem::take(&mut r.children);
        let handler = handler_of(&r, http);
        let mut sub: Vec<&RawLevel> = chain.to_vec();
        sub.push(&r.level);
        let conf = {
            let c = Chain {
                levels: sub.clone(),
            };
            Arc::new(build_loc(
                &c,
                b,
                &r.name,
                &r.decl,
                r.ret.clone(),
                handler.clone(),
            )?)
        };
        let kids = build_tree(children, &sub, b, http, named)?;
        drop(sub);
        if r.kind == RawKind::Named {
            named.push((r.name.clone(), conf));
            continue;
        }
        let exact = r.kind == RawKind::Exact;
        if !matches!(r.kind, RawKind::Regex { .. }) {
            if seen.iter().any(|(e, n)| *e == exact && *n == r.name) {
                return Err(err(&r.decl, format!("duplicate location \"{}\"", r.name)));
            }
            seen.push((exact, r.name.clone()));
        }
        let kind = match r.kind {
            RawKind::Exact => LocKind::Exact,
            RawKind::Prefix => LocKind::Prefix,
            RawKind::NoRegex => LocKind::NoRegex,
            // Always compiled when the location was read; a missing one cannot match anything.
            RawKind::Regex { .. } => match r.regex.take() {
                Some(re) => LocKind::Regex(re),
                None => LocKind::Named,
            },
            RawKind::Named => LocKind::Named,
        };
        let auto_redirect = matches!(kind, LocKind::Prefix | LocKind::NoRegex)
            && r.name.ends_with('/')
            && matches!(handler, Handler::Proxy(_));
        let loc = Arc::new(Location {
            name: r.name.clone(),
            kind,
            conf,
            children: kids,
            auto_redirect,
        });
        match loc.kind {
            LocKind::Exact => tree.exact.push((r.name, loc)),
            LocKind::Regex(_) => tree.regex.push(loc),
            _ => tree.prefix.push(loc),
        }
    }
    tree.prefix.sort_by_key(|l| std::cmp::Reverse(l.name.len()));
    Ok(tree)
}

fn server_time(c: &Chain<'_>, name: &str) -> Duration {
    c.time(name, 60)
}

/// Builds one server with its merged levels and location tree.
pub(crate) fn build_server(
    b: &Builder,
    s: RawServer,
    http: &Http,
) -> Result<Arc<Server>, ConfError> {
    let chain = Chain {
        levels: vec![&b.http, &s.level],
    };
    let at = s.decl.clone().unwrap_or_else(|| Directive {
        name: "server".into(),
        args: vec![],
        quoted: vec![],
        file: "nginx.conf".into(),
        line: 0,
        block: None,
        end_line: 0,
    });
    let base = Arc::new(build_loc(&chain, b, "", &at, None, handler_of_server(&s))?);
    let mut named = Vec::new();
    let levels = vec![&b.http, &s.level];
    let locations = build_tree(s.locations, &levels, b, http, &mut named)?;
    let names = server_names(&s.names).map_err(|m| err(&at, m))?;
    let lhb = chain
        .get("large_client_header_buffers")
        .and_then(|d| {
            Some((
                parse_number(&d.args[0])? as usize,
                parse_size(&d.args[1])? as usize,
            ))
        })
        .unwrap_or((4, 8192));
    let cert = chain
        .get("ssl_certificate")
        .map(|d| PathBuf::from(&d.args[0]));
    let key = chain
        .get("ssl_certificate_key")
        .map(|d| PathBuf::from(&d.args[0]));
    if s.ssl_listen_line.is_some() && cert.is_none() {
        return Err(err(
            &at,
            "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive",
        ));
    }
    let resolve = |p: PathBuf| if p.is_absolute() { p } else { b.prefix.join(p) };
    let _ = s.index;
    Ok(Arc::new(Server {
        first_name: s.names.first().cloned().unwrap_or_default(),
        names,
        client_header_timeout: server_time(&chain, "client_header_timeout"),
        client_header_buffer_size: chain.size("client_header_buffer_size", 1024) as usize,
        large_header_buffers: lhb,
        underscores_in_headers: chain.flag("underscores_in_headers", false),
        ignore_invalid_headers: chain.flag("ignore_invalid_headers", true),
        merge_slashes: chain.flag("merge_slashes", true),
        ret: s.ret,
        base,
        locations,
        named,
        ssl_cert: cert.zip(key).map(|(c, k)| (resolve(c), resolve(k))),
        ssl_protocols: chain.get("ssl_protocols").map_or_else(
            || vec!["TLSv1".into(), "TLSv1.1".into(), "TLSv1.2".into()],
            |d| d.args.clone(),
        ),
    }))
}

fn handler_of_server(s: &RawServer) -> Handler {
    if s.level.has("stub_status") {
        Handler::StubStatus
    } else {
        Handler::Static
    }
}
