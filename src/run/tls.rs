//! The run's own TLS certificate: a fresh self-signed certificate and key (rcgen, ECDSA P-256)
//! written into `RUN_DIR/tls/` before anything starts, for `{{tls.cert}}` / `{{tls.key}}` in
//! proxy configs and upstream arguments, and trusted by the loadgen unless the scenario names
//! its own CA or asks for `insecure`.

use proxylab_loadgen::plan::TlsOptions;
use std::path::{Path, PathBuf};

/// Names every generated certificate holds (subject alternative names).
pub const BASE_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// `(certificate, key)` paths of the run's certificate (absolute when `run_dir` is).
pub fn paths(run_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = std::path::absolute(run_dir.join("tls")).unwrap_or_else(|_| run_dir.join("tls"));
    (dir.join("selfsigned.crt"), dir.join("selfsigned.key"))
}

/// Writes the run's certificate for `localhost`, `127.0.0.1`, `::1` and `extra` names (the
/// loadgen's SNI name, when the scenario sets one). Returns the two paths.
pub fn generate(run_dir: &Path, extra: &[&str]) -> Result<(PathBuf, PathBuf), String> {
    let dir = run_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<&str> = BASE_NAMES.to_vec();
    for n in extra {
        if !n.is_empty() && !names.contains(n) {
            names.push(n);
        }
    }
    proxylab_proxy::tls::write_self_signed(&dir, "selfsigned", &names)
        .map_err(|e| format!("self-signed certificate in {}: {e}", dir.display()))?;
    Ok(paths(run_dir))
}

/// `{{tls.cert}}` and `{{tls.key}}` in one command-line argument replaced by the paths.
pub fn expand_arg(arg: &str, run_dir: &Path) -> String {
    if !arg.contains("{{") {
        return arg.to_string();
    }
    let (cert, key) = paths(run_dir);
    arg.replace("{{tls.cert}}", &cert.display().to_string())
        .replace("{{tls.key}}", &key.display().to_string())
}

/// The loadgen's TLS settings: the scenario's, plus the run's certificate as the CA to trust
/// when the scenario names no `ca_file` and is not `insecure`.
pub fn loadgen_options(given: &TlsOptions, run_dir: &Path) -> TlsOptions {
    let mut t = given.clone();
    if t.ca_file.is_none() && !t.insecure {
        t.ca_file = Some(paths(run_dir).0);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_certificate_for_the_names_and_expands_args() {
        let d = tempfile::tempdir().unwrap();
        let (cert, key) = generate(d.path(), &["api.example.test"]).unwrap();
        assert!(cert.is_absolute());
        let pem = std::fs::read_to_string(&cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        let k = std::fs::read_to_string(&key).unwrap();
        assert!(k.contains("PRIVATE KEY"), "{k}");
        assert_eq!(
            expand_arg("--ssl-certfile={{tls.cert}}", d.path()),
            format!("--ssl-certfile={}", cert.display())
        );
        assert_eq!(
            expand_arg("{{tls.key}}", d.path()),
            key.display().to_string()
        );
        assert_eq!(expand_arg("--x", d.path()), "--x");
        let own = TlsOptions {
            ca_file: Some("/mine.pem".into()),
            ..Default::default()
        };
        assert_eq!(loadgen_options(&own, d.path()), own);
        let insecure = TlsOptions {
            insecure: true,
            ..Default::default()
        };
        assert_eq!(loadgen_options(&insecure, d.path()).ca_file, None);
        assert_eq!(
            loadgen_options(&TlsOptions::default(), d.path()).ca_file,
            Some(cert)
        );
    }
}
