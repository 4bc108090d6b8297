//! The live state built from one validated config: routing tables per listen socket, upstream
//! groups (the `balance` module) with per-worker keepalive pools ([`pool`]), access-log
//! writers, and limit_req zones. A reload builds a new [`Live`] and swaps it in; [`shared`]
//! holds the swap and the counters every worker shares. This layer sits under the request
//! path: it knows the config and the balancer, not requests.

pub mod pool;
pub mod shared;
#[cfg(test)]
mod tests;
mod worker;

pub use shared::{Gauge, Shared, Stats};
pub use worker::{set_worker_index, worker_index};

use crate::balance::{self, PeerAddr, ResolvedServer};
use crate::conf::Config;
use crate::conf::model::{ListenSocket, Method, ServerName, Upstream};
use crate::logs::{AccessWriter, ErrorLog};
use pool::Pool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Name lookup for one listen socket.
#[derive(Debug)]
pub struct Route {
    /// Listen address.
    pub addr: SocketAddr,
    /// Exact names → server index (FNV: looked up for every request, with short keys).
    pub exact: fnv::FnvHashMap<Vec<u8>, usize>,
    /// `*.example.com` as (".example.com", server), longest first.
    pub wild_head: Vec<(Vec<u8>, usize)>,
    /// `www.example.*` as ("www.example.", server), longest first.
    pub wild_tail: Vec<(Vec<u8>, usize)>,
    /// Regex names in order.
    pub regex: Vec<(regex::bytes::Regex, usize)>,
    /// Default server index.
    pub default: usize,
    /// The servers here differ in `underscores_in_headers` or `ignore_invalid_headers` (an
    /// HTTP/2 request's fields are then checked with the rules of the server it names).
    pub header_rules_differ: bool,
}

impl Route {
    fn build(ls: &ListenSocket, cfg: &Config) -> Route {
        let mut r = Route {
            addr: ls.addr,
            exact: fnv::FnvHashMap::default(),
            wild_head: Vec::new(),
            wild_tail: Vec::new(),
            regex: Vec::new(),
            default: ls.default_server,
            header_rules_differ: false,
        };
        let rules = |si: usize| {
            let s = &cfg.http.servers[si];
            (s.underscores_in_headers, s.ignore_invalid_headers)
        };
        r.header_rules_differ = ls
            .servers
            .iter()
            .any(|&si| rules(si) != rules(ls.default_server));
        for &si in &ls.servers {
            for n in &cfg.http.servers[si].names {
                match n {
                    ServerName::Exact(s) => {
                        r.exact.entry(s.as_bytes().to_vec()).or_insert(si);
                    }
                    ServerName::WildHead(s) => r.wild_head.push((s.as_bytes().to_vec(), si)),
                    ServerName::WildTail(s) => r.wild_tail.push((s.as_bytes().to_vec(), si)),
                    ServerName::Regex(re) => {
                        if let Ok(b) = regex::bytes::RegexBuilder::new(re.as_str())
                            .case_insensitive(true)
                            .build()
                        {
                            r.regex.push((b, si));
                        }
                    }
                }
            }
        }
        r.wild_head.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        r.wild_tail.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        r
    }

    /// The server that reads a request before its Host is known (nginx's `hc->conf_ctx`):
    /// the one the TLS client named in SNI (`sni` lowercase, without a trailing dot), else
    /// the default server. Its `merge_slashes`, header buffers and header timeout apply.
    pub fn first(&self, sni: Option<&str>) -> usize {
        self.select(sni.map(str::as_bytes))
    }

    /// nginx's virtual server choice: exact, leading wildcard, trailing wildcard, regex,
    /// default.
    pub fn select(&self, host: Option<&[u8]>) -> usize {
        let Some(h) = host else { return self.default };
        if let Some(&i) = self.exact.get(h) {
            return i;
        }
        for (suffix, i) in &self.wild_head {
            if h.len() > suffix.len() && h.ends_with(suffix) {
                return *i;
            }
        }
        for (prefix, i) in &self.wild_tail {
            if h.len() > prefix.len() && h.starts_with(prefix) {
                return *i;
            }
        }
        for (re, i) in &self.regex {
            if re.is_match(h) {
                return *i;
            }
        }
        self.default
    }
}

/// Runtime side of an upstream group.
#[derive(Debug)]
pub struct UpstreamRt {
    /// The config block.
    pub conf: Arc<Upstream>,
    /// Balancer and peer state: one shared by every worker when the block has a `zone`
    /// (nginx keeps it in shared memory), else one per worker (nginx's workers each keep
    /// their own round-robin position and `max_fails` counters).
    pub groups: Vec<Arc<balance::Upstream>>,
    /// Keepalive pools, one per worker (nginx caches per worker process).
    pub pools: Vec<Pool>,
}

