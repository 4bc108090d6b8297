//! Self-signed certificates made on the fly (rcgen) for tests and scenarios.

use std::path::{Path, PathBuf};

use super::TlsError;

/// A generated certificate and key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM, ECDSA P-256).
    pub key_pem: String,
    /// The certificate in DER (e.g. to trust it in a test client).
    pub cert_der: Vec<u8>,
}

/// A self-signed certificate for `names` (DNS names or IP addresses, as subject alternative
/// names; the first is also the common name).
pub fn self_signed(names: &[&str]) -> Result<SelfSigned, TlsError> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::SelfSigned(e.to_string()))?;
    Ok(SelfSigned {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
        cert_der: ck.cert.der().to_vec(),
    })
}

/// Writes a self-signed certificate for `names` to `DIR/STEM.crt` and `DIR/STEM.key` (key
/// file mode 0600) and returns the two paths, ready for `ssl_certificate` /
/// `ssl_certificate_key`.
pub fn write_self_signed(
    dir: &Path,
    stem: &str,
    names: &[&str],
) -> Result<(PathBuf, PathBuf, SelfSigned), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let s = self_signed(names)?;
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    let io = |e: std::io::Error| TlsError::SelfSigned(e.to_string());
    std::fs::write(&cert, &s.cert_pem).map_err(io)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key)
        .map_err(io)?;
    std::io::Write::write_all(&mut f, s.key_pem.as_bytes()).map_err(io)?;
    Ok((cert, key, s))
}
