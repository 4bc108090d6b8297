//! Per-request context: what the phases decided so far and everything variables read
//! ([`VarSource`] for `$host`, `$request_uri`, `$upstream_addr`, …).

use crate::conf::model::{Loc, Server};
use crate::http::head::RequestHead;
use crate::http::status::Status;
use crate::live::Live;
use crate::vars::{Var, VarSource};
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Instant, SystemTime};

/// Facts about the client connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Client address.
    pub peer: SocketAddr,
    /// Local (server) address.
    pub local: SocketAddr,
    /// Connection serial number (`$connection`).
    pub id: u64,
    /// Requests on this connection including the current one.
    pub requests: u64,
    /// TLS connection.
    pub https: bool,
    /// When the connection was accepted (`keepalive_time`).
    pub started: Instant,
    /// The request came in over HTTP/2 (bridged into the HTTP/1.1 pipeline).
    pub h2: bool,
    /// The TLS client's SNI name, lowercase and without a trailing dot.
    pub sni: Option<std::sync::Arc<str>>,
}

/// One upstream try, for `$upstream_*`.
#[derive(Debug, Clone)]
pub struct UpTry {
    /// Peer name (`127.0.0.1:9001`) or the group name for "no live upstreams".
    pub addr: std::sync::Arc<str>,
    /// Status (502/504 for failed tries; [`Status::NONE`] for a try the client's close ended:
    /// `-`).
    pub status: Status,
    /// Response time of the try.
    pub time: std::time::Duration,
    /// Connect time, when connected.
    pub connect: Option<std::time::Duration>,
    /// Time to the response header, when one was read.
    pub header: Option<std::time::Duration>,
}

/// Upstream facts for the log (`$upstream_*`).
#[derive(Debug, Default)]
pub struct UpstreamLog {
    /// Tries in order.
    pub tries: Vec<UpTry>,
    /// The last upstream response head (`$upstream_http_*`).
    pub last_head: Option<crate::http::response::UpHead>,
    /// `$upstream_cache_status` (MISS, HIT, …), set by proxy_cache.
    pub cache_status: Option<&'static str>,
}

/// One request in progress.
pub struct Req<'a> {
    /// Connection facts.
    pub conn: &'a ConnInfo,
    /// The parsed head.
    pub head: &'a RequestHead,
    /// The chosen server.
    pub server: &'a Server,
    /// The chosen location settings.
    pub loc: &'a Loc,
    /// Live state (maps, zones).
    pub live: &'a Live,
    /// Normalized path (`$uri`): borrowed from the request line when it needed no change.
    pub uri: std::borrow::Cow<'a, [u8]>,
    /// Args range inside the target.
    pub args: Range<usize>,
    /// Monotonic start.
    pub start: Instant,
    /// Wall-clock start.
    pub start_time: SystemTime,
    /// Response status ([`Status::NONE`] before a response).
    pub status: Status,
    /// `$body_bytes_sent`.
    pub body_bytes_sent: u64,
    /// `$bytes_sent`.
    pub bytes_sent: u64,
    /// `$request_length`.
    pub request_length: u64,
    /// `$upstream_*`.
    pub up: UpstreamLog,
    /// `$gzip_ratio`: bytes into and out of the gzip filter (out with header and trailer),
    /// once the stream ended.
    pub gzip_ratio: Option<(u64, u64)>,
    /// `$proxy_host`.
    pub proxy_host: &'a str,
    /// `$proxy_port`.
    pub proxy_port: u16,
    /// `$limit_req_status`.
    pub limit_req_status: Option<&'static str>,
    /// Regex captures of the location match (byte ranges into `uri`).
    pub captures: Vec<Option<Range<usize>>>,
}

/// Appends `value` when there is one; says whether there was.
fn put(out: &mut Vec<u8>, value: Option<&[u8]>) -> bool {
    value.map(|v| out.extend_from_slice(v)).is_some()
}

