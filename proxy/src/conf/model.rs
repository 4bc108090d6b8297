//! Typed configuration after validation: what the runtime reads. Built once per (re)load and
//! shared read-only (`Arc`), with every inherited value already merged.

use crate::http::status::Status;
pub use crate::logs::{LogEscape, LogLevel};
use crate::vars::Template;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The whole validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The main config file.
    pub file: PathBuf,
    /// Prefix for relative paths (logs, root), nginx's `-p`.
    pub prefix: PathBuf,
    /// `worker_processes` (default 1; `auto` = number of CPUs).
    pub worker_processes: usize,
    /// `worker_connections` (default 512).
    pub worker_connections: usize,
    /// Main-level `error_log` (file path or `stderr`), and its level.
    pub error_log: Option<(String, LogLevel)>,
    /// The `http {}` block.
    pub http: Http,
}

/// The `http {}` block.
#[derive(Debug, Default)]
pub struct Http {
    /// Servers in config order.
    pub servers: Vec<Arc<Server>>,
    /// Listen sockets with the servers on each (first = default unless `default_server`).
    pub listens: Vec<ListenSocket>,
    /// Upstream groups, explicit (`upstream {}`) and implicit (`proxy_pass http://ip:port`).
    pub upstreams: Vec<Arc<Upstream>>,
    /// `limit_req_zone` definitions in config order.
    pub limit_req_zones: Vec<LimitReqZone>,
    /// `map` blocks.
    pub maps: Vec<Arc<MapBlock>>,
    /// `match {}` blocks for health checks (nginx Plus).
    pub matches: Vec<Arc<super::health::MatchBlock>>,
    /// `proxy_cache_path` zones.
    pub cache_paths: Vec<Arc<super::cache::CachePath>>,
    /// `http2_recv_buffer_size` (None: nginx's default, 256k): the worker's HTTP/2 read
    /// buffer, so the most one read from an HTTP/2 client takes (less 32 bytes).
    pub http2_recv_buffer_size: Option<usize>,
}

/// One listening address and the servers on it.
#[derive(Debug, Clone)]
pub struct ListenSocket {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Indices into [`Http::servers`].
    pub servers: Vec<usize>,
    /// Index into [`Http::servers`] of the default server.
    pub default_server: usize,
    /// `ssl` on this listen.
    pub ssl: bool,
    /// `http2` on this listen.
    pub http2: bool,
}

/// A `server_name` entry.
#[derive(Debug, Clone)]
pub enum ServerName {
    /// Exact name, lowercased.
    Exact(String),
    /// `*.example.com` (stored as `.example.com`); `.example.com` also adds the exact form.
    WildHead(String),
    /// `www.example.*` (stored as `www.example.`).
    WildTail(String),
    /// `~regex`.
    Regex(regex::Regex),
}

/// A `server {}` block.
#[derive(Debug)]
pub struct Server {
    /// `server_name` entries in order.
    pub names: Vec<ServerName>,
    /// The first name (`$server_name`), "" when none.
    pub first_name: String,
    /// `client_header_timeout` (default 60s).
    pub client_header_timeout: Duration,
    /// `client_header_buffer_size` (default 1k).
    pub client_header_buffer_size: usize,
    /// `large_client_header_buffers` number and size (default 4 8k).
    pub large_header_buffers: (usize, usize),
    /// `underscores_in_headers` (default off).
    pub underscores_in_headers: bool,
    /// `ignore_invalid_headers` (default on).
    pub ignore_invalid_headers: bool,
    /// `merge_slashes` (default on).
    pub merge_slashes: bool,
    /// `http2_max_concurrent_streams` (default 128): streams an HTTP/2 connection whose
    /// server this is may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// Server-level `return` (SERVER_REWRITE phase).
    pub ret: Option<Return>,
    /// The server's own location settings (used when no location matches).
    pub base: Arc<Loc>,
    /// Top-level locations.
    pub locations: LocationTree,
    /// Named locations (`@name`).
    pub named: Vec<(String, Arc<Loc>)>,
    /// `ssl_certificate` / `ssl_certificate_key` (part 2).
    pub ssl_cert: Option<(PathBuf, PathBuf)>,
    /// `ssl_protocols` (default TLSv1 TLSv1.1 TLSv1.2, as 1.22).
    pub ssl_protocols: Vec<String>,
}

