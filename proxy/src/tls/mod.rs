//! TLS for `listen … ssl [http2]` as nginx 1.22 configures it, on rustls with the ring
//! provider: PEM certificate chains and keys (errors worded like nginx), one certificate per
//! server block chosen by SNI (exact, wildcard and regex names; the default server's
//! otherwise), `ssl_protocols` (TLSv1.2 / TLSv1.3), ALPN (`h2` only when the listener has
//! `http2`), session resumption (tickets and an optional session cache), and a self-signed
//! certificate generator for tests and scenarios.

mod config;
mod load;
mod selfsigned;
mod sni;

pub use config::{ListenerTls, Protocols, SniServer, server_config};
pub use load::{load_cert_chain, load_certified_key, load_private_key};
pub use selfsigned::{SelfSigned, self_signed, write_self_signed};
pub use sni::{NamePattern, SniResolver};

/// rustls's ring provider (the only one compiled in this workspace).
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS configuration errors, worded like `nginx -t` (the reader appends ` in FILE:LINE`
/// where nginx does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing, unreadable, or holds no PEM certificate.
    #[error("cannot load certificate \"{path}\": {reason}")]
    Cert {
        /// File path as configured.
        path: String,
        /// OpenSSL-style reason (`BIO_new_file() failed (…)`, `PEM_read_bio_X509_AUX() failed (…)`).
        reason: String,
    },
    /// The key file is missing, unreadable, or holds no usable private key.
    #[error("cannot load certificate key \"{path}\": {reason}")]
    Key {
        /// File path as configured.
        path: String,
        /// OpenSSL-style reason.
        reason: String,
    },
    /// The key does not belong to the certificate.
    #[error(
        "SSL_CTX_use_PrivateKey(\"{path}\") failed (SSL: error:05800074:x509 certificate routines::key values mismatch)"
    )]
    KeyMismatch {
        /// Key file path.
        path: String,
    },
    /// An `ssl_protocols` value nginx does not know.
    #[error("invalid value \"{0}\"")]
    Protocol(String),
    /// `ssl_protocols` lists only protocols rustls cannot offer (SSLv2/SSLv3/TLSv1/TLSv1.1).
    #[error("no supported protocol in \"ssl_protocols\" (only TLSv1.2 and TLSv1.3 are available)")]
    NoProtocols,
    /// `listen … ssl` without a certificate.
    #[error("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive")]
    NoCertificate,
    /// rustls refused the configuration.
    #[error("TLS configuration error: {0}")]
    Rustls(String),
    /// rcgen failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfSigned(String),
}

#[cfg(test)]
mod tests;
