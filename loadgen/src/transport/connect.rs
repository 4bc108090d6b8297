//! `Connector`: opens a `Stream` to a target (TCP, optional small receive buffer, TLS with SNI
//! and ALPN), classifying failures into error kinds.

use super::{ErrorKind, Stream, tls};
use crate::plan::{Plan, Protocol, Target};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio_rustls::TlsConnector;

/// One resolved target with what is needed to connect to it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The parsed URL.
    pub target: Target,
    /// Resolved socket address (first result of name resolution).
    pub addr: SocketAddr,
    /// SNI name (TLS targets).
    pub server_name: Option<ServerName<'static>>,
}

/// Opens connections for one protocol.
#[derive(Clone)]
pub struct Connector {
    tls: Option<TlsConnector>,
    connect_timeout: Duration,
    /// True when HTTP/2 must be negotiated with ALPN.
    want_h2: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls.is_some())
            .field("want_h2", &self.want_h2)
            .finish()
    }
}

impl Connector {
    /// A connector for `plan`'s TLS options; `websocket_or_h1` forces ALPN `http/1.1`.
    pub fn new(plan: &Plan, force_h1: bool) -> Result<Connector, String> {
        let want_h2 = plan.protocol == Protocol::H2 && !force_h1;
        let needs_tls = plan
            .populations
            .iter()
            .flat_map(|p| plan.targets_of(p))
            .any(|t| Target::parse(t).is_ok_and(|t| t.tls));
        let tls = if needs_tls {
            let alpn: &[&[u8]] = if want_h2 { &[b"h2"] } else { &[b"http/1.1"] };
            let cfg: Arc<ClientConfig> = tls::client_config(&plan.tls, alpn)?;
            Some(TlsConnector::from(cfg))
        } else {
            None
        };
        Ok(Connector {
            tls,
            connect_timeout: plan.connect_timeout.get(),
            want_h2,
        })
    }

    /// Connects to `ep`; `recv_buffer` sets SO_RCVBUF before connecting.
    pub async fn connect(
        &self,
        ep: &Endpoint,
        recv_buffer: Option<u32>,
    ) -> Result<Stream, ErrorKind> {
        self.connect_from(ep, recv_buffer, None).await
    }

    /// Like [`Connector::connect`], from local address `source` (port chosen by the kernel).
    pub async fn connect_from(
        &self,
        ep: &Endpoint,
        recv_buffer: Option<u32>,
        source: Option<std::net::IpAddr>,
    ) -> Result<Stream, ErrorKind> {
        let inner = self.connect_inner(ep, recv_buffer, source);
        match tokio::time::timeout(self.connect_timeout, inner).await {
            Ok(r) => r,
            Err(_) => Err(ErrorKind::ConnectTimeout),
        }
    }

    async fn connect_inner(
        &self,
        ep: &Endpoint,
        recv_buffer: Option<u32>,
        source: Option<std::net::IpAddr>,
    ) -> Result<Stream, ErrorKind> {
        let sock = if ep.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| ErrorKind::from_connect(&e))?;
        if let Some(n) = recv_buffer {
            sock.set_recv_buffer_size(n)
                .map_err(|e| ErrorKind::from_connect(&e))?;
        }
        if let Some(ip) = source {
            sock.bind(SocketAddr::new(ip, 0))
                .map_err(|e| ErrorKind::from_connect(&e))?;
        }
        let tcp = sock
            .connect(ep.addr)
            .await
            .map_err(|e| ErrorKind::from_connect(&e))?;
        let _ = tcp.set_nodelay(true);
        if !ep.target.tls {
            return Ok(Stream::Tcp(tcp));
        }
        let (Some(tls), Some(name)) = (&self.tls, &ep.server_name) else {
            return Err(ErrorKind::Tls);
        };
        let s = tls
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| match ErrorKind::from_io(&e) {
                ErrorKind::Reset => ErrorKind::Reset,
                _ => ErrorKind::Tls,
            })?;
        let stream = Stream::Tls(Box::new(s));
        if self.want_h2 && stream.alpn() != Some(b"h2") {
            return Err(ErrorKind::Protocol);
        }
        Ok(stream)
    }
}

/// Parses and resolves every target URL of `urls`.
pub fn resolve(urls: &[String], sni: Option<&str>) -> Result<Vec<Endpoint>, String> {
    use std::net::ToSocketAddrs;
    urls.iter()
        .map(|u| {
            let target = Target::parse(u).map_err(|e| e.to_string())?;
            let addr = (target.host.as_str(), target.port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
                .next()
                .ok_or_else(|| format!("cannot resolve {}: no address", target.host))?;
            let server_name = if target.tls {
                Some(tls::server_name(sni, &target.host)?)
            } else {
                None
            };
            Ok(Endpoint {
                target,
                addr,
                server_name,
            })
        })
        .collect()
}