/// Locations at one nesting level, split for nginx's matching order.
#[derive(Debug, Default)]
pub struct LocationTree {
    /// Exact (`=`) locations.
    pub exact: Vec<(String, Arc<Location>)>,
    /// Prefix and `^~` locations sorted by name length, longest first.
    pub prefix: Vec<Arc<Location>>,
    /// Regex locations in config order.
    pub regex: Vec<Arc<Location>>,
}

impl LocationTree {
    /// Every location of the tree, each followed by its nested ones (at each level: exact,
    /// prefix, then regex locations): the one walk of the whole tree for config checks and
    /// for what is gathered from all locations (logs, health checks).
    pub fn all(&self) -> Vec<&Location> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Location>) {
        let level = self.exact.iter().map(|(_, l)| l);
        for l in level.chain(&self.prefix).chain(&self.regex) {
            out.push(l);
            l.children.collect(out);
        }
    }
}

/// How a location matches.
#[derive(Debug)]
pub enum LocKind {
    /// `= /x`.
    Exact,
    /// `/x`.
    Prefix,
    /// `^~ /x`.
    NoRegex,
    /// `~` or `~*` (compiled with case-insensitivity for `~*`).
    Regex(regex::Regex),
    /// `@name`.
    Named,
}

/// A `location {}` block.
#[derive(Debug)]
pub struct Location {
    /// The name as written (prefix, exact string, regex source, or `@name`).
    pub name: String,
    /// Match kind.
    pub kind: LocKind,
    /// Merged settings.
    pub conf: Arc<Loc>,
    /// Nested locations.
    pub children: LocationTree,
    /// Prefix ends in `/` and the handler is proxy_pass: nginx's 301 for the slash-less URI.
    pub auto_redirect: bool,
}

/// `return CODE [TEXT|URL]` or `return URL`.
#[derive(Debug, Clone)]
pub struct Return {
    /// Status (0..999).
    pub status: Status,
    /// Body text (for non-redirect codes) or Location (301/302/303/307/308).
    pub text: Option<Template>,
}

/// What produces the response of a location.
#[derive(Debug, Clone, Default)]
pub enum Handler {
    /// No content handler: static files from `root` (or 404 when absent).
    #[default]
    Static,
    /// `proxy_pass`.
    Proxy(ProxyPass),
    /// `stub_status`.
    StubStatus,
    /// `proxylab_status` (Prometheus text).
    ProxylabStatus,
    /// `proxylab_cache_status` (proxy_cache counters, stub_status-style text).
    ProxylabCacheStatus,
}

/// A parsed `proxy_pass URL`.
#[derive(Debug, Clone)]
pub struct ProxyPass {
    /// Index into [`Http::upstreams`].
    pub upstream: usize,
    /// `http` or `https`.
    pub https: bool,
    /// URI part of the URL (`Some("/")` for `http://u/`), replacing the location prefix.
    pub uri: Option<String>,
    /// `$proxy_host` value: upstream name, or `host:port` (port omitted when 80).
    pub proxy_host: String,
    /// `$proxy_port`.
    pub proxy_port: u16,
}

/// `allow`/`deny` rule.
#[derive(Debug, Clone)]
pub struct AccessRule {
    /// true = allow.
    pub allow: bool,
    /// None = `all`; else network and prefix length.
    pub net: Option<(IpAddr, u8)>,
}

impl AccessRule {
    /// Whether `ip` matches this rule.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let Some((net, bits)) = self.net else {
            return true;
        };
        match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// One `access_log` target.
