//! The rewritten copy that runs: the deployed tree printed back as a scenario config template,
//! with listeners, upstream servers, certificates, logs and missing paths replaced by what
//! the run provides ([`super::mapping`]), and a line map back to the deployed files. What
//! each directive becomes is in [`directives`].

mod directives;

use super::mapping::{Listener, Mapping, Pool, pool_name};
use super::model::{self, Model, level, target};
use super::source::{Node, Source};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Directives added at the start of a block (a fix tried as a variant), keyed by the block's
/// deployed `file:line`; `replace` drops the block's own directives of that name.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// `file:line` of the block (location, server, upstream, http).
    pub block: String,
    /// Lines to add (`limit_req_status 429;`).
    pub add: Vec<String>,
    /// Directive names whose deployed lines are dropped in that block.
    pub replace: Vec<String>,
}

/// The rewritten config.
#[derive(Debug, Clone)]
pub struct Rewritten {
    /// Config template (scenario placeholders for ports, pools, certificates, run dir).
    pub template: String,
    /// For each template line (0-based), the deployed `file:line` it came from.
    pub origin: Vec<String>,
    /// The mapping table.
    pub mapping: Mapping,
}

impl Rewritten {
    /// The deployed `file:line` of a template line (1-based).
    pub fn origin_of(&self, line: u32) -> Option<&str> {
        self.origin
            .get((line as usize).checked_sub(1)?)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// How to rewrite.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where missing static roots are made.
    pub www: PathBuf,
    /// Changes to apply (a fix tried).
    pub patches: Vec<Patch>,
    /// The server (`file:line`) made `default_server` on its sockets: the loadgen sends
    /// `Host: 127.0.0.1:PORT`, so a probe reaches a named server as the default one.
    pub front: Option<String>,
    /// Request paths (`/static/probe.txt`) whose files are written into the directories made
    /// for roots and aliases that are not on this machine.
    pub files: Vec<String>,
    /// What runs as each upstream instance, for the mapping (empty: the fake Uvicorn).
    pub app: String,
}

/// Rewrites `src`.
pub fn rewrite(src: &Source, m: &Model<'_>, o: &Options) -> Rewritten {
    let mut w = Writer {
        src,
        www: o.www.clone(),
        patches: &o.patches,
        front: o.front.clone(),
        files: &o.files,
        app: if o.app.is_empty() {
            "fake Uvicorn".into()
        } else {
            o.app.clone()
        },
        cur_server: String::new(),
        out: String::new(),
        origin: Vec::new(),
        map: Mapping::default(),
        roots: 0,
        server_ports: Vec::new(),
    };
    w.plan_listeners(m);
    w.plan_pools(m);
    w.nodes(&src.nodes, 0, Ctx::Main);
    Rewritten {
        template: w.out,
        origin: w.origin,
        mapping: w.map,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Main,
    Http,
    Server,
    Other,
}

pub(crate) struct Writer<'s> {
    src: &'s Source,
    www: PathBuf,
    patches: &'s [Patch],
    front: Option<String>,
    files: &'s [String],
    app: String,
    cur_server: String,
    out: String,
    origin: Vec<String>,
    map: Mapping,
    roots: usize,
    /// Listener names already written in the current server.
    server_ports: Vec<String>,
}

impl Writer<'_> {
    fn line(&mut self, depth: usize, text: &str, origin: String) {
        self.out.push_str(&"    ".repeat(depth));
        self.out.push_str(text);
        self.out.push('\n');
        self.origin.push(origin);
    }

    fn plan_listeners(&mut self, m: &Model<'_>) {
        let mut ports: BTreeMap<u16, Listener> = BTreeMap::new();
        let mut order = Vec::new();
        for s in &m.servers {
            for l in s.listens.iter().filter(|l| l.unix.is_none()) {
                let e = ports.entry(l.port).or_insert_with(|| {
                    order.push(l.port);
                    Listener {
                        name: String::new(),
                        port: l.port,
                        ssl: false,
                        http2: false,
                        host: None,
                    }
                });
                e.ssl |= l.ssl;
                e.http2 |= l.http2;
                if e.host.is_none() || l.default {
                    e.host = s
                        .names
                        .iter()
                        .find(|n| is_host(n))
                        .cloned()
                        .or(e.host.take());
                }
            }
        }
        for (i, p) in order.iter().enumerate() {
            if let Some(mut l) = ports.remove(p) {
                l.name = if i == 0 {
                    String::new()
                } else {
                    format!("p{p}")
                };
                self.map.listeners.push(l);
            }
        }
    }

