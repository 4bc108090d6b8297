//! One level's [`Loc`] from its inheritance chain: the request, body and keep-alive settings,
//! access rules, access logs, `limit_req` references, `add_header`, the document root and the
//! static-file settings, each from the values parsed when the directives were read.

use super::super::error::ConfError;
use super::super::lexer::{Directive, Item};
use super::super::model::*;
use super::super::values::parse_number;
use super::Builder;
use super::chain::Chain;
use super::err;
use crate::http::status::Status;
use crate::static_files::{DocRoot, MimeTypes, StaticConf};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The merged settings of the level `name` declared by `at`.
pub(super) fn build_loc(
    c: &Chain<'_>,
    b: &Builder,
    name: &str,
    at: &Directive,
    ret: Option<Return>,
    handler: Handler,
) -> Result<Loc, ConfError> {
    let root = doc_root(c, b);
    let index = index_files(c);
    let types = types_map(c);
    let default_type = c
        .get("default_type")
        .map_or("text/plain".into(), |d| d.args[0].clone());
    let static_conf = static_conf(c, at, name, &root, &index, &types, &default_type);
    Ok(Loc {
        name: name.to_string(),
        client_max_body_size: c.size("client_max_body_size", 1 << 20),
        client_body_buffer_size: c.size("client_body_buffer_size", 8192),
        client_body_timeout: c.time("client_body_timeout", 60),
        body: Arc::new(body_conf(c, b)),
        send_timeout: c.time("send_timeout", 60),
        keepalive_timeout: c.keepalive(),
        keepalive_requests: c.number("keepalive_requests", 1000),
        keepalive_time: c.time("keepalive_time", 3600),
        server_tokens: c.server_tokens(),
        ret,
        handler,
        proxy: Arc::new(super::proxy_conf::build_proxy(c, b, at)?),
        access: access_rules(c).into(),
        access_logs: access_logs(c, b)?.into(),
        limit_req: limit_reqs(c, b)?.into(),
        limit_req_status: c.status("limit_req_status", Status::SERVICE_UNAVAILABLE),
        limit_req_log_level: c.log_level("limit_req_log_level", LogLevel::Error),
        limit_req_dry_run: c.flag("limit_req_dry_run", false),
        root,
        index: index.into(),
        add_headers: add_headers(c)?.into(),
        default_type,
        types: Arc::new(types),
        static_conf,
        gzip: Arc::new(super::gzip_conf::build_gzip(c)),
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

/// `allow` / `deny` in order.
fn access_rules(c: &Chain<'_>) -> Vec<AccessRule> {
    c.access_rules()
        .into_iter()
        .map(|(allow, net)| AccessRule { allow, net })
        .collect()
}

/// `access_log` entries (nginx's `logs/access.log` in the combined format when none; empty
/// after `access_log off`).
fn access_logs(c: &Chain<'_>, b: &Builder) -> Result<Vec<Arc<AccessLog>>, ConfError> {
    let log_dirs = c.list(&["access_log"]);
    if log_dirs.is_empty() {
        return Ok(vec![Arc::new(AccessLog {
            path: b.prefix.join("logs/access.log"),
            format: b.misc.formats[0].clone(),
            buffer: None,
            flush: None,
        })]);
    }
    let mut logs = Vec::new();
    for d in log_dirs {
        match super::misc::parse_access_log(d, &b.misc.formats, &b.prefix)? {
            Some(l) => logs.push(Arc::new(l)),
            None => return Ok(Vec::new()),
        }
    }
    Ok(logs)
}

/// `limit_req zone=NAME [burst=N] [delay=N | nodelay]` entries, zones found by name.
fn limit_reqs(c: &Chain<'_>, b: &Builder) -> Result<Vec<LimitReqRef>, ConfError> {
    c.list(&["limit_req"])
        .into_iter()
        .map(|d| limit_req(d, b))
        .collect()
}

/// One `limit_req`.
fn limit_req(d: &Directive, b: &Builder) -> Result<LimitReqRef, ConfError> {
    let mut r = LimitReqRef {
        zone: usize::MAX,
        burst: 0,
        delay: 0,
    };
    let positive = |v: &str, what: &str, a: &str| {
        parse_number(v)
            .filter(|n| *n > 0)
            .ok_or_else(|| err(d, format!("invalid {what} value \"{a}\"")))
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
            r.burst = positive(v, "burst", a)?;
        } else if let Some(v) = a.strip_prefix("delay=") {
            r.delay = positive(v, "delay", a)?;
        } else if a == "nodelay" {
            r.delay = u64::MAX;
        } else {
            return Err(err(d, format!("invalid parameter \"{a}\"")));
        }
    }
    if r.zone == usize::MAX {
        return Err(err(d, "\"limit_req\" must have \"zone\" parameter"));
    }
    Ok(r)
}

/// `add_header NAME VALUE [always]` entries.
fn add_headers(c: &Chain<'_>) -> Result<Vec<AddHeader>, ConfError> {
    c.list(&["add_header"])
        .into_iter()
        .map(|d| {
            Ok(AddHeader {
                name: d.args[0].clone(),
                value: super::misc::template(d, &d.args[1])?,
                always: d.args.len() == 3,
            })
        })
        .collect()
}

/// The innermost `root` or `alias` (relative to the prefix), and whether it is an alias;
/// nginx's `html` under the prefix when neither is set.
fn doc_root(c: &Chain<'_>, b: &Builder) -> (PathBuf, bool) {
    let innermost = c.levels.iter().rev().find_map(|l| {
        l.dirs
            .iter()
            .rev()
            .find(|d| d.name == "root" || d.name == "alias")
    });
    match innermost {
        Some(d) => {
            let p = PathBuf::from(&d.args[0]);
            let p = if p.is_absolute() { p } else { b.prefix.join(p) };
            (p, d.name == "alias")
        }
        None => (b.prefix.join("html"), false),
    }
}

/// `index` files (nginx's `index.html` when none).
fn index_files(c: &Chain<'_>) -> Vec<String> {
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
}

/// The static-file module's settings: where files come from (root, alias, or alias of a
/// regex location), index, types and `expires`.
fn static_conf(
    c: &Chain<'_>,
    at: &Directive,
    name: &str,
    root: &(PathBuf, bool),
    index: &[String],
    types: &HashMap<String, String>,
    default_type: &str,
) -> Arc<StaticConf> {
    let regex = at.args.first().is_some_and(|a| a.starts_with('~'));
    let doc_root = match root {
        (path, true) if regex => DocRoot::AliasRegex(path.clone()),
        (path, true) => DocRoot::Alias {
            path: path.clone(),
            location: name.to_string(),
        },
        (path, false) => DocRoot::Root(path.clone()),
    };
    let mut sc = StaticConf::new(doc_root);
    sc.index = index.to_vec();
    sc.default_type = default_type.to_string();
    sc.mime = Arc::new(MimeTypes::from_pairs(
        types.iter().map(|(e, t)| (e.as_str(), t.as_str())),
    ));
    if let Some(e) = c.expires() {
        sc.expires = e;
    }
    Arc::new(sc)
}

/// `client_body_temp_path`, `client_body_in_file_only` and `lingering_*` after inheritance.
fn body_conf(c: &Chain<'_>, b: &Builder) -> crate::conf::body::BodyConf {
    crate::conf::body::BodyConf {
        temp_path: temp_path(c, b, "client_body_temp_path"),
        in_file_only: c.in_file_only(),
        lingering_close: c.lingering_close(),
        lingering_time: c.time("lingering_time", 30),
        lingering_timeout: c.time("lingering_timeout", 5),
    }
}

/// Temp path `name` after inheritance, under the prefix; unset: nginx's default directory
/// (`client_body_temp`, no levels; `proxy_temp`, levels 1:2).
pub(super) fn temp_path(c: &Chain<'_>, b: &Builder, name: &str) -> crate::conf::body::TempPath {
    use crate::conf::body::TempPath;
    match c.temp_path(name) {
        Some(p) => TempPath {
            dir: b.prefix.join(&p.dir),
            levels: p.levels.clone(),
        },
        None if name == "proxy_temp_path" => TempPath {
            dir: b.prefix.join("proxy_temp"),
            levels: vec![1, 2],
        },
        None => TempPath {
            dir: b.prefix.join("client_body_temp"),
            levels: Vec::new(),
        },
    }
}

/// The innermost `types {}` blocks (all blocks at that level), else nginx's defaults.
fn types_map(c: &Chain<'_>) -> HashMap<String, String> {
    let blocks = c.list(&["types"]);
    if blocks.is_empty() {
        return [
            ("html", "text/html"),
            ("gif", "image/gif"),
            ("jpg", "image/jpeg"),
        ]
        .into_iter()
        .map(|(e, t)| (e.to_string(), t.to_string()))
        .collect();
    }
    let mut m = HashMap::new();
    for b in blocks {
        for it in b.block.as_deref().unwrap_or_default() {
            if let Item::Dir(d) = it {
                for ext in &d.args {
                    m.insert(ext.to_ascii_lowercase(), d.name.clone());
                }
            }
        }
    }
    m
}
