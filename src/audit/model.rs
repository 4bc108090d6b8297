//! The config model the checks and probes read: servers with their listen sockets, every
//! location with its chain of enclosing levels (http → server → outer locations), upstream
//! blocks, and nginx's inheritance rule (a list directive comes whole from the innermost level
//! that has any).

use super::source::Node;

/// A `listen` of a server (or nginx's implicit `*:80` when a server has none).
#[derive(Debug, Clone)]
pub struct Listen {
    /// Port (80 when implicit).
    pub port: u16,
    /// `ssl`.
    pub ssl: bool,
    /// `http2`.
    pub http2: bool,
    /// `default_server` / `default`.
    pub default: bool,
    /// `[::]` or another IPv6 address.
    pub v6: bool,
    /// `unix:PATH` listens: the path.
    pub unix: Option<String>,
    /// The directive, None when implicit.
    pub node: Option<Node>,
}

/// A `server {}` block.
#[derive(Debug)]
pub struct Srv<'a> {
    /// The block.
    pub node: &'a Node,
    /// Its listens.
    pub listens: Vec<Listen>,
    /// `server_name`s.
    pub names: Vec<String>,
}

impl Srv<'_> {
    /// Whether any listen has `ssl`.
    pub fn tls(&self) -> bool {
        self.listens.iter().any(|l| l.ssl)
    }
}

/// How a location matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// `=`.
    Exact,
    /// Prefix.
    Prefix,
    /// `^~`.
    NoRegex,
    /// `~`.
    Regex,
    /// `~*`.
    RegexCi,
    /// `@name`.
    Named,
}

/// A `location {}` with everything above it.
#[derive(Debug)]
pub struct Loc<'a> {
    /// Index into [`Model::servers`].
    pub server: usize,
    /// The block.
    pub node: &'a Node,
    /// Enclosing levels, outermost first, ending with this location.
    pub chain: Vec<&'a Node>,
    /// Match kind.
    pub kind: Match,
    /// The path or regex.
    pub path: String,
}

impl<'a> Loc<'a> {
    /// `location /api/` / `location ~* \.git`.
    pub fn label(&self) -> String {
        let m = match self.kind {
            Match::Exact => "= ",
            Match::NoRegex => "^~ ",
            Match::Regex => "~ ",
            Match::RegexCi => "~* ",
            _ => "",
        };
        format!("location {m}{}", self.path)
    }

    /// Directives named `name` written in this location itself.
    pub fn own(&self, name: &str) -> Vec<&'a Node> {
        level(self.node, name)
    }

    /// A list directive as nginx merges it: from the innermost level that has any, with that
    /// level's block.
    pub fn inherited(&self, name: &str) -> Option<(&'a Node, Vec<&'a Node>)> {
        self.chain.iter().rev().find_map(|lvl| {
            let v = level(lvl, name);
            (!v.is_empty()).then_some((*lvl, v))
        })
    }

    /// The effective single-value directive (innermost level that sets it).
    pub fn value(&self, name: &str) -> Option<&'a Node> {
        self.inherited(name).and_then(|(_, v)| v.last().copied())
    }

    /// Whether this location hands requests to an upstream.
    pub fn proxy_pass(&self) -> Option<&'a Node> {
        self.own("proxy_pass").first().copied()
    }
}

/// Direct children of `block` named `name` (nested blocks excluded).
pub fn level<'a>(block: &'a Node, name: &str) -> Vec<&'a Node> {
    block
        .children()
        .iter()
        .filter(|c| c.name == name && (c.block.is_none() || name == "types"))
        .collect()
}

/// The whole config.
#[derive(Debug)]
pub struct Model<'a> {
    /// Main-level directives.
    pub main: &'a [Node],
    /// `events {}`.
    pub events: Option<&'a Node>,
    /// `http {}`.
    pub http: Option<&'a Node>,
    /// Servers in order.
    pub servers: Vec<Srv<'a>>,
    /// Every location, nested ones included, in file order.
    pub locs: Vec<Loc<'a>>,
    /// `upstream {}` blocks.
    pub upstreams: Vec<&'a Node>,
}