/// The value of the first `name=value` among `pairs` (the name compared without case), as
/// `$arg_*` and `$cookie_*` find it.
fn pair_value<'p>(pairs: impl Iterator<Item = &'p [u8]>, name: &[u8]) -> Option<&'p [u8]> {
    pairs
        .filter(|p| p.len() > name.len() && p[name.len()] == b'=')
        .find(|p| p[..name.len()].eq_ignore_ascii_case(name))
        .map(|p| &p[name.len() + 1..])
}

fn push_num(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}

fn secs(out: &mut Vec<u8>, d: std::time::Duration) {
    use std::io::Write;
    let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
}

fn join(out: &mut Vec<u8>, v: &[UpTry], f: impl Fn(&UpTry, &mut Vec<u8>)) -> bool {
    if v.is_empty() {
        return false;
    }
    for (i, t) in v.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        f(t, out);
    }
    true
}

fn b64_user(v: &[u8]) -> Option<Vec<u8>> {
    let v = v.strip_prefix(b"Basic ")?;
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for &c in v.iter().take_while(|&&c| c != b'=') {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = bits << 6 | u32::from(d);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    let colon = out.iter().position(|&b| b == b':')?;
    out.truncate(colon);
    Some(out)
}

impl Req<'_> {
    /// The raw args (`$args`).
    pub fn args(&self) -> &[u8] {
        &self.head.target()[self.args.clone()]
    }

    /// `$host`.
    pub fn host(&self) -> &[u8] {
        match self.head.host() {
            Some(h) if !h.is_empty() => h,
            _ => self.server.first_name.as_bytes(),
        }
    }

    /// The values of the headers named `name` (lower case, `-` for `_`) joined by `sep` (the
    /// first only when `sep` is empty); `loose` also matches names with `_` for `-`, as
    /// nginx's variables for headers it does not keep apart do
    /// (`ngx_http_variable_unknown_header`).
    fn header_joined(&self, name: &[u8], sep: &[u8], loose: bool, out: &mut Vec<u8>) -> bool {
        let same = |a: &u8, b: &u8| {
            let a = a.to_ascii_lowercase();
            a == *b || (loose && a == b'_' && *b == b'-')
        };
        let mut found = false;
        for (n, v) in self.head.headers() {
            if n.len() == name.len() && n.iter().zip(name).all(|(a, b)| same(a, b)) {
                if found {
                    out.extend_from_slice(sep);
                }
                out.extend_from_slice(v);
                found = true;
                if sep.is_empty() {
                    break;
                }
            }
        }
        found
    }

    fn map_var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let Some(m) = self.live.config.http.maps.iter().find(|m| &*m.var == name) else {
            return false;
        };
        let key = m.source.render(self);
        let lower = key.to_ascii_lowercase();
        for (k, v) in &m.exact {
            if *k == lower {
                v.render_into(self, out);
                return true;
            }
        }
        for (re, v) in &m.regex {
            if re.is_match(&key) {
                v.render_into(self, out);
                return true;
            }
        }
        m.default.render_into(self, out);
        true
    }
}

impl VarSource for Req<'_> {
    fn append_var(&self, v: &Var, out: &mut Vec<u8>) -> bool {
        match v {
            Var::Host
            | Var::Hostname
            | Var::ServerName
            | Var::RequestUri
            | Var::Uri
            | Var::Args
            | Var::IsArgs
            | Var::Arg(_)
            | Var::Scheme
            | Var::Https
            | Var::RemoteUser
            | Var::Http(_)
            | Var::Cookie(_)
            | Var::RequestMethod
            | Var::Request
            | Var::ServerProtocol
            | Var::ContentLength
            | Var::ContentType => self.request_var(v, out),
            Var::RemoteAddr
            | Var::RemotePort
            | Var::BinaryRemoteAddr
            | Var::ProxyAddXForwardedFor
            | Var::ProxyHost
            | Var::ProxyPort
            | Var::ServerPort
            | Var::ServerAddr
            | Var::Connection
            | Var::ConnectionRequests => self.connection_var(v, out),
            Var::UpstreamHttp(_)
            | Var::UpstreamAddr
            | Var::UpstreamStatus
            | Var::UpstreamResponseTime
            | Var::UpstreamConnectTime
            | Var::UpstreamHeaderTime
            | Var::UpstreamCacheStatus => self.upstream_var(v, out),
            Var::SentHttp(_)
            | Var::Status
            | Var::TimeLocal
            | Var::TimeIso8601
            | Var::Msec
            | Var::BodyBytesSent
            | Var::BytesSent
            | Var::RequestLength
            | Var::RequestTime
            | Var::LimitReqStatus
            | Var::Pid
            | Var::NginxVersion
            | Var::RequestId => self.response_var(v, out),
            Var::GzipRatio => match self.gzip_ratio {
                Some((zin, zout)) if zout > 0 => {
                    out.extend_from_slice(crate::filter::gzip::ratio_text(zin, zout).as_bytes());
                    true
                }
                _ => false,
            },
            Var::Capture(n) => match self.captures.get(usize::from(*n)).cloned().flatten() {
                Some(r) => {
                    out.extend_from_slice(&self.uri[r]);
                    true
                }
                None => false,
            },
            Var::Custom(name) => self.map_var(name, out),
        }
    }
}

