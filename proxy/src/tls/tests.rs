//! TLS tests: real handshakes over loopback (TLS 1.2 and 1.3, SNI, ALPN, resumption) and
//! nginx-worded load errors.

use super::*;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, HandshakeKind, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Certs {
    dir: tempfile::TempDir,
    a: (std::path::PathBuf, std::path::PathBuf, SelfSigned),
    b: (std::path::PathBuf, std::path::PathBuf, SelfSigned),
    d: (std::path::PathBuf, std::path::PathBuf, SelfSigned),
}

fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let a = write_self_signed(dir.path(), "a", &["a.example.com"]).unwrap();
    let b = write_self_signed(dir.path(), "b", &["*.b.example.com", "b.example.com"]).unwrap();
    let d = write_self_signed(dir.path(), "d", &["default.test", "localhost"]).unwrap();
    Certs { dir, a, b, d }
}

fn listener(c: &Certs, protocols: Protocols, http2: bool) -> ListenerTls {
    let k = |x: &(std::path::PathBuf, std::path::PathBuf, SelfSigned)| {
        load_certified_key(&x.0, &x.1).unwrap()
    };
    ListenerTls {
        servers: vec![
            SniServer {
                names: vec!["a.example.com".into()],
                key: k(&c.a),
            },
            SniServer {
                names: vec!["default.test".into()],
                key: k(&c.d),
            },
            SniServer {
                names: vec![".b.example.com".into()],
                key: k(&c.b),
            },
        ],
        default_server: 1,
        protocols,
        http2,
        session_tickets: true,
        session_cache: Some(100),
    }
}

fn client(
    c: &Certs,
    version: &'static rustls::SupportedProtocolVersion,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for s in [&c.a.2, &c.b.2, &c.d.2] {
        roots.add(CertificateDer::from(s.cert_der.clone())).unwrap();
    }
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// Serves one echo exchange per connection on a loopback listener; returns its address.
async fn serve(cfg: Arc<rustls::ServerConfig>, conns: usize) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    tokio::spawn(async move {
        for _ in 0..conns {
            let Ok((s, _)) = l.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let mut buf = [0u8; 4];
                    if tls.read_exact(&mut buf).await.is_ok() {
                        let _ = tls.write_all(&buf).await;
                        let _ = tls.shutdown().await;
                    }
                }
            });
        }
    });
    addr
}

struct Outcome {
    version: rustls::ProtocolVersion,
    alpn: Option<Vec<u8>>,
    leaf: Vec<u8>,
    kind: Option<HandshakeKind>,
}

async fn connect(
    addr: std::net::SocketAddr,
    cfg: Arc<ClientConfig>,
    sni: &str,
) -> Result<Outcome, std::io::Error> {
    let s = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, s)
        .await?;
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    let (_, conn) = tls.get_ref();
    Ok(Outcome {
        version: conn.protocol_version().unwrap(),
        alpn: conn.alpn_protocol().map(|p| p.to_vec()),
        leaf: conn.peer_certificates().unwrap()[0].to_vec(),
        kind: conn.handshake_kind(),
    })
}