impl<'a> Model<'a> {
    /// Builds the model of a read config.
    pub fn new(main: &'a [Node]) -> Model<'a> {
        let find = |n: &str| main.iter().find(|d| d.name == n && d.block.is_some());
        let http = find("http");
        let mut m = Model {
            main,
            events: find("events"),
            http,
            servers: Vec::new(),
            locs: Vec::new(),
            upstreams: Vec::new(),
        };
        let Some(http) = http else { return m };
        for c in http.children() {
            match (c.name.as_str(), c.block.is_some()) {
                ("upstream", true) => m.upstreams.push(c),
                ("server", true) => {
                    let idx = m.servers.len();
                    m.servers.push(server(c));
                    locations(c, &[http, c], idx, &mut m.locs);
                }
                _ => {}
            }
        }
        m
    }

    /// The `upstream NAME {}` block, if any.
    pub fn upstream(&self, name: &str) -> Option<&'a Node> {
        self.upstreams.iter().copied().find(|u| u.arg0() == name)
    }

    /// The upstream block a location's `proxy_pass` names, if any.
    pub fn upstream_of(&self, loc: &Loc<'a>) -> Option<&'a Node> {
        let t = target(loc.proxy_pass()?.arg0())?;
        if t.port.is_some() {
            return None;
        }
        self.upstream(&t.host)
    }

    /// Main-level directive.
    pub fn main_value(&self, name: &str) -> Option<&'a Node> {
        self.main.iter().rfind(|d| d.name == name)
    }

    /// How many worker processes nginx starts: `worker_processes N`, `auto` = the CPUs
    /// online on this machine (what nginx 1.22 reads, `sysconf(_SC_NPROCESSORS_ONLN)`),
    /// 1 when unset.
    pub fn worker_processes(&self) -> u64 {
        workers(
            self.main_value("worker_processes").map(Node::arg0),
            crate::run::os::cpus_online(),
        )
    }
}

/// `worker_processes` as written (None: unset) with `ncpu` CPUs.
pub fn workers(arg: Option<&str>, ncpu: u64) -> u64 {
    match arg {
        Some("auto") => ncpu.max(1),
        Some(n) => n.parse::<u64>().map_or(1, |n| n.max(1)),
        None => 1,
    }
}

fn server(c: &Node) -> Srv<'_> {
    let mut listens: Vec<Listen> = level(c, "listen").into_iter().map(listen).collect();
    if listens.is_empty() {
        listens.push(Listen {
            port: 80,
            ssl: false,
            http2: false,
            default: false,
            v6: false,
            unix: None,
            node: None,
        });
    }
    let names = level(c, "server_name")
        .iter()
        .flat_map(|n| n.args.clone())
        .collect();
    Srv {
        node: c,
        listens,
        names,
    }
}

/// Parses a `listen` directive.
pub fn listen(n: &Node) -> Listen {
    let a = n.arg0();
    let flag = |f: &str| n.args.iter().skip(1).any(|x| x == f);
    let unix = a.strip_prefix("unix:").map(str::to_string);
    let port = if unix.is_some() {
        0
    } else if let Some(rest) = a.strip_prefix('[') {
        rest.rsplit_once("]:")
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(80)
    } else if let Some((_, p)) = a.rsplit_once(':') {
        p.parse().unwrap_or(80)
    } else {
        a.parse().unwrap_or(80)
    };
    Listen {
        port,
        ssl: flag("ssl"),
        http2: flag("http2"),
        default: flag("default_server") || flag("default"),
        v6: a.starts_with('['),
        unix,
        node: Some(n.clone()),
    }
}

