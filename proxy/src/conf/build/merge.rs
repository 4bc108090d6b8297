//! Inheritance: builds each server and its location tree, every level's [`Loc`] from the
//! chain http → server → location → nested location ([`super::chain`]; the settings
//! themselves in [`super::loc_conf`]), with the duplicate-location and certificate checks.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::*;
use super::chain::Chain;
use super::loc_conf::build_loc;
use super::location::{RawKind, RawLocation};
use super::raw::RawLevel;
use super::server::{RawServer, server_names};
use super::{Builder, err};
use std::path::PathBuf;
use std::sync::Arc;

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
    let lhb = chain.buffers("large_client_header_buffers", (4, 8192));
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
        client_header_timeout: chain.time("client_header_timeout", 60),
        client_header_buffer_size: chain.size("client_header_buffer_size", 1024) as usize,
        large_header_buffers: lhb,
        underscores_in_headers: chain.flag("underscores_in_headers", false),
        ignore_invalid_headers: chain.flag("ignore_invalid_headers", true),
        merge_slashes: chain.flag("merge_slashes", true),
        http2_max_concurrent_streams: chain
            .number("http2_max_concurrent_streams", 128)
            .min(u64::from(u32::MAX)) as u32,
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
