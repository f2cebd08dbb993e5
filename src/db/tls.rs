//! TLS to the database, with rustls (no OpenSSL, so the Lambda zip needs no system libraries).
//!
//! `sslmode=disable` connects in plain text. Every other mode encrypts with the server's
//! certificate verified: the chain must lead to a trusted root, be valid now, and name the
//! host connected to (`verify-full` in libpq's terms; `require` and `verify-ca` are held to
//! the same standard). `prefer` uses TLS when the server offers it and plain text when the
//! server has no TLS; a certificate that fails verification is refused, never ignored.
//!
//! Trusted roots are the Mozilla set (`webpki-roots`, enough for Timescale Cloud and any
//! public CA) or, when a CA file is given (`DB_SSLROOTCERT`, e.g. Amazon RDS's bundle),
//! exactly the certificates of that PEM file.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{ConfigError, DatabaseArgs};

/// How connections to the database are secured.
#[derive(Clone)]
pub enum DbTls {
    /// `sslmode=disable`: plain text.
    Off,
    /// Every other mode: rustls with certificate verification.
    Verified(MakeRustlsConnect),
}

impl DbTls {
    /// How to secure the connections `pg` describes: TLS per its `sslmode`, with the CA
    /// file's certificates when `DB_SSLROOTCERT` names one.
    pub fn for_database(
        args: &DatabaseArgs,
        pg: &tokio_postgres::Config,
    ) -> Result<Self, ConfigError> {
        Self::new(pg.get_ssl_mode(), args.db_sslrootcert.as_deref())
    }

    /// The connector for a TLS mode, trusting the CA file's certificates when one is named.
    pub fn new(mode: SslMode, ca_file: Option<&Path>) -> Result<Self, ConfigError> {
        match ca_file {
            Some(path) if mode != SslMode::Disable => Ok(Self::trusting(roots_from_file(path)?)),
            _ => Ok(Self::public(mode)),
        }
    }

    /// The connector for a TLS mode, trusting the Mozilla roots.
    pub fn public(mode: SslMode) -> Self {
        if mode == SslMode::Disable {
            return Self::Off;
        }
        Self::trusting(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
    }

    fn trusting(roots: rustls::RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self::Verified(MakeRustlsConnect::new(config))
    }
}

fn roots_from_file(path: &Path) -> Result<rustls::RootCertStore, ConfigError> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            ConfigError(format!(
                "DB_SSLROOTCERT {shown}: cannot read certificates: {e}"
            ))
        })?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ConfigError(format!(
            "DB_SSLROOTCERT {shown}: no usable CA certificate in the file"
        )));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disable_means_plain_text() {
        assert!(matches!(
            DbTls::new(SslMode::Disable, None).unwrap(),
            DbTls::Off
        ));
    }

    #[test]
    fn other_modes_verify_with_public_roots() {
        for mode in [SslMode::Prefer, SslMode::Require] {
            assert!(matches!(
                DbTls::new(mode, None).unwrap(),
                DbTls::Verified(_)
            ));
        }
    }

    #[test]
    fn names_an_unreadable_or_empty_ca_file() {
        let missing = DbTls::new(SslMode::Require, Some(Path::new("/nonexistent/ca.pem")));
        let err = missing.err().unwrap().to_string();
        assert!(err.contains("DB_SSLROOTCERT /nonexistent/ca.pem"), "{err}");

        let empty = std::env::temp_dir().join(format!("tsapi-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = DbTls::new(SslMode::Require, Some(&empty))
            .err()
            .unwrap()
            .to_string();
        std::fs::remove_file(&empty).unwrap();
        assert!(err.contains("no usable CA certificate"), "{err}");
    }
}