fn locations<'a>(block: &'a Node, chain: &[&'a Node], server: usize, out: &mut Vec<Loc<'a>>) {
    for c in block.children() {
        if c.name != "location" || c.block.is_none() {
            continue;
        }
        let (kind, path) = match c.args.as_slice() {
            [m, p] => (
                match m.as_str() {
                    "=" => Match::Exact,
                    "^~" => Match::NoRegex,
                    "~" => Match::Regex,
                    _ => Match::RegexCi,
                },
                p.clone(),
            ),
            [p] if p.starts_with('@') => (Match::Named, p.clone()),
            [p] => (Match::Prefix, p.clone()),
            _ => continue,
        };
        let mut ch = chain.to_vec();
        ch.push(c);
        out.push(Loc {
            server,
            node: c,
            chain: ch.clone(),
            kind,
            path,
        });
        locations(c, &ch, server, out);
    }
}

/// A parsed `proxy_pass` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` / `https`.
    pub scheme: String,
    /// Host, upstream name or `unix:/path`.
    pub host: String,
    /// Port when written.
    pub port: Option<u16>,
    /// URI part (`/` in `http://app/`).
    pub uri: Option<String>,
}

/// Parses `http://host[:port][/uri]` (None for variables or other schemes).
pub fn target(url: &str) -> Option<Target> {
    let (scheme, rest) = url.split_once("://")?;
    if url.contains('$') {
        return None;
    }
    if let Some(sock) = rest.strip_prefix("unix:") {
        let (path, uri) = match sock.split_once(':') {
            Some((p, u)) => (p, Some(u.to_string())),
            None => (sock, None),
        };
        return Some(Target {
            scheme: scheme.into(),
            host: format!("unix:{path}"),
            port: None,
            uri,
        });
    }
    let (hostport, uri) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_string())),
        None => (rest, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            (h.to_string(), p.parse().ok())
        }
        _ => (hostport.to_string(), None),
    };
    Some(Target {
        scheme: scheme.into(),
        host,
        port,
        uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, args: &[&str]) -> Node {
        Node {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            file: "t.conf".into(),
            line: 1,
            block: None,
        }
    }

    #[test]
    fn listen_forms() {
        let l = listen(&node("listen", &["443", "ssl", "http2"]));
        assert_eq!((l.port, l.ssl, l.http2, l.v6), (443, true, true, false));
        let l = listen(&node("listen", &["[::]:443", "ssl", "default_server"]));
        assert_eq!((l.port, l.v6, l.default), (443, true, true));
        assert_eq!(listen(&node("listen", &["10.0.0.1:8080"])).port, 8080);
        assert_eq!(listen(&node("listen", &["*:80"])).port, 80);
        assert!(
            listen(&node("listen", &["unix:/run/x.sock"]))
                .unix
                .is_some()
        );
    }

    #[test]
    fn worker_processes_auto_is_the_cpus_online() {
        assert_eq!(workers(Some("auto"), 2), 2);
        assert_eq!(workers(Some("auto"), 8), 8);
        assert_eq!(workers(Some("4"), 2), 4);
        assert_eq!(workers(None, 8), 1);
        let main = [node("worker_processes", &["auto"])];
        let m = Model::new(&main);
        assert_eq!(m.worker_processes(), crate::run::os::cpus_online());
        assert!(crate::run::os::cpus_online() >= 1);
        let main = [node("worker_processes", &["3"])];
        assert_eq!(Model::new(&main).worker_processes(), 3);
        assert_eq!(Model::new(&[]).worker_processes(), 1);
    }

    #[test]
    fn proxy_pass_targets() {
        let t = target("http://uvicorn_servers").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.uri),
            ("uvicorn_servers", None, None)
        );
        let t = target("http://billing.internal:9000/v1/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.uri.as_deref()),
            ("billing.internal", Some(9000), Some("/v1/"))
        );
        let t = target("http://unix:/run/app.sock:/api/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.uri.as_deref()),
            ("unix:/run/app.sock", Some("/api/"))
        );
        assert!(target("http://$backend").is_none());
    }
}