#[derive(Debug, Clone)]
pub struct AccessLog {
    /// File path (relative paths resolved against the prefix) or `stderr`/`stdout`... as given.
    pub path: PathBuf,
    /// The log format.
    pub format: Arc<LogFormat>,
    /// `buffer=SIZE` in bytes.
    pub buffer: Option<usize>,
    /// `flush=TIME`.
    pub flush: Option<Duration>,
}

/// A `log_format` (escape=default).
#[derive(Debug)]
pub struct LogFormat {
    /// Name.
    pub name: String,
    /// Compiled format.
    pub template: Template,
    /// `escape=json` / `none` / default.
    pub escape: LogEscape,
}

/// `limit_req zone=NAME [burst=N] [nodelay|delay=N]` in a location.
#[derive(Debug, Clone)]
pub struct LimitReqRef {
    /// Index into [`Http::limit_req_zones`].
    pub zone: usize,
    /// `burst` (default 0).
    pub burst: u64,
    /// `delay` (default 0; `nodelay` = u64::MAX).
    pub delay: u64,
}

/// `limit_req_zone KEY zone=NAME:SIZE rate=R`.
#[derive(Debug, Clone)]
pub struct LimitReqZone {
    /// Zone name.
    pub name: String,
    /// Key template.
    pub key: Template,
    /// Size in bytes.
    pub size: u64,
    /// Rate in milli-requests per second.
    pub rate_m: u64,
}

/// `add_header NAME VALUE [always]`.
#[derive(Debug, Clone)]
pub struct AddHeader {
    /// Header name.
    pub name: String,
    /// Value template.
    pub value: Template,
    /// `always`.
    pub always: bool,
}

/// `map $src $dst { ... }`.
#[derive(Debug)]
pub struct MapBlock {
    /// Source template.
    pub source: Template,
    /// Defined variable name.
    pub var: String,
    /// Exact entries (lowercase keys unless `hostnames`, nginx compares case-insensitively).
    pub exact: Vec<(Vec<u8>, Template)>,
    /// Regex entries in order.
    pub regex: Vec<(regex::bytes::Regex, Template)>,
    /// `default` value (empty when absent).
    pub default: Template,
}

/// Settings of one location level after inheritance (http → server → location → nested).
#[derive(Debug, Clone)]
pub struct Loc {
    /// Location name (for logs).
    pub name: String,
    /// `client_max_body_size` in bytes (default 1m; 0 = unlimited).
    pub client_max_body_size: u64,
    /// `client_body_buffer_size` (default 8k).
    pub client_body_buffer_size: u64,
    /// `client_body_timeout` (default 60s).
    pub client_body_timeout: Duration,
    /// `client_body_temp_path`, `client_body_in_file_only`, `lingering_*`.
    pub body: Arc<crate::conf::body::BodyConf>,
    /// `send_timeout` (default 60s).
    pub send_timeout: Duration,
    /// `keepalive_timeout` (default 75s) and optional header value.
    pub keepalive_timeout: (Duration, Option<Duration>),
    /// `keepalive_requests` (default 1000).
    pub keepalive_requests: u64,
    /// `keepalive_time` (default 1h).
    pub keepalive_time: Duration,
    /// `server_tokens` (default on).
    pub server_tokens: bool,
    /// Location-level `return` (REWRITE phase).
    pub ret: Option<Return>,
    /// Content handler.
    pub handler: Handler,
    /// Proxy settings.
    pub proxy: Arc<ProxyConf>,
    /// `allow`/`deny` rules in order.
    pub access: Arc<[AccessRule]>,
    /// `access_log` targets; empty = off.
    pub access_logs: Arc<[Arc<AccessLog>]>,
    /// `limit_req` entries.
    pub limit_req: Arc<[LimitReqRef]>,
    /// `limit_req_status` (default 503).
    pub limit_req_status: Status,
    /// `limit_req_log_level` (default error).
    pub limit_req_log_level: LogLevel,
    /// `limit_req_dry_run` (default off).
    pub limit_req_dry_run: bool,
    /// `root` (default `html`) or `alias`: (path, is_alias).
    pub root: (PathBuf, bool),
    /// `index` (default `index.html`).
    pub index: Arc<[String]>,
    /// `add_header` entries.
    pub add_headers: Arc<[AddHeader]>,
    /// `default_type` (default text/plain).
    pub default_type: String,
    /// `types {}` map: lowercase extension → MIME type (nginx's built-in html/gif/jpg when
    /// no `types` block applies).
    pub types: Arc<std::collections::HashMap<String, String>>,
    /// `absolute_redirect` (default on).
    pub absolute_redirect: bool,
    /// `port_in_redirect` (default on).
    pub port_in_redirect: bool,
    /// `error_log` override for this level.
    pub error_log: Option<(String, LogLevel)>,
    /// `health_check` parameters (nginx Plus; part 2).
    pub health_check: Option<Vec<String>>,
    /// Static-file settings (root/alias, index, types, expires) for the static handler.
    pub static_conf: Arc<crate::static_files::StaticConf>,
    /// `gzip*` settings.
    pub gzip: Arc<crate::conf::gzip::GzipConf>,
}