impl UpstreamRt {
    /// The balancer state the current worker uses.
    pub fn group(&self) -> &Arc<balance::Upstream> {
        &self.groups[worker_index() % self.groups.len()]
    }

    /// Every worker's view of the group as one snapshot (metrics, status pages).
    pub fn snapshot(&self, now: Instant) -> balance::UpstreamSnapshot {
        let parts = self.groups.iter().map(|g| g.snapshot(now)).collect();
        balance::UpstreamSnapshot::merge(parts).unwrap_or_else(|| balance::UpstreamSnapshot {
            name: self.conf.name.clone(),
            peers: Vec::new(),
        })
    }
}

/// Everything a request needs from one config generation.
#[derive(Debug)]
pub struct Live {
    /// The validated config.
    pub config: Arc<Config>,
    /// Routes by listen address.
    pub routes: Vec<Route>,
    /// Upstream groups, same order as `config.http.upstreams`.
    pub upstreams: Vec<UpstreamRt>,
    /// Access-log writers keyed by the address of the `AccessLog` config entry.
    pub access: HashMap<usize, Arc<AccessWriter>>,
    /// Every writer once (for flush timers).
    pub writers: Vec<Arc<AccessWriter>>,
    /// The error log.
    pub error_log: Arc<ErrorLog>,
    /// limit_req zones, same order as `config.http.limit_req_zones`.
    pub zones: Vec<Arc<crate::limit_req::Zone>>,
    /// Generation number (1 = first load).
    pub generation: u64,
    /// Plain listen addresses with `http2` (prior-knowledge h2c, as nginx 1.22).
    pub h2c: std::collections::HashSet<SocketAddr>,
    /// TLS acceptors by bound listen address (`listen … ssl`).
    pub tls: HashMap<SocketAddr, Arc<rustls::ServerConfig>>,
    /// proxy_cache zones, same order as `config.http.cache_paths`.
    pub caches: Vec<Arc<crate::cache::Zone>>,
}

fn method(m: &Method) -> balance::Method {
    match m {
        Method::RoundRobin => balance::Method::RoundRobin,
        Method::LeastConn => balance::Method::LeastConn,
        Method::IpHash => balance::Method::IpHash,
        Method::Hash { consistent, .. } => balance::Method::Hash {
            key: String::new(),
            consistent: *consistent,
        },
        Method::Random { two } => balance::Method::Random { two: *two },
    }
}

impl Live {
    /// Builds the live state; opens log files (errors are nginx's `open() ... failed`).
    pub fn build(
        config: Arc<Config>,
        workers: usize,
        generation: u64,
        epoch: Instant,
    ) -> Result<Live, String> {
        let routes = config
            .http
            .listens
            .iter()
            .map(|l| Route::build(l, &config))
            .collect();
        let upstreams = upstream_groups(&config, workers, epoch)?;
        let error_log = Arc::new(error_log(&config));
        let (access, writers) = access_writers(&config)?;
        let zones = config
            .http
            .limit_req_zones
            .iter()
            .map(|z| {
                Arc::new(crate::limit_req::Zone::new(
                    z.name.clone(),
                    z.size,
                    crate::limit_req::Rate(z.rate_m),
                ))
            })
            .collect();
        let tls = build_tls(&config)?;
        let caches = config
            .http
            .cache_paths
            .iter()
            .map(crate::cache::open_zone)
            .collect::<Result<Vec<_>, _>>()?;
        crate::cache::start_manager(&caches);
        let h2c = config
            .http
            .listens
            .iter()
            .filter(|l| l.http2 && !l.ssl)
            .map(|l| l.addr)
            .collect();
        Ok(Live {
            caches,
            h2c,
            tls,
            config,
            routes,
            upstreams,
            access,
            writers,
            error_log,
            zones,
            generation,
        })
    }

    /// The route for a connection accepted on `local` (exact address, else wildcard port).
    pub fn route(&self, local: SocketAddr) -> Option<&Route> {
        self.routes.iter().find(|r| r.addr == local).or_else(|| {
            self.routes
                .iter()
                .find(|r| r.addr.ip().is_unspecified() && r.addr.port() == local.port())
        })
    }
}