    fn plan_pools(&mut self, m: &Model<'_>) {
        for u in &m.upstreams {
            let name = pool_name(u.arg0());
            let mut inst = Vec::new();
            for s in level(u, "server") {
                if self.map.instance(s.arg0()).is_none() && !inst.iter().any(|(a, _)| a == s.arg0())
                {
                    inst.push((s.arg0().to_string(), s.at()));
                }
            }
            self.map.pools.push(Pool {
                name,
                upstream: Some(u.arg0().to_string()),
                instances: inst,
            });
        }
        let mut n = 0;
        for l in &m.locs {
            let Some(pp) = l.proxy_pass() else { continue };
            let Some(t) = target(pp.arg0()) else { continue };
            if m.upstream_of(l).is_some() {
                continue;
            }
            let addr = addr_of(&t);
            if self.map.instance(&addr).is_none() {
                n += 1;
                self.map.pools.push(Pool {
                    name: format!("direct-{n}"),
                    upstream: None,
                    instances: vec![(addr, pp.at())],
                });
            }
        }
        self.map.pools.retain(|p| !p.instances.is_empty());
    }

    fn nodes(&mut self, nodes: &[Node], depth: usize, ctx: Ctx) {
        for n in nodes {
            self.node(n, depth, ctx, nodes);
        }
    }

    fn node(&mut self, n: &Node, depth: usize, ctx: Ctx, siblings: &[Node]) {
        if let Some(b) = &n.block {
            let inner = match (ctx, n.name.as_str()) {
                (Ctx::Main, "http") => Ctx::Http,
                (Ctx::Http, "server") => Ctx::Server,
                _ => Ctx::Other,
            };
            self.line(depth, &format!("{} {{", n.text()), n.at());
            if inner == Ctx::Server {
                self.server_ports.clear();
                self.cur_server = n.at();
                self.implicit_listen(n, depth + 1);
            }
            let patch: Vec<&Patch> = self.patches.iter().filter(|p| p.block == n.at()).collect();
            // An upstream's `keepalive` must follow its balancing method (`least_conn`,
            // `hash`, ...), which would otherwise replace it: it goes last.
            let (tail, head): (Vec<&String>, Vec<&String>) = patch
                .iter()
                .flat_map(|p| &p.add)
                .partition(|a| a.starts_with("keepalive ") && n.name == "upstream");
            for a in head {
                self.line(depth + 1, a, n.at());
            }
            let skip: Vec<String> = patch.iter().flat_map(|p| p.replace.clone()).collect();
            for c in b {
                if !skip.contains(&c.name) {
                    self.node(c, depth + 1, inner, b);
                }
            }
            for a in tail {
                self.line(depth + 1, a, n.at());
            }
            self.line(depth, "}", String::new());
            return;
        }
        match self.replace(n, ctx, siblings) {
            Action::Keep => self.line(depth, &format!("{};", n.text()), n.at()),
            Action::Drop(why) => self.map.row(n.at(), n.text(), why),
            Action::Replace(text, why) => {
                self.line(depth, &format!("{text};"), n.at());
                self.map.row(n.at(), n.text(), why);
            }
        }
    }

    fn implicit_listen(&mut self, server: &Node, depth: usize) {
        if !level(server, "listen").is_empty() {
            return;
        }
        if let Some(l) = self.map.listener(80).cloned() {
            self.server_ports.push(l.name.clone());
            let d = if self.front.as_deref() == Some(&server.at()) {
                " default_server"
            } else {
                ""
            };
            self.line(
                depth,
                &format!("listen {}{d};", l.placeholder()),
                server.at(),
            );
            self.map.row(
                server.at(),
                "server { (no listen: nginx's *:80)".into(),
                format!("listen {} (loopback port of :80)", l.placeholder()),
            );
        }
    }
}

pub(crate) enum Action {
    Keep,
    Drop(String),
    Replace(String, String),
}

/// Whether a server_name is a plain host (not a regex, wildcard or `_`).
pub(crate) fn is_host(n: &str) -> bool {
    !n.is_empty()
        && n != "_"
        && n != "\"\""
        && !n.starts_with('~')
        && !n.contains('*')
        && n.contains('.')
}

/// The address a proxy_pass target stands for (`host:port`, `unix:/path`).
pub(crate) fn addr_of(t: &model::Target) -> String {
    if t.host.starts_with("unix:") {
        return t.host.clone();
    }
    let port = t.port.unwrap_or(if t.scheme == "https" { 443 } else { 80 });
    format!("{}:{port}", t.host)
}