/// proxy_* settings of a location.
#[derive(Debug, Clone)]
pub struct ProxyConf {
    /// `proxy_set_header` entries in config order (inherited as a whole).
    pub set_headers: Vec<(String, Template)>,
    /// `proxy_http_version` 1.1 (default 1.0).
    pub http11: bool,
    /// `proxy_connect_timeout` (60s).
    pub connect_timeout: Duration,
    /// `proxy_read_timeout` (60s).
    pub read_timeout: Duration,
    /// `proxy_send_timeout` (60s).
    pub send_timeout: Duration,
    /// `proxy_next_upstream` bits ([`next_upstream`]); default error|timeout.
    pub next_upstream: u32,
    /// `proxy_next_upstream_tries` (0 = unlimited).
    pub next_upstream_tries: u32,
    /// `proxy_next_upstream_timeout` (0 = none).
    pub next_upstream_timeout: Duration,
    /// `proxy_buffering` (on).
    pub buffering: bool,
    /// `proxy_request_buffering` (on).
    pub request_buffering: bool,
    /// `proxy_buffer_size` (4k): the upstream response header limit.
    pub buffer_size: usize,
    /// `proxy_buffers` (8 4k).
    pub buffers: (usize, usize),
    /// `proxy_busy_buffers_size` (2 × max(buffer_size, buffers.1)).
    pub busy_buffers_size: usize,
    /// `proxy_max_temp_file_size` (1024m): the most bytes one response writes to its
    /// temporary file (the file only grows; 0: no file).
    pub max_temp_file_size: u64,
    /// `proxy_temp_file_write_size` (2 × max(buffer_size, buffers.1)): the most bytes written
    /// to the temporary file at a time.
    pub temp_file_write_size: usize,
    /// `proxy_temp_path` (default `proxy_temp` under the prefix, levels 1:2): where buffered
    /// responses that do not fit `proxy_buffers` spill.
    pub temp_path: crate::conf::body::TempPath,
    /// Extra `proxy_hide_header` names (lowercase).
    pub hide_headers: Vec<String>,
    /// `proxy_pass_header` names (lowercase) un-hiding defaults.
    pub pass_headers: Vec<String>,
    /// `proxy_intercept_errors` (off).
    pub intercept_errors: bool,
    /// `proxy_pass_request_body` (on).
    pub pass_request_body: bool,
    /// `proxy_pass_request_headers` (on).
    pub pass_request_headers: bool,
    /// `proxy_ignore_client_abort` (off).
    pub ignore_client_abort: bool,
    /// `proxy_cache` and its settings (None: off).
    pub cache: Option<Arc<super::cache::CacheLoc>>,
}

