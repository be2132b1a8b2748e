//! Certificates and TLS configuration for the QUIC transport.
//!
//! A cluster has one certificate authority; every member presents a
//! certificate it signed, and accepts only peers that do the same (mutual
//! TLS). [`ClusterCa`] creates such an authority and issues member
//! certificates, for tests, demos and small deployments; production
//! deployments can load PEM files made by their own PKI with
//! [`MemberIdentity::from_pem`].

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The DNS name every member certificate carries, and the name members
/// connect to: identity inside the cluster is "signed by the cluster's CA".
pub const CLUSTER_SERVER_NAME: &str = "swim.cluster";

/// ALPN protocol of swim over QUIC.
pub const ALPN: &[u8] = b"swim/1";

/// Why TLS material could not be made or used.
#[derive(Debug)]
pub struct TlsError(String);

impl TlsError {
    fn new(what: &str, e: impl std::fmt::Display) -> Self {
        TlsError(format!("{what}: {e}"))
    }
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// A cluster certificate authority (key and self-signed certificate).
///
/// ```
/// use swim_transport::tls::ClusterCa;
/// let ca = ClusterCa::generate("example cluster").unwrap();
/// let member = ca.issue("node-a").unwrap();
/// assert!(member.cert_pem().contains("BEGIN CERTIFICATE"));
/// assert_eq!(member.ca_der(), ca.cert_der());
/// ```
pub struct ClusterCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// A new authority named `cluster`.
    pub fn generate(cluster: &str) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::new("generating the CA key", e))?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| TlsError::new("CA parameters", e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{cluster} CA"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).map_err(|e| TlsError::new("signing the CA", e))?;
        Ok(ClusterCa { params, key, cert })
    }

    /// The authority's certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        self.cert.der()
    }

    /// The authority's certificate (PEM), for distribution to members.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// Issues a certificate for member `name`.
    pub fn issue(&self, name: &str) -> Result<MemberIdentity, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::new("generating a member key", e))?;
        let mut params = rcgen::CertificateParams::new(vec![CLUSTER_SERVER_NAME.to_owned()])
            .map_err(|e| TlsError::new("member parameters", e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(|e| TlsError::new("signing a member certificate", e))?;
        Ok(MemberIdentity {
            ca: self.cert.der().clone(),
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What a member needs for mutual TLS: the cluster's CA certificate, its
/// own certificate chain and its private key.
///
/// ```
/// use swim_transport::tls::{ClusterCa, MemberIdentity};
/// let ca = ClusterCa::generate("prod").unwrap();
/// let issued = ca.issue("node-a").unwrap();
/// // What a deployment would read from files:
/// let loaded = MemberIdentity::from_pem(&ca.cert_pem(), issued.cert_pem(), issued.key_pem()).unwrap();
/// assert!(loaded.server_config().is_ok() && loaded.client_config().is_ok());
/// ```
pub struct MemberIdentity {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for MemberIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberIdentity").field("chain", &self.chain.len()).finish_non_exhaustive()
    }
}

impl Clone for MemberIdentity {
    fn clone(&self) -> Self {
        MemberIdentity {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

impl MemberIdentity {
    /// Loads PEM text: the CA certificate, the member's certificate chain,
    /// and its private key.
    pub fn from_pem(ca: &str, chain: &str, key: &str) -> Result<Self, TlsError> {
        let ca = CertificateDer::from_pem_slice(ca.as_bytes()).map_err(|e| TlsError::new("the CA certificate", e))?;
        let certs = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::new("the member certificate", e))?;
        if certs.is_empty() {
            return Err(TlsError("the member certificate file holds no certificate".into()));
        }
        let key_der = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| TlsError::new("the private key", e))?;
        Ok(MemberIdentity { ca, chain: certs, key: key_der, cert_pem: chain.to_owned(), key_pem: key.to_owned() })
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca
    }

    /// The member's certificate chain (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The member's private key (PEM).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).map_err(|e| TlsError::new("the CA certificate", e))?;
        Ok(Arc::new(roots))
    }

    /// TLS 1.3 server configuration that requires clients signed by the CA.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let provider = provider();
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider.clone())
            .build()
            .map_err(|e| TlsError::new("the client verifier", e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::new("TLS versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::new("the member certificate", e))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    /// TLS 1.3 client configuration that presents the member certificate and
    /// accepts servers signed by the CA.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::new("TLS versions", e))?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::new("the member certificate", e))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_identities_round_trip_through_pem() {
        let ca = ClusterCa::generate("test").unwrap();
        let member = ca.issue("node-a").unwrap();
        let loaded = MemberIdentity::from_pem(&ca.cert_pem(), member.cert_pem(), member.key_pem()).unwrap();
        assert_eq!(loaded.ca_der(), ca.cert_der());
        assert_eq!(loaded.chain, member.chain);
        assert!(loaded.server_config().is_ok() && loaded.client_config().is_ok());
        assert!(MemberIdentity::from_pem("junk", member.cert_pem(), member.key_pem()).is_err());
        assert!(MemberIdentity::from_pem(&ca.cert_pem(), "", member.key_pem()).is_err());
    }
}
