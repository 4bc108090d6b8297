//! nginx variables: the known names ([`Var`]) and compiled templates ([`Template`]) that are
//! parsed once at config time and rendered per request without re-parsing.

mod template;

pub use template::{Part, Template, TemplateError};

/// One variable a template can reference. Header-derived names are stored lowercased with
/// `_` turned into `-`, ready to compare against request header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// `$host`: Host without port, lowercased, else the first server_name.
    Host,
    /// `$hostname`: the machine's host name.
    Hostname,
    /// `$server_name`: the first `server_name` of the matched server.
    ServerName,
    /// `$request_uri`: the raw request target with args.
    RequestUri,
    /// `$uri` / `$document_uri`: the normalized path.
    Uri,
    /// `$args` / `$query_string`.
    Args,
    /// `$is_args`: `?` when there are args.
    IsArgs,
    /// `$arg_NAME` (raw, not URL-decoded).
    Arg(Box<[u8]>),
    /// `$scheme`: `http` or `https`.
    Scheme,
    /// `$https`: `on` or empty.
    Https,
    /// `$remote_addr`.
    RemoteAddr,
    /// `$remote_port`.
    RemotePort,
    /// `$binary_remote_addr`: 4 or 16 bytes.
    BinaryRemoteAddr,
    /// `$remote_user` (Basic auth user).
    RemoteUser,
    /// `$proxy_add_x_forwarded_for`.
    ProxyAddXForwardedFor,
    /// `$proxy_host`: upstream name or `ip:port` (port omitted when 80).
    ProxyHost,
    /// `$proxy_port`.
    ProxyPort,
    /// `$http_NAME`: a request header (several values joined as nginx does for cookies/XFF).
    Http(Box<[u8]>),
    /// `$sent_http_NAME`: a response header.
    SentHttp(Box<[u8]>),
    /// `$upstream_http_NAME`: an upstream response header.
    UpstreamHttp(Box<[u8]>),
    /// `$cookie_NAME`.
    Cookie(Box<[u8]>),
    /// `$request_method`.
    RequestMethod,
    /// `$request`: the request line.
    Request,
    /// `$server_protocol`.
    ServerProtocol,
    /// `$status`.
    Status,
    /// `$time_local`: `26/Nov/2026:04:50:33 +0000`.
    TimeLocal,
    /// `$time_iso8601`.
    TimeIso8601,
    /// `$msec`: seconds with millisecond resolution.
    Msec,
    /// `$body_bytes_sent`.
    BodyBytesSent,
    /// `$bytes_sent`.
    BytesSent,
    /// `$request_length`.
    RequestLength,
    /// `$request_time`: seconds with ms resolution.
    RequestTime,
    /// `$upstream_addr`.
    UpstreamAddr,
    /// `$upstream_status`.
    UpstreamStatus,
    /// `$upstream_response_time`.
    UpstreamResponseTime,
    /// `$upstream_connect_time`.
    UpstreamConnectTime,
    /// `$upstream_header_time`.
    UpstreamHeaderTime,
    /// `$upstream_cache_status`.
    UpstreamCacheStatus,
    /// `$gzip_ratio`.
    GzipRatio,
    /// `$server_port`.
    ServerPort,
    /// `$server_addr`.
    ServerAddr,
    /// `$connection`: connection serial number.
    Connection,
    /// `$connection_requests`.
    ConnectionRequests,
    /// `$content_length`.
    ContentLength,
    /// `$content_type`.
    ContentType,
    /// `$limit_req_status`.
    LimitReqStatus,
    /// `$pid`.
    Pid,
    /// `$nginx_version`: `1.22.1`.
    NginxVersion,
    /// `$request_id`: 32 hex digits.
    RequestId,
    /// `$1`..`$9`: regex captures of the location match.
    Capture(u8),
    /// A variable defined by `map` or `set`, resolved after parsing.
    Custom(Box<str>),
}

fn header_key(s: &str) -> Box<[u8]> {
    s.bytes()
        .map(|b| {
            if b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect()
}

impl Var {
    /// Maps a variable name (without `$`) to a [`Var`]; unknown names become [`Var::Custom`]
    /// (checked against `map`/`set` names after parsing, as nginx does).
    pub fn from_name(name: &str) -> Var {
        match name {
            "host" => Var::Host,
            "hostname" => Var::Hostname,
            "server_name" => Var::ServerName,
            "request_uri" => Var::RequestUri,
            "uri" | "document_uri" => Var::Uri,
            "args" | "query_string" => Var::Args,
            "is_args" => Var::IsArgs,
            "scheme" => Var::Scheme,
            "https" => Var::Https,
            "remote_addr" => Var::RemoteAddr,
            "remote_port" => Var::RemotePort,
            "binary_remote_addr" => Var::BinaryRemoteAddr,
            "remote_user" => Var::RemoteUser,
            "proxy_add_x_forwarded_for" => Var::ProxyAddXForwardedFor,
            "proxy_host" => Var::ProxyHost,
            "proxy_port" => Var::ProxyPort,
            "request_method" => Var::RequestMethod,
            "request" => Var::Request,
            "server_protocol" => Var::ServerProtocol,
            "status" => Var::Status,
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso8601,
            "msec" => Var::Msec,
            "body_bytes_sent" => Var::BodyBytesSent,
            "bytes_sent" => Var::BytesSent,
            "request_length" => Var::RequestLength,
            "request_time" => Var::RequestTime,
            "upstream_addr" => Var::UpstreamAddr,
            "upstream_status" => Var::UpstreamStatus,
            "upstream_response_time" => Var::UpstreamResponseTime,
            "upstream_connect_time" => Var::UpstreamConnectTime,
            "upstream_header_time" => Var::UpstreamHeaderTime,
            "upstream_cache_status" => Var::UpstreamCacheStatus,
            "gzip_ratio" => Var::GzipRatio,
            "server_port" => Var::ServerPort,
            "server_addr" => Var::ServerAddr,
            "connection" => Var::Connection,
            "connection_requests" => Var::ConnectionRequests,
            "content_length" => Var::ContentLength,
            "content_type" => Var::ContentType,
            "limit_req_status" => Var::LimitReqStatus,
            "pid" => Var::Pid,
            "nginx_version" => Var::NginxVersion,
            "request_id" => Var::RequestId,
            _ => {
                if let Some(h) = name.strip_prefix("http_") {
                    Var::Http(header_key(h))
                } else if let Some(h) = name.strip_prefix("sent_http_") {
                    Var::SentHttp(header_key(h))
                } else if let Some(h) = name.strip_prefix("upstream_http_") {
                    Var::UpstreamHttp(header_key(h))
                } else if let Some(c) = name.strip_prefix("cookie_") {
                    Var::Cookie(c.as_bytes().into())
                } else if let Some(a) = name.strip_prefix("arg_") {
                    Var::Arg(a.as_bytes().into())
                } else if name.len() == 1 && name.as_bytes()[0].is_ascii_digit() {
                    Var::Capture(name.as_bytes()[0] - b'0')
                } else {
                    Var::Custom(name.into())
                }
            }
        }
    }
}

/// Where a template gets variable values from (implemented by the request context).
pub trait VarSource {
    /// Appends the value of `v` to `out`; returns false when the variable is "not found"
    /// (which log formats print as `-`).
    fn append_var(&self, v: &Var, out: &mut Vec<u8>) -> bool;
}