/// `proxy_next_upstream` bits.
pub mod next_upstream {
    /// `error`.
    pub const ERROR: u32 = 0x2;
    /// `timeout`.
    pub const TIMEOUT: u32 = 0x4;
    /// `invalid_header`.
    pub const INVALID_HEADER: u32 = 0x8;
    /// `http_500`.
    pub const HTTP_500: u32 = 0x10;
    /// `http_502`.
    pub const HTTP_502: u32 = 0x20;
    /// `http_503`.
    pub const HTTP_503: u32 = 0x40;
    /// `http_504`.
    pub const HTTP_504: u32 = 0x80;
    /// `http_403`.
    pub const HTTP_403: u32 = 0x100;
    /// `http_404`.
    pub const HTTP_404: u32 = 0x200;
    /// `http_429`.
    pub const HTTP_429: u32 = 0x400;
    /// `non_idempotent`.
    pub const NON_IDEMPOTENT: u32 = 0x4000;
    /// `off`.
    pub const OFF: u32 = 0x8000_0000;

    /// A `proxy_next_upstream` value name → its bit (`proxy_cache_use_stale` shares the
    /// condition names).
    pub fn bit(v: &str) -> Option<u32> {
        Some(match v {
            "error" => ERROR,
            "timeout" => TIMEOUT,
            "invalid_header" => INVALID_HEADER,
            "http_500" => HTTP_500,
            "http_502" => HTTP_502,
            "http_503" => HTTP_503,
            "http_504" => HTTP_504,
            "http_403" => HTTP_403,
            "http_404" => HTTP_404,
            "http_429" => HTTP_429,
            "non_idempotent" => NON_IDEMPOTENT,
            "off" => OFF,
            _ => return None,
        })
    }

    /// The `http_*` bit that names `status` (0 for a status no condition names).
    pub fn of_status(status: super::Status) -> u32 {
        match status.code() {
            500 => HTTP_500,
            502 => HTTP_502,
            503 => HTTP_503,
            504 => HTTP_504,
            403 => HTTP_403,
            404 => HTTP_404,
            429 => HTTP_429,
            _ => 0,
        }
    }
}

/// Balancing method of an upstream group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Smooth weighted round robin (default).
    RoundRobin,
    /// `least_conn`.
    LeastConn,
    /// `ip_hash`.
    IpHash,
    /// `hash KEY [consistent]`.
    Hash {
        /// Key template.
        key: Template,
        /// `consistent` (ketama).
        consistent: bool,
    },
    /// `random [two [least_conn]]`.
    Random {
        /// `two`.
        two: bool,
    },
}

/// A `server` line of an upstream (after name resolution: one entry per address).
#[derive(Debug, Clone)]
pub struct UpstreamServer {
    /// Resolved address.
    pub addr: SocketAddr,
    /// The line's parameters as the balancer takes them (the one model of an upstream
    /// server: `address` is the text as written, which consistent hash and logs use; weight,
    /// max_fails, fail_timeout, backup, down, max_conns with nginx's defaults).
    pub spec: crate::balance::ServerSpec,
}

/// An upstream group.
#[derive(Debug)]
pub struct Upstream {
    /// Name (`upstream NAME` or `host:port` for implicit ones).
    pub name: String,
    /// Whether it came from an `upstream {}` block.
    pub explicit: bool,
    /// Servers, one entry per resolved address.
    pub servers: Vec<UpstreamServer>,
    /// Method.
    pub method: Method,
    /// `keepalive N` idle connections cached (None = off, the 1.22 default).
    pub keepalive: Option<usize>,
    /// Upstream `keepalive_timeout` (60s).
    pub keepalive_timeout: Duration,
    /// Upstream `keepalive_requests` (1000).
    pub keepalive_requests: u64,
    /// Upstream `keepalive_time` (1h).
    pub keepalive_time: Duration,
    /// `zone NAME [SIZE]`.
    pub zone: Option<String>,
    /// `health_check` parameters given inside the upstream block (nginx Plus syntax).
    pub health_check: Option<Vec<String>>,
}
