//! `tls_hello` against real nginx (OpenSSL): each hand-written ClientHello, one per protocol
//! version and cipher class, is answered as a scanner would see it. A server with nginx's
//! default `ssl_ciphers` and TLS 1.2/1.3 answers each version it allows with a ServerHello
//! whose suite is one the hello offered, and refuses TLS 1.0/1.1 and the legacy suites; a
//! server narrowed to one TLS 1.2 suite chooses exactly that one and refuses TLS 1.3 and CBC.

mod common;

use proxylab_loadgen::plan::Plan;
use proxylab_testkit::{Nginx, free_port};
use std::collections::BTreeMap;

/// The hellos: population name, version, cipher class.
const HELLOS: &[(&str, &str, &str)] = &[
    ("v1_0", "1.0", "all"),
    ("v1_1", "1.1", "all"),
    ("v1_2", "1.2", "all"),
    ("v1_3", "1.3", "modern"),
    ("cbc", "1.2", "cbc"),
    ("rsa", "1.2", "rsa"),
    ("legacy", "1.2", "legacy"),
];

/// ECDHE-ECDSA with AES-CBC, as `tls_hello` offers them in the `cbc` class.
const ECDSA_CBC: &[&str] = &["0xc009", "0xc00a", "0xc023", "0xc024"];

/// One population per hello against `port`; each population's single outcome.
fn scan(port: u16) -> BTreeMap<String, String> {
    let mut text = format!(
        "targets = [\"https://127.0.0.1:{port}\"]\nduration = \"10s\"\nthreads = 1\nconnect_timeout = \"5s\"\ntls = {{ insecure = true }}\n"
    );
    for (name, version, class) in HELLOS {
        text.push_str(&format!(
            "\n[[population]]\nname = \"{name}\"\nload = {{ model = \"closed\", connections = 1 }}\nmax_requests = 1\nrequests = [{{ path = \"/\" }}]\nbehaviour = {{ kind = \"tls_hello\", version = \"{version}\", ciphers = \"{class}\" }}\n"
        ));
    }
    let plan = Plan::from_toml_str(&text).expect("plan");
    let res = common::run(&plan);
    HELLOS
        .iter()
        .map(|(name, _, _)| {
            let d = &res.summary.details[*name];
            assert_eq!(
                d.outcomes.values().sum::<u64>(),
                1,
                "{name}: {:?}",
                d.outcomes
            );
            let o = d.outcomes.keys().next().cloned().unwrap_or_default();
            (name.to_string(), o)
        })
        .collect()
}

fn refused(o: &str) -> bool {
    o.starts_with("refused_")
}

#[test]
fn hellos_answered_by_openssl_as_configured() {
    let dir = tempfile::tempdir().expect("tmp");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("key");
    let narrow = free_port();
    let tls = format!(
        "ssl_certificate {}; ssl_certificate_key {};",
        cert.display(),
        key.display()
    );
    let Some(n) = Nginx::start(&format!(
        "server {{ listen 127.0.0.1:{{PORT}} ssl; {tls} ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; return 200; }}\n\
         server {{ listen 127.0.0.1:{narrow} ssl; {tls} ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256; return 200; }}"
    )) else {
        return;
    };
    // nginx's default ciphers (HIGH:!aNULL:!MD5), TLS 1.0 to 1.3 configured: OpenSSL 3 at its
    // default security level refuses 1.0/1.1 anyway (the audit reports that as it finds it).
    let wide = scan(n.port());
    assert!(wide["v1_2"].starts_with("accepted_TLSv1.2_0x"), "{wide:?}");
    assert!(
        wide["v1_3"].starts_with("accepted_TLSv1.3_0x130"),
        "{wide:?}"
    );
    let cbc_suite = wide["cbc"].trim_start_matches("accepted_TLSv1.2_");
    assert!(ECDSA_CBC.contains(&cbc_suite), "{wide:?}");
    // An ECDSA certificate: no static RSA key exchange; no legacy suite in HIGH.
    assert!(refused(&wide["rsa"]), "{wide:?}");
    assert!(refused(&wide["legacy"]), "{wide:?}");
    for (v, version) in [("v1_0", "TLSv1_"), ("v1_1", "TLSv1.1_")] {
        let o = &wide[v];
        assert!(
            refused(o) || o.starts_with(&format!("accepted_{version}")),
            "{v}: {wide:?}"
        );
    }
    // One TLS 1.2 suite only: the hello offering everything gets exactly it; TLS 1.3 and the
    // CBC class are refused with an alert.
    let one = scan(narrow);
    assert_eq!(one["v1_2"], "accepted_TLSv1.2_0xc02b", "{one:?}");
    for name in ["v1_0", "v1_1", "v1_3", "cbc", "rsa", "legacy"] {
        assert!(refused(&one[name]), "{name}: {one:?}");
    }
    assert!(one["cbc"].starts_with("refused_alert_"), "{one:?}");
}
