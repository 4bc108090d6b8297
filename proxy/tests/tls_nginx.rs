//! Differential tests of the TLS module against real nginx 1.22: the certificate nginx
//! presents for each SNI name across server blocks (exact, wildcard, regex, default) versus
//! our [`SniResolver`], and `nginx -t`'s certificate/key error lines versus ours.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use proxylab_proxy::tls::{SniResolver, load_certified_key, provider, write_self_signed};
use proxylab_testkit::{Nginx, require};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Accepts any certificate: the test only looks at *which* certificate is presented.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The leaf certificate nginx presents for `sni`.
fn presented(addr: std::net::SocketAddr, sni: &str) -> Vec<u8> {
    let p = provider();
    let cfg = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(p)))
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_string()).expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client");
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("handshake");
    }
    conn.peer_certificates().expect("certs")[0].to_vec()
}

#[test]
fn sni_certificate_choice_matches_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let mk = |stem: &str| write_self_signed(dir.path(), stem, &[stem]).unwrap();
    let servers: Vec<(&str, Vec<&str>, (PathBuf, PathBuf, _))> = vec![
        ("first", vec!["first.test"], mk("first")),
        ("exact", vec!["exact.a.ex.com", "www.ex.com"], mk("exact")),
        ("star", vec!["*.ex.com"], mk("star")),
        ("deep", vec!["*.a.ex.com", "www.ex.*"], mk("deep")),
        ("dot", vec![".dot.org"], mk("dot")),
        ("re", vec!["~^api\\d+\\.re\\.net$"], mk("re")),
        ("dflt", vec!["default.test"], mk("dflt")),
    ];
    let default = 6;
    let mut conf = String::new();
    for (i, (_, names, (crt, key, _))) in servers.iter().enumerate() {
        let ds = if i == default { " default_server" } else { "" };
        conf.push_str(&format!(
            "server {{ listen 127.0.0.1:{{PORT}} ssl{ds}; server_name {}; ssl_certificate {}; \
             ssl_certificate_key {}; location / {{ return 200; }} }}\n",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(" "),
            crt.display(),
            key.display()
        ));
    }
    let Some(ngx) = Nginx::start(&conf) else {
        return;
    };
    let resolver = SniResolver::new(
        servers
            .iter()
            .map(|(_, names, (crt, key, _))| {
                (
                    names.iter().map(|s| s.to_string()).collect(),
                    load_certified_key(crt, key).unwrap(),
                )
            })
            .collect(),
        default,
    );
    let names = [
        "first.test",
        "exact.a.ex.com",
        "www.ex.com",
        "WWW.EX.COM",
        "x.a.ex.com",
        "y.ex.com",
        "www.ex.org",
        "a.dot.org",
        "dot.org",
        "api7.re.net",
        "api.re.net",
        "unknown.test",
        "ex.com",
        "a.b.ex.com",
    ];
    for sni in names {
        let theirs = presented(ngx.addr(), sni);
        let ours = &servers[resolver.server_for(Some(sni))].2.2.cert_der;
        let who = |der: &[u8]| {
            servers
                .iter()
                .find(|s| s.2.2.cert_der == der)
                .map(|s| s.0)
                .unwrap_or("?")
        };
        assert_eq!(who(ours), who(&theirs), "SNI {sni}");
    }
}

/// `nginx -t` on a server with `cert`/`key`; returns the `[emerg]` message text.
fn nginx_t(nginx: &Path, dir: &Path, cert: &Path, key: &Path) -> String {
    let conf = dir.join("t.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {d}/t.pid; error_log {d}/t.log; events {{}} http {{ server {{ listen 127.0.0.1:1 ssl; \
             ssl_certificate {}; ssl_certificate_key {}; }} }}\n",
            cert.display(),
            key.display(),
            d = dir.display()
        ),
    )
    .unwrap();
    let out = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    let line = text
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_else(|| panic!("no emerg: {text}"));
    // "2026/11/26 06:25:56 [emerg] 13186#13186: MESSAGE"
    line.split_once(": ").map(|(_, m)| m.to_string()).unwrap()
}

#[test]
fn certificate_errors_match_nginx_t() {
    let Some(nginx) = require("nginx", "apt-get install nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (c1, k1, _) = write_self_signed(d, "one", &["one.test"]).unwrap();
    let (_, k2, _) = write_self_signed(d, "two", &["two.test"]).unwrap();
    let bad = d.join("bad.pem");
    std::fs::write(&bad, "junk\n").unwrap();
    let cases = [
        (d.join("missing.crt"), k1.clone()),
        (bad.clone(), k1.clone()),
        (c1.clone(), bad.clone()),
        (c1.clone(), d.join("missing.key")),
        (c1.clone(), k2.clone()),
        (c1.clone(), c1.clone()),
    ];
    for (cert, key) in cases {
        let theirs = nginx_t(&nginx, d, &cert, &key);
        let ours = load_certified_key(&cert, &key)
            .expect_err("must fail")
            .to_string();
        assert_eq!(
            ours,
            theirs,
            "cert {} key {}",
            cert.display(),
            key.display()
        );
    }
}
