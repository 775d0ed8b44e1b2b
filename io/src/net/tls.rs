//! TLS settings shared by the `wss://` stream and the `https://` snapshot
//! client: which roots are trusted, plus an optional CA file (PEM).
//!
//! Owning thread: built once at start-up ([`TlsSetup::new`]); the result is
//! immutable and shared (`Arc`) by the WebSocket client (ingest thread) and
//! the snapshot fetcher thread. Both use the same root certificates, so a
//! CA file trusted for the stream is trusted for REST too.
//!
//! Crypto: rustls with the `ring` provider, chosen explicitly (never the
//! process default), TLS 1.2 and 1.3 (classical key exchange: ring has no
//! post-quantum group). Roots: Mozilla's (the
//! `webpki-root-certs` crate, compiled in) or the system's store
//! (`rustls-native-certs`), and every certificate of `ca_file` added on top.
//! A CA file that cannot be read, or holds no certificate, is a start-up
//! error naming the file; no private key is read here.

use super::error::NetError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::PathBuf;
use std::sync::Arc;

/// Which root certificates to trust.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsRoots {
    /// Mozilla's roots, compiled in (`webpki-root-certs`): the same on every host.
    #[default]
    WebPki,
    /// The operating system's store (e.g. `/etc/ssl/certs`), read at start-up.
    System,
}

/// TLS configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The base roots.
    pub roots: TlsRoots,
    /// A PEM file whose certificates are trusted as well (e.g. a test CA).
    pub ca_file: Option<PathBuf>,
}

/// Built TLS settings: the rustls client configuration and the roots.
#[derive(Clone, Debug)]
pub struct TlsSetup {
    client: Arc<ClientConfig>,
    roots: Arc<Vec<CertificateDer<'static>>>,
}

impl TlsSetup {
    /// Load the roots and the CA file, and build the client configuration.
    pub fn new(config: &TlsConfig) -> Result<TlsSetup, NetError> {
        let mut roots = base_roots(config.roots)?;
        if let Some(path) = &config.ca_file {
            roots.extend(read_ca_file(path)?);
        }
        let mut store = RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(roots.iter().cloned());
        if added == 0 {
            return Err(NetError::Tls {
                context: "root certificates".into(),
                reason: "none of them could be parsed".into(),
            });
        }
        // rustls 0.23.48 deprecates ring's provider only because it lacks
        // post-quantum key exchange; X25519 and the P curves stay, which is
        // what exchanges serve. ring builds with a plain C compiler, where
        // aws-lc needs CMake and minutes of build on a small host.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| NetError::Tls {
                context: "rustls client configuration".into(),
                reason: error.to_string(),
            })?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(TlsSetup {
            client: Arc::new(client),
            roots: Arc::new(roots),
        })
    }

    /// The rustls client configuration (for the WebSocket stream).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.client)
    }

    /// The trusted root certificates (for the REST client).
    pub fn root_certificates(&self) -> &[CertificateDer<'static>] {
        &self.roots
    }
}

fn base_roots(roots: TlsRoots) -> Result<Vec<CertificateDer<'static>>, NetError> {
    match roots {
        TlsRoots::WebPki => Ok(webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec()),
        TlsRoots::System => {
            let loaded = rustls_native_certs::load_native_certs();
            if loaded.certs.is_empty() {
                let reason = loaded
                    .errors
                    .first()
                    .map_or_else(|| "the store is empty".to_string(), ToString::to_string);
                return Err(NetError::Tls {
                    context: "the system's root certificates".into(),
                    reason,
                });
            }
            Ok(loaded.certs)
        }
    }
}

fn read_ca_file(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let context = || format!("CA file {}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| NetError::Tls {
            context: context(),
            reason: error.to_string(),
        })?;
    if certs.is_empty() {
        return Err(NetError::Tls {
            context: context(),
            reason: "holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Mozilla's roots load; a missing or empty CA file is an error naming it.
    #[test]
    fn roots_and_ca_file_errors() {
        let setup = TlsSetup::new(&TlsConfig::default()).unwrap();
        assert!(setup.root_certificates().len() > 50);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = TlsSetup::new(&TlsConfig {
            ca_file: Some(missing.clone()),
            ..TlsConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("missing.pem"), "{error}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = TlsSetup::new(&TlsConfig {
            ca_file: Some(empty),
            ..TlsConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("no PEM certificate"), "{error}");
    }
}