impl Req<'_> {
    /// Variables of the request line and headers (`$host`, `$uri`, `$http_*`, …).
    fn request_var(&self, v: &Var, out: &mut Vec<u8>) -> bool {
        match v {
            Var::Host => out.extend_from_slice(self.host()),
            Var::Hostname => out.extend_from_slice(hostname().as_bytes()),
            Var::ServerName => out.extend_from_slice(self.server.first_name.as_bytes()),
            Var::RequestUri => out.extend_from_slice(self.head.target()),
            Var::Uri => out.extend_from_slice(&self.uri),
            Var::Args => out.extend_from_slice(self.args()),
            Var::IsArgs => {
                if !self.args().is_empty() {
                    out.push(b'?');
                }
            }
            Var::Arg(name) => {
                return put(out, pair_value(self.args().split(|&b| b == b'&'), name));
            }
            Var::Scheme => out.extend_from_slice(if self.conn.https { b"https" } else { b"http" }),
            Var::Https => {
                if self.conn.https {
                    out.extend_from_slice(b"on");
                }
            }
            Var::RemoteUser => {
                let user = self.head.header(b"authorization").and_then(b64_user);
                return put(out, user.as_deref());
            }
            Var::Http(name) => {
                let sep: &[u8] = match &**name {
                    b"cookie" => b"; ",
                    b"x-forwarded-for" => b", ",
                    _ => b"",
                };
                // nginx finds these by their exact names (its `headers_in` fields); any
                // other header variable takes `_` for `-`.
                let loose = !matches!(
                    &**name,
                    b"host" | b"user-agent" | b"referer" | b"via" | b"x-forwarded-for" | b"cookie"
                );
                return self.header_joined(name, sep, loose, out);
            }
            Var::Cookie(name) => {
                let mut all = Vec::new();
                if !self.header_joined(b"cookie", b"; ", false, &mut all) {
                    return false;
                }
                let parts = all.split(|&b| b == b';').map(<[u8]>::trim_ascii_start);
                return put(out, pair_value(parts, name));
            }
            Var::RequestMethod => out.extend_from_slice(self.head.method()),
            Var::Request if self.conn.h2 => {
                out.extend_from_slice(self.head.method());
                out.push(b' ');
                out.extend_from_slice(self.head.target());
                out.extend_from_slice(b" HTTP/2.0");
            }
            Var::Request => out.extend_from_slice(self.head.request_line()),
            Var::ServerProtocol => out.extend_from_slice(if self.conn.h2 {
                b"HTTP/2.0"
            } else if self.head.minor == 0 {
                b"HTTP/1.0"
            } else {
                b"HTTP/1.1"
            }),
            Var::ContentLength => return put(out, self.head.header(b"content-length")),
            Var::ContentType => return put(out, self.head.header(b"content-type")),
            _ => return false,
        }
        true
    }

    /// Variables of the connection and the proxied request (`$remote_addr`, `$server_port`, `$proxy_host`, …).
    fn connection_var(&self, v: &Var, out: &mut Vec<u8>) -> bool {
        match v {
            Var::RemoteAddr => push_num(out, self.conn.peer.ip()),
            Var::RemotePort => push_num(out, self.conn.peer.port()),
            Var::BinaryRemoteAddr => match self.conn.peer.ip() {
                std::net::IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                std::net::IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            },
            Var::ProxyAddXForwardedFor => {
                if self.header_joined(b"x-forwarded-for", b", ", false, out) {
                    out.extend_from_slice(b", ");
                }
                push_num(out, self.conn.peer.ip());
            }
            Var::ProxyHost => out.extend_from_slice(self.proxy_host.as_bytes()),
            Var::ProxyPort => push_num(out, self.proxy_port),
            Var::ServerPort => push_num(out, self.conn.local.port()),
            Var::ServerAddr => push_num(out, self.conn.local.ip()),
            Var::Connection => push_num(out, self.conn.id),
            Var::ConnectionRequests => push_num(out, self.conn.requests),
            _ => return false,
        }
        true
    }

    /// `$upstream_*`: one value per try, comma separated.
    fn upstream_var(&self, v: &Var, out: &mut Vec<u8>) -> bool {
        match v {
            Var::UpstreamHttp(name) => {
                let found = self
                    .up
                    .last_head
                    .as_ref()
                    .and_then(|h| h.headers().find(|(n, _)| n.eq_ignore_ascii_case(name)));
                match found {
                    Some((_, v)) => out.extend_from_slice(v),
                    None => return false,
                }
            }
            Var::UpstreamAddr => {
                return join(out, &self.up.tries, |t, o| {
                    o.extend_from_slice(t.addr.as_bytes())
                });
            }
            Var::UpstreamCacheStatus => match self.up.cache_status {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => return false,
            },
            Var::UpstreamStatus => {
                // A try the client abandoned has no status: nginx prints `-`.
                return join(out, &self.up.tries, |t, o| match t.status {
                    Status::NONE => o.push(b'-'),
                    status => push_num(o, status.code()),
                });
            }
            Var::UpstreamResponseTime => return join(out, &self.up.tries, |t, o| secs(o, t.time)),
            Var::UpstreamConnectTime => {
                return join(out, &self.up.tries, |t, o| match t.connect {
                    Some(d) => secs(o, d),
                    None => o.push(b'-'),
                });
            }
            Var::UpstreamHeaderTime => {
                return join(out, &self.up.tries, |t, o| match t.header {
                    Some(d) => secs(o, d),
                    None => o.push(b'-'),
                });
            }
            _ => return false,
        }
        true
    }

    /// Variables of the response and the log line (`$status`, `$time_local`, `$request_time`, …).
    fn response_var(&self, v: &Var, out: &mut Vec<u8>) -> bool {
        match v {
            Var::SentHttp(_) => return false,
            Var::Status => {
                use std::io::Write;
                let _ = write!(out, "{:03}", self.status.code());
            }
            Var::TimeLocal => {
                out.extend_from_slice(crate::logs::time::time_local(self.start_time).as_bytes())
            }
            Var::TimeIso8601 => {
                out.extend_from_slice(crate::logs::time::time_iso8601(self.start_time).as_bytes())
            }
            Var::Msec => {
                out.extend_from_slice(crate::logs::time::msec(SystemTime::now()).as_bytes())
            }
            Var::BodyBytesSent => push_num(out, self.body_bytes_sent),
            Var::BytesSent => push_num(out, self.bytes_sent),
            Var::RequestLength => push_num(out, self.request_length),
            Var::RequestTime => {
                let d = self.start.elapsed();
                use std::io::Write;
                let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
            }
            Var::LimitReqStatus => match self.limit_req_status {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => return false,
            },
            Var::Pid => push_num(out, std::process::id()),
            Var::NginxVersion => {
                out.extend_from_slice(crate::http::status::NGINX_VERSION.as_bytes())
            }
            Var::RequestId => {
                use std::io::Write;
                let _ = write!(
                    out,
                    "{:016x}{:016x}",
                    self.conn.id.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    self.start_time
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64)
                );
            }
            _ => return false,
        }
        true
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
