//! Loading PEM certificate chains and private keys (`ssl_certificate`,
//! `ssl_certificate_key`) with nginx-worded errors.

use std::path::Path;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

fn io_reason(call: &str, e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    format!("{call} failed (SSL: error:80000002:system library::{text})")
}

fn pem_reason(call: &str, e: &pem::Error) -> String {
    match e {
        pem::Error::Io(io) => io_reason("BIO_new_file()", io),
        pem::Error::NoItemsFound => {
            format!("{call} failed (SSL: error:0480006C:PEM routines::no start line)")
        }
        other => format!("{call} failed (SSL: error:0480006C:PEM routines::{other:?})"),
    }
}

/// Reads a PEM certificate chain (leaf first, then intermediates), as
/// `ssl_certificate FILE`.
pub fn load_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason| TlsError::Cert {
        path: path.display().to_string(),
        reason,
    };
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(pem_reason("PEM_read_bio_X509_AUX()", &e)))?;
    let chain = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_reason("PEM_read_bio_X509_AUX()", &e)))?;
    if chain.is_empty() {
        return Err(err(pem_reason(
            "PEM_read_bio_X509_AUX()",
            &pem::Error::NoItemsFound,
        )));
    }
    Ok(chain)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), as `ssl_certificate_key FILE`.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.display().to_string(),
        reason: pem_reason("PEM_read_bio_PrivateKey()", &e),
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
