//! End-to-end HTTPS runs: the runner generates a self-signed certificate for the run, fills
//! `{{tls.cert}}` / `{{tls.key}}` into the proxy config, and the loadgen verifies the proxy's
//! certificate against it; a user's own PEM files and CA are used as given.

mod common;

use common::{proxylab, run_dirs, scenario, summary};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// Checks a finished HTTPS run: every request answered 2xx, no TLS failure.
fn assert_served(dir: &Path) {
    let s = summary(dir);
    let completed = s["total"]["completed"].as_f64().unwrap_or(0.0);
    assert!(completed > 100.0, "{s}");
    assert_eq!(s["total"]["status"]["200"].as_f64(), Some(completed), "{s}");
    assert_eq!(s["total"]["errors"]["tls"].as_f64(), Some(0.0), "{s}");
    let plan = std::fs::read_to_string(dir.join("plan.toml")).expect("plan");
    assert!(plan.contains("\"https://127.0.0.1:"), "{plan}");
}

#[test]
fn generated_certificate_serves_https_and_the_loadgen_verifies_it() {
    let out = tempfile::tempdir().expect("tempdir");
    let s = scenario("tls.toml");
    let mut variants = "base".to_string();
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_some() {
        variants.push_str(",nginx");
    }
    let r = proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--variant",
            &variants,
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs: Vec<_> = run_dirs(out.path(), "tls")
        .into_iter()
        .filter(|d| !d.to_string_lossy().ends_with("-compare"))
        .collect();
    assert_eq!(dirs.len(), variants.split(',').count(), "{dirs:?}");
    let mut certs = Vec::new();
    for d in &dirs {
        assert_served(d);
        let cert = std::path::absolute(d.join("tls/selfsigned.crt")).expect("abs");
        let key = std::path::absolute(d.join("tls/selfsigned.key")).expect("abs");
        let pem = std::fs::read_to_string(&cert).expect("generated certificate");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert!(key.is_file());
        let conf = std::fs::read_to_string(d.join("proxy/proxy.conf")).expect("conf");
        assert!(
            conf.contains(&format!("ssl_certificate {};", cert.display()))
                && conf.contains(&format!("ssl_certificate_key {};", key.display())),
            "{conf}"
        );
        // Verified, not insecure: the loadgen trusts exactly the generated certificate.
        let plan = std::fs::read_to_string(d.join("plan.toml")).expect("plan");
        assert!(
            plan.contains(&format!("ca_file = \"{}\"", cert.display())),
            "{plan}"
        );
        assert!(!plan.contains("insecure = true"), "{plan}");
        certs.push(pem);
    }
    // A fresh certificate per run.
    if certs.len() == 2 {
        assert_ne!(certs[0], certs[1]);
    }
}

#[test]
fn own_pem_files_and_ca_are_used_as_given() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let own = tmp.path().join("own");
    std::fs::create_dir_all(&own).expect("mkdir");
    let (cert, key, _) =
        proxylab_proxy::tls::write_self_signed(&own, "site", &["localhost", "127.0.0.1"])
            .expect("own certificate");
    let conf = std::fs::read_to_string(scenario("tls.conf"))
        .expect("tls.conf")
        .replace("{{tls.cert}}", &cert.display().to_string())
        .replace("{{tls.key}}", &key.display().to_string());
    std::fs::write(tmp.path().join("own.conf"), conf).expect("write conf");
    let toml = std::fs::read_to_string(scenario("tls.toml"))
        .expect("tls.toml")
        .replace("name = \"tls\"", "name = \"own-tls\"")
        .replace("config = \"tls.conf\"", "config = \"own.conf\"")
        .replace(
            "[[upstream]]",
            "[loadgen]\ntls = { ca_file = \"own/site.crt\" }\n\n[[upstream]]",
        );
    let file = tmp.path().join("own-tls.toml");
    std::fs::write(&file, toml).expect("write scenario");
    let out = tmp.path().join("reports");
    let r = proxylab(
        &[
            "run",
            file.to_str().expect("utf8"),
            "--ci",
            "--variant",
            "base",
            "--out",
            out.to_str().expect("utf8"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(&out, "own-tls")[0];
    assert_served(d);
    let conf = std::fs::read_to_string(d.join("proxy/proxy.conf")).expect("conf");
    assert!(
        conf.contains(&format!("ssl_certificate {};", cert.display())),
        "{conf}"
    );
    let plan = std::fs::read_to_string(d.join("plan.toml")).expect("plan");
    assert!(
        plan.contains(&format!("ca_file = \"{}\"", cert.display())),
        "{plan}"
    );
}