#[tokio::test]
async fn handshakes_tls12_and_tls13_with_sni_and_alpn() {
    let c = certs();
    let both = Protocols::parse(&["TLSv1.2", "TLSv1.3"]).unwrap();
    let addr = serve(server_config(&listener(&c, both, true)).unwrap(), 16).await;
    let v13 = client(&c, &rustls::version::TLS13, &[b"h2", b"http/1.1"]);
    let v12 = client(&c, &rustls::version::TLS12, &[b"http/1.1"]);
    let o = connect(addr, v13.clone(), "a.example.com").await.unwrap();
    assert_eq!(o.version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(o.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(o.leaf, c.a.2.cert_der);
    let o = connect(addr, v12.clone(), "x.b.example.com").await.unwrap();
    assert_eq!(o.version, rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(o.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(o.leaf, c.b.2.cert_der);
    // ".b.example.com" also covers the bare domain
    assert_eq!(
        connect(addr, v13.clone(), "b.example.com")
            .await
            .unwrap()
            .leaf,
        c.b.2.cert_der
    );
    // unknown name → the default server's certificate (the client then fails to verify it
    // for that name; accept "localhost", which the default cert carries)
    assert_eq!(
        connect(addr, v13.clone(), "localhost").await.unwrap().leaf,
        c.d.2.cert_der
    );
    assert!(connect(addr, v13, "unknown.example.org").await.is_err());
}

#[tokio::test]
async fn nginx_122_default_protocols_refuse_tls13_and_h2_needs_http2() {
    let c = certs();
    let addr = serve(
        server_config(&listener(&c, Protocols::default(), false)).unwrap(),
        4,
    )
    .await;
    let v13 = client(&c, &rustls::version::TLS13, &[b"h2", b"http/1.1"]);
    assert!(
        connect(addr, v13, "a.example.com").await.is_err(),
        "TLS 1.3 must be off by default"
    );
    let v12 = client(&c, &rustls::version::TLS12, &[b"h2", b"http/1.1"]);
    let o = connect(addr, v12, "a.example.com").await.unwrap();
    assert_eq!(o.alpn.as_deref(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn session_resumption_tls13_and_tls12() {
    let c = certs();
    let both = Protocols::parse(&["TLSv1.2", "TLSv1.3"]).unwrap();
    let addr = serve(server_config(&listener(&c, both, false)).unwrap(), 8).await;
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let cfg = client(&c, v, &[b"http/1.1"]);
        let first = connect(addr, cfg.clone(), "a.example.com").await.unwrap();
        assert_eq!(first.kind, Some(HandshakeKind::Full));
        let second = connect(addr, cfg, "a.example.com").await.unwrap();
        assert_eq!(second.kind, Some(HandshakeKind::Resumed), "{v:?}");
    }
}

#[test]
fn load_errors_are_worded_like_nginx() {
    let c = certs();
    let dir = c.dir.path();
    let missing = dir.join("missing.crt");
    let e = load_certified_key(&missing, &c.a.1)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "cannot load certificate \"{}\": BIO_new_file() failed",
            missing.display()
        )),
        "{e}"
    );
    let bad = dir.join("bad.pem");
    std::fs::write(&bad, "not a pem\n").unwrap();
    let e = load_certified_key(&bad, &c.a.1).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "cannot load certificate \"{}\": PEM_read_bio_X509_AUX() failed",
            bad.display()
        )),
        "{e}"
    );
    let e = load_certified_key(&c.a.0, &bad).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "cannot load certificate key \"{}\": PEM_read_bio_PrivateKey() failed",
            bad.display()
        )),
        "{e}"
    );
    let e = load_certified_key(&c.a.0, &c.b.1).unwrap_err();
    assert_eq!(
        e,
        TlsError::KeyMismatch {
            path: c.b.1.display().to_string()
        }
    );
    assert!(e.to_string().starts_with(&format!(
        "SSL_CTX_use_PrivateKey(\"{}\") failed",
        c.b.1.display()
    )));
    // a key file holding a certificate is "no key"
    let e = load_certified_key(&c.a.0, &c.a.0).unwrap_err().to_string();
    assert!(e.starts_with("cannot load certificate key"), "{e}");
}

#[test]
fn protocols_parse_and_sni_precedence() {
    assert_eq!(
        Protocols::parse(&["TLSv1.4"]).unwrap_err().to_string(),
        "invalid value \"TLSv1.4\""
    );
    assert_eq!(
        Protocols::parse(&["TLSv1", "TLSv1.1"]).unwrap(),
        Protocols {
            tls12: false,
            tls13: false
        }
    );
    let c = certs();
    let mut l = listener(&c, Protocols::parse(&["TLSv1"]).unwrap(), false);
    assert_eq!(server_config(&l).unwrap_err(), TlsError::NoProtocols);
    l.servers.clear();
    assert_eq!(server_config(&l).unwrap_err(), TlsError::NoCertificate);
    let k = load_certified_key(&c.a.0, &c.a.1).unwrap();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let r = SniResolver::new(
        vec![
            (names(&["~^api\\d+\\.ex\\.com$"]), k.clone()),
            (names(&["*.ex.com"]), k.clone()),
            (names(&["*.a.ex.com", "www.ex.*"]), k.clone()),
            (names(&["exact.a.ex.com", "WWW.EX.COM"]), k.clone()),
        ],
        1,
    );
    assert_eq!(r.server_for(Some("exact.a.ex.com")), 3);
    assert_eq!(r.server_for(Some("www.ex.com")), 3); // exact beats wildcards
    assert_eq!(r.server_for(Some("x.a.ex.com")), 2); // longest leading wildcard
    assert_eq!(r.server_for(Some("x.ex.com")), 1);
    assert_eq!(r.server_for(Some("www.ex.org")), 2); // trailing wildcard
    assert_eq!(r.server_for(Some("api7.ex.com")), 1); // wildcard beats regex
    assert_eq!(r.server_for(Some("api7.ex.com.")), 1);
    assert_eq!(r.server_for(Some("other.org")), 1);
    assert_eq!(r.server_for(None), 1);
}
