//! HTTP/2 over TLS (ALPN), h2c with prior knowledge, HTTP/1.1 over TLS, CA file, --insecure
//! and SNI, against real nginx with a certificate made by rcgen.

mod common;
use common::*;
use proxylab_loadgen::plan::{Plan, Protocol};
use proxylab_testkit::Nginx;
use std::path::PathBuf;
use std::time::Duration;

struct Certs {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

/// A self-signed certificate for `localhost` only (no IP SAN: SNI matters).
fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    Certs {
        _dir: dir,
        cert,
        key,
    }
}

fn nginx(c: &Certs) -> Option<Nginx> {
    Nginx::start(&format!(
        "log_format p '$server_protocol $status';\n\
         server {{ listen 127.0.0.1:{{PORT}} ssl http2; server_name localhost; access_log {{DIR}}/p.log p;\n\
           ssl_certificate {}; ssl_certificate_key {}; location / {{ return 200 'secure'; }} }}\n\
         server {{ listen 127.0.0.1:{{PORT2}} http2; access_log {{DIR}}/p.log p; location / {{ return 200 'h2c'; }} }}",
        c.cert.display(),
        c.key.display()
    ))
}

fn log(n: &Nginx) -> String {
    std::fs::read_to_string(n.dir().join("p.log")).unwrap_or_default()
}

fn tls_plan(n: &Nginx, protocol: Protocol, c: &Certs, sni: Option<&str>) -> Plan {
    let mut p = plan(
        &format!("https://127.0.0.1:{}", n.port()),
        closed(4),
        Duration::from_secs(2),
    );
    p.protocol = protocol;
    p.tls.ca_file = Some(c.cert.clone());
    p.tls.sni = sni.map(str::to_string);
    p.populations[0].max_requests = Some(400);
    p
}

#[test]
fn h2_over_tls_with_a_ca_file_and_sni() {
    let c = certs();
    let Some(n) = nginx(&c) else { return };
    let res = run(&tls_plan(&n, Protocol::H2, &c, Some("localhost")));
    let s = &res.summary.overall;
    assert_eq!(
        (s.sent, s.completed, s.status.get("200").copied()),
        (400, 400, Some(400)),
        "{s:?}"
    );
    assert_eq!(count_lines(&log(&n), "HTTP/2.0 200"), 400, "{}", log(&n));
    // Four clients, four connections: HTTP/2 streams reuse them.
    assert_eq!(res.summary.details["p"].connections_opened, 4);
}

#[test]
fn without_the_right_sni_the_certificate_is_rejected() {
    let c = certs();
    let Some(n) = nginx(&c) else { return };
    let res = run(&tls_plan(&n, Protocol::H1, &c, None));
    let s = &res.summary.overall;
    assert_eq!(s.completed, 0);
    assert_eq!(s.errors.get("tls").copied(), Some(s.sent), "{s:?}");
    assert_eq!(count_lines(&log(&n), " 200"), 0);
}

#[test]
fn http1_over_tls_and_insecure() {
    let c = certs();
    let Some(n) = nginx(&c) else { return };
    let mut p = tls_plan(&n, Protocol::H1, &c, None);
    p.tls.ca_file = None;
    p.tls.insecure = true;
    let res = run(&p);
    let s = &res.summary.overall;
    assert_eq!(
        (s.completed, s.status.get("200").copied()),
        (400, Some(400)),
        "{s:?}"
    );
    assert_eq!(count_lines(&log(&n), "HTTP/1.1 200"), 400);
}

#[test]
fn h2c_with_prior_knowledge_in_open_loop() {
    let c = certs();
    let Some(n) = nginx(&c) else { return };
    let mut p = plan(
        &format!("http://127.0.0.1:{}", n.ports()[1]),
        open(3000.0, 2),
        Duration::from_secs(3),
    );
    p.protocol = Protocol::H2c;
    let res = run(&p);
    let s = &res.summary.overall;
    assert_eq!((s.sent, s.completed), (6000, 6000), "{s:?}");
    assert_eq!(count_lines(&log(&n), "HTTP/2.0 200"), 6000);
    // Open loop over HTTP/2 multiplexes (one connection per thread by default); nginx ends a
    // connection after http2_max_requests (1000) with GOAWAY, and the refused streams are
    // retried on a new connection, so a handful of connections carried 6,000 requests.
    let opened = res.summary.details["p"].connections_opened;
    assert!((2..40).contains(&opened), "{opened} connections");
}
