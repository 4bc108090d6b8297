//! `ssl_protocols` and the rustls `ServerConfig` of one TLS listen socket.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;

use super::TlsError;
use super::sni::SniResolver;

/// The `ssl_protocols` set. rustls implements TLS 1.2 and 1.3 only: `SSLv2`, `SSLv3`,
/// `TLSv1`, `TLSv1.1` are accepted (as nginx accepts them) but never negotiated — with
/// nginx 1.22 + OpenSSL 3 they fail at the default security level anyway (spec §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    /// `TLSv1.2`.
    pub tls12: bool,
    /// `TLSv1.3`.
    pub tls13: bool,
}

impl Default for Protocols {
    /// nginx 1.22's default `TLSv1 TLSv1.1 TLSv1.2`: only TLS 1.2 is usable; **TLS 1.3 is off**.
    fn default() -> Protocols {
        Protocols {
            tls12: true,
            tls13: false,
        }
    }
}

impl Protocols {
    /// Parses the arguments of `ssl_protocols`.
    pub fn parse(args: &[&str]) -> Result<Protocols, TlsError> {
        let mut p = Protocols {
            tls12: false,
            tls13: false,
        };
        for a in args {
            match *a {
                "SSLv2" | "SSLv3" | "TLSv1" | "TLSv1.1" => {}
                "TLSv1.2" => p.tls12 = true,
                "TLSv1.3" => p.tls13 = true,
                other => return Err(TlsError::Protocol(other.to_string())),
            }
        }
        Ok(p)
    }

    fn versions(self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
        let mut v = Vec::new();
        if self.tls13 {
            v.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            v.push(&rustls::version::TLS12);
        }
        if v.is_empty() {
            return Err(TlsError::NoProtocols);
        }
        Ok(v)
    }
}

/// One server block on a TLS listen socket.
#[derive(Debug, Clone)]
pub struct SniServer {
    /// Its `server_name` entries as written.
    pub names: Vec<String>,
    /// Its `ssl_certificate` + `ssl_certificate_key` (see [`super::load_certified_key`]).
    pub key: Arc<CertifiedKey>,
}

/// Everything that shapes the TLS side of one listen socket.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// Server blocks on this socket, in config order.
    pub servers: Vec<SniServer>,
    /// Index of the default server (`default_server`, else the first).
    pub default_server: usize,
    /// The default server's `ssl_protocols` (nginx: other servers' values barely matter).
    pub protocols: Protocols,
    /// `listen … http2`: offer ALPN `h2` before `http/1.1`.
    pub http2: bool,
    /// `ssl_session_tickets` (default on): stateless TLS 1.2/1.3 resumption.
    pub session_tickets: bool,
    /// `ssl_session_cache shared:NAME:SIZE` as a number of sessions (nginx: ~4000 per MB);
    /// `None` = nginx's default `none` (no server-side cache; tickets still resume).
    pub session_cache: Option<usize>,
}

impl ListenerTls {
    /// A listener with one server and nginx 1.22 defaults (TLS 1.2 only, tickets on, no
    /// cache, no h2).
    pub fn single(key: Arc<CertifiedKey>) -> ListenerTls {
        ListenerTls {
            servers: vec![SniServer {
                names: Vec::new(),
                key,
            }],
            default_server: 0,
            protocols: Protocols::default(),
            http2: false,
            session_tickets: true,
            session_cache: None,
        }
    }
}

/// Builds the rustls `ServerConfig` (ring provider) for one listen socket.
pub fn server_config(l: &ListenerTls) -> Result<Arc<ServerConfig>, TlsError> {
    if l.servers.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let resolver = SniResolver::new(
        l.servers
            .iter()
            .map(|s| (s.names.clone(), s.key.clone()))
            .collect(),
        l.default_server,
    );
    let mut cfg = ServerConfig::builder_with_provider(super::provider())
        .with_protocol_versions(&l.protocols.versions()?)
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = if l.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    if l.session_tickets {
        cfg.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError::Rustls(e.to_string()))?;
    } else {
        cfg.send_tls13_tickets = 0;
    }
    cfg.session_storage = match l.session_cache {
        Some(n) if n > 0 => ServerSessionMemoryCache::new(n),
        _ => Arc::new(NoServerSessionStorage {}),
    };
    Ok(Arc::new(cfg))
}