/// One rustls configuration per `listen … ssl` socket: SNI across the socket's servers that
/// have certificates, the default server's `ssl_protocols`, ALPN `h2` when the listen has
/// `http2`.
fn build_tls(config: &Config) -> Result<HashMap<SocketAddr, Arc<rustls::ServerConfig>>, String> {
    use crate::tls::{ListenerTls, Protocols, SniServer, load_certified_key, server_config};
    let mut out = HashMap::new();
    for ls in config.http.listens.iter().filter(|l| l.ssl) {
        let mut servers = Vec::new();
        let mut default_pos = 0;
        for &si in &ls.servers {
            let s = &config.http.servers[si];
            let Some((cert, key)) = &s.ssl_cert else {
                continue;
            };
            if si == ls.default_server {
                default_pos = servers.len();
            }
            let key = load_certified_key(cert, key).map_err(|e| e.to_string())?;
            let names = s
                .names
                .iter()
                .filter_map(|n| match n {
                    ServerName::Exact(x) => Some(x.clone()),
                    ServerName::WildHead(x) => Some(format!("*{x}")),
                    ServerName::WildTail(x) => Some(format!("{x}*")),
                    ServerName::Regex(_) => None,
                })
                .collect();
            servers.push(SniServer { names, key });
        }
        let d = &config.http.servers[ls.default_server];
        let protos: Vec<&str> = d.ssl_protocols.iter().map(String::as_str).collect();
        let l = ListenerTls {
            servers,
            default_server: default_pos,
            protocols: Protocols::parse(&protos).map_err(|e| e.to_string())?,
            http2: ls.http2,
            session_tickets: true,
            session_cache: None,
        };
        let cfg = server_config(&l).map_err(|e| e.to_string())?;
        out.insert(ls.addr, cfg);
    }
    Ok(out)
}

/// The runtime side of every upstream group: the balancer with its peers (shared with a
/// `zone`, one per worker without), and a keepalive pool per worker.
fn upstream_groups(
    config: &Config,
    workers: usize,
    epoch: Instant,
) -> Result<Vec<UpstreamRt>, String> {
    let mut upstreams = Vec::new();
    for u in &config.http.upstreams {
        let servers: Vec<ResolvedServer> = u
            .servers
            .iter()
            .map(|s| ResolvedServer {
                spec: s.spec.clone(),
                addrs: vec![PeerAddr::Inet(s.addr)],
            })
            .collect();
        let copies = if u.zone.is_some() { 1 } else { workers.max(1) };
        let groups = (0..copies)
            .map(|_| {
                balance::Upstream::new(u.name.clone(), method(&u.method), servers.clone(), epoch)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        upstreams.push(UpstreamRt {
            conf: u.clone(),
            groups,
            pools: (0..workers).map(|_| Pool::new(u)).collect(),
        });
    }
    Ok(upstreams)
}

/// The error log (`error_log` relative to the prefix; stderr at `error` when unset).
fn error_log(config: &Config) -> ErrorLog {
    match &config.error_log {
        Some((p, lvl)) => {
            let path = std::path::PathBuf::from(p);
            let path = if path.is_absolute() || p == "stderr" {
                path
            } else {
                config.prefix.join(path)
            };
            ErrorLog::open(Some(path), *lvl)
        }
        None => ErrorLog::open(None, crate::conf::model::LogLevel::Error),
    }
}

/// The access-log writers, one per file, keyed by the address of each `access_log` entry
/// (every location of every server is visited), and every writer once.
#[allow(clippy::type_complexity)]
fn access_writers(
    config: &Config,
) -> Result<(HashMap<usize, Arc<AccessWriter>>, Vec<Arc<AccessWriter>>), String> {
    let mut access = HashMap::new();
    let mut by_path: HashMap<std::path::PathBuf, Arc<AccessWriter>> = HashMap::new();
    let mut writers = Vec::new();
    let mut visit = |loc: &crate::conf::model::Loc| -> Result<(), String> {
        for l in loc.access_logs.iter() {
            let key = Arc::as_ptr(l) as usize;
            let w = match by_path.get(&l.path) {
                Some(w) => w.clone(),
                None => {
                    let w = Arc::new(
                        AccessWriter::open(&l.path, l.buffer.unwrap_or(0), l.flush)
                            .map_err(|e| format!("open() \"{}\" failed ({e})", l.path.display()))?,
                    );
                    by_path.insert(l.path.clone(), w.clone());
                    writers.push(w.clone());
                    w
                }
            };
            access.insert(key, w);
        }
        Ok(())
    };
    for s in &config.http.servers {
        visit(&s.base)?;
        for l in s.locations.all() {
            visit(&l.conf)?;
        }
        for (_, l) in &s.named {
            visit(l)?;
        }
    }
    Ok((access, writers))
}
