//! Loading PEM certificate chains and private keys (`ssl_certificate`,
//! `ssl_certificate_key`) with nginx-worded errors.

use std::path::Path;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// OpenSSL 3's text for a failed `BIO_new_file(path, "r")`.
fn io_reason(path: &Path, e: &std::io::Error) -> String {
    let p = path.display();
    match e.raw_os_error() {
        Some(libc::ENOENT) => format!(
            "BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory:\
             calling fopen({p}, r) error:10000080:BIO routines::no such file)"
        ),
        Some(code) => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!(
                "BIO_new_file() failed (SSL: error:{:08X}:system library::{text}:\
                 calling fopen({p}, r) error:10080002:BIO routines::system lib)",
                0x8000_0000u32 | (code as u32 & 0xff)
            )
        }
        None => format!("BIO_new_file() failed (SSL: {e})"),
    }
}

/// OpenSSL 3's text when a file holds no certificate.
const NO_CERT: &str = "PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM routines::no start line:Expecting: TRUSTED CERTIFICATE)";
/// OpenSSL 3's text when a file holds no private key.
const NO_KEY: &str = "PEM_read_bio_PrivateKey() failed (SSL: error:1E08010C:DECODER routines::unsupported:\
                      No supported data to decode. Input type: PEM)";

fn pem_reason(path: &Path, e: &pem::Error, not_found: &str) -> String {
    match e {
        pem::Error::Io(io) => io_reason(path, io),
        _ => not_found.to_string(),
    }
}

/// Reads a PEM certificate chain (leaf first, then intermediates), as
/// `ssl_certificate FILE`.
pub fn load_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason| TlsError::Cert {
        path: path.display().to_string(),
        reason,
    };
    let iter =
        CertificateDer::pem_file_iter(path).map_err(|e| err(pem_reason(path, &e, NO_CERT)))?;
    let chain = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_reason(path, &e, NO_CERT)))?;
    if chain.is_empty() {
        return Err(err(NO_CERT.to_string()));
    }
    Ok(chain)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), as `ssl_certificate_key FILE`.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.display().to_string(),
        reason: pem_reason(path, &e, NO_KEY),
    })
}

/// Loads a certificate chain and its key and checks that they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = load_cert_chain(cert)?;
    let der = load_private_key(key)?;
    certified_key(chain, der, cert, key)
}

/// Builds a [`CertifiedKey`] from DER parts (paths only name the files in errors).
pub(crate) fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    der: PrivateKeyDer<'static>,
    cert: &Path,
    key: &Path,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let provider = super::provider();
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError::Key {
            path: key.display().to_string(),
            reason: format!("PEM_read_bio_PrivateKey() failed (SSL: {e})"),
        })?;
    let ck = CertifiedKey::new(chain, signing);
    match ck.keys_match() {
        Ok(()) => Ok(Arc::new(ck)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(Arc::new(ck)),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::KeyMismatch {
            path: key.display().to_string(),
        }),
        Err(e) => Err(TlsError::Cert {
            path: cert.display().to_string(),
            reason: format!("PEM_read_bio_X509_AUX() failed (SSL: {e})"),
        }),
    }
}
