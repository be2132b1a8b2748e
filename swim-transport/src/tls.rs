//! Certificates and TLS configuration for the QUIC transport.
//!
//! A cluster has one certificate authority; every member presents a
//! certificate it signed, and accepts only peers that do the same (mutual
//! TLS). [`ClusterCa`] creates such an authority, saves and reloads it, and
//! issues member certificates of bounded validity, for tests, demos and small
//! deployments; production deployments can load PEM files made by their own
//! PKI with [`MemberIdentity::from_pem`].
//!
//! A member trusts every CA certificate in its CA file, so an authority is
//! replaced without a flag day: add the new CA to every member's CA file,
//! issue new member certificates, then drop the old CA.

use std::sync::Arc;
use std::time::Duration;

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

/// The DNS name under which a member certificate names its member: a
/// digest of the name (member names are any bytes; DNS names are not), in
/// a domain of its own.
///
/// ```
/// use swim_transport::tls::member_dns_name;
/// let dns = member_dns_name(b"node-a");
/// assert!(dns.ends_with(".member.swim") && dns.len() < 100);
/// assert_ne!(dns, member_dns_name(b"node-b"));
/// ```
pub fn member_dns_name(name: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"swim member\0");
    ctx.update(name);
    let digest = ctx.finish();
    let hex: String = digest.as_ref().iter().take(24).map(|b| format!("{b:02x}")).collect();
    format!("{hex}.member.swim")
}

/// Whether `cert` (a member certificate, already verified against the
/// cluster's CAs by the handshake) names the member `name`, and only it: a
/// wildcard (`*.member.swim`, which some PKI could issue) would name every
/// member, so a certificate that also names a member no one is called is
/// refused.
pub fn certificate_names(cert: &CertificateDer<'_>, name: &[u8]) -> bool {
    let Ok(cert) = webpki::EndEntityCert::try_from(cert) else { return false };
    let valid_for = |name: &[u8]| {
        rustls_pki_types::ServerName::try_from(member_dns_name(name))
            .is_ok_and(|dns| cert.verify_is_valid_for_subject_name(&dns).is_ok())
    };
    valid_for(name) && !valid_for(b"\0no member is called this\0")
}

/// How long a member certificate from [`ClusterCa::issue`] is valid.
pub const MEMBER_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long a [`ClusterCa`] certificate is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Certificates start to be valid this long before they are made, so that a
/// member whose clock is a little behind accepts them.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// Sets `params` valid from a little before now for `validity`.
fn valid_for(params: &mut rcgen::CertificateParams, validity: Duration) -> Result<(), TlsError> {
    let now = time::OffsetDateTime::now_utc();
    let skew = time::Duration::try_from(CLOCK_SKEW).map_err(|e| TlsError::new("the validity period", e))?;
    let length = time::Duration::try_from(validity).map_err(|e| TlsError::new("the validity period", e))?;
    params.not_before = now.checked_sub(skew).ok_or_else(|| TlsError("the validity period".into()))?;
    params.not_after = now.checked_add(length).ok_or_else(|| TlsError("the validity period is too long".into()))?;
    Ok(())
}

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
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// The signing parameters of the authority of cluster `cluster` (its
    /// name is all that distinguishes it, so a reloaded authority issues
    /// certificates that chain to the certificate it was saved with).
    fn params(cluster: &str) -> Result<rcgen::CertificateParams, TlsError> {
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| TlsError::new("CA parameters", e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{cluster} CA"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        Ok(params)
    }

    /// A new authority named `cluster`, valid for [`CA_VALIDITY`].
    pub fn generate(cluster: &str) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::new("generating the CA key", e))?;
        let mut params = Self::params(cluster)?;
        valid_for(&mut params, CA_VALIDITY)?;
        let cert = params.self_signed(&key).map_err(|e| TlsError::new("signing the CA", e))?;
        Ok(ClusterCa { params, key, cert_der: cert.der().clone(), cert_pem: cert.pem() })
    }

    /// Reloads the authority of cluster `cluster` from its certificate and
    /// key (as [`cert_pem`](Self::cert_pem) and [`key_pem`](Self::key_pem)
    /// saved them). Refuses a key that is not the certificate's.
    ///
    /// ```
    /// use swim_transport::tls::ClusterCa;
    /// let ca = ClusterCa::generate("prod").unwrap();
    /// let (cert, key) = (ca.cert_pem(), ca.key_pem());
    /// let again = ClusterCa::from_pem("prod", &cert, &key).unwrap();
    /// assert_eq!(again.cert_der(), ca.cert_der());
    /// let other = ClusterCa::generate("prod").unwrap();
    /// assert!(ClusterCa::from_pem("prod", &cert, &other.key_pem()).is_err());
    /// ```
    pub fn from_pem(cluster: &str, cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| TlsError::new("the CA certificate", e))?;
        let key = rcgen::KeyPair::from_pem(key_pem).map_err(|e| TlsError::new("the CA key", e))?;
        // A certificate holds its subject's public key verbatim.
        let public = key.public_key_raw();
        if !cert_der.as_ref().windows(public.len()).any(|w| w == public) {
            return Err(TlsError("the CA key does not belong to the CA certificate".into()));
        }
        Ok(ClusterCa { params: Self::params(cluster)?, key, cert_der, cert_pem: cert_pem.to_owned() })
    }

    /// The authority's certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The authority's certificate (PEM), for distribution to members.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The authority's private key (PEM), to save it (in a file only its
    /// operator can read) and [reload](Self::from_pem) it later.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Issues a certificate for member `name`, valid for
    /// [`MEMBER_VALIDITY`].
    pub fn issue(&self, name: &str) -> Result<MemberIdentity, TlsError> {
        self.issue_valid_for(name, MEMBER_VALIDITY)
    }

    /// Issues a certificate for member `name`, valid from now for `validity`.
    /// It names the member ([`member_dns_name`]), so that under QUIC nobody
    /// else can speak for it.
    pub fn issue_valid_for(&self, name: &str, validity: Duration) -> Result<MemberIdentity, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::new("generating a member key", e))?;
        let sans = vec![CLUSTER_SERVER_NAME.to_owned(), member_dns_name(name.as_bytes())];
        let mut params = rcgen::CertificateParams::new(sans).map_err(|e| TlsError::new("member parameters", e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        valid_for(&mut params, validity)?;
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(|e| TlsError::new("signing a member certificate", e))?;
        Ok(MemberIdentity {
            ca: self.cert_der.clone(),
            more_cas: Vec::new(),
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
    /// The trusted CA certificate, and any others (during a CA change).
    ca: CertificateDer<'static>,
    more_cas: Vec<CertificateDer<'static>>,
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
            more_cas: self.more_cas.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

impl MemberIdentity {
    /// Loads PEM text: the CA certificates to trust (one, or several while
    /// the cluster changes its CA), the member's certificate chain, and its
    /// private key.
    pub fn from_pem(ca: &str, chain: &str, key: &str) -> Result<Self, TlsError> {
        let mut cas = CertificateDer::pem_slice_iter(ca.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::new("the CA certificate", e))?
            .into_iter();
        let ca = cas.next().ok_or_else(|| TlsError("the CA file holds no certificate".into()))?;
        let more_cas = cas.collect();
        let certs = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::new("the member certificate", e))?;
        if certs.is_empty() {
            return Err(TlsError("the member certificate file holds no certificate".into()));
        }
        let key_der = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| TlsError::new("the private key", e))?;
        Ok(MemberIdentity {
            ca,
            more_cas,
            chain: certs,
            key: key_der,
            cert_pem: chain.to_owned(),
            key_pem: key.to_owned(),
        })
    }

    /// The (first) trusted CA certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca
    }

    /// Every trusted CA certificate (DER).
    pub fn trusted_cas(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        std::iter::once(&self.ca).chain(&self.more_cas)
    }

    /// Trusts another CA (PEM), as a member does while its cluster moves to
    /// a new CA: peers whose certificates either CA signed are accepted.
    ///
    /// ```
    /// use swim_transport::tls::ClusterCa;
    /// let (old, new) = (ClusterCa::generate("prod").unwrap(), ClusterCa::generate("prod").unwrap());
    /// let mut member = old.issue("node-a").unwrap();
    /// member.trust(&new.cert_pem()).unwrap();
    /// assert_eq!(member.trusted_cas().count(), 2);
    /// ```
    pub fn trust(&mut self, ca_pem: &str) -> Result<(), TlsError> {
        let ca =
            CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| TlsError::new("the CA certificate", e))?;
        if self.ca != ca && !self.more_cas.contains(&ca) {
            self.more_cas.push(ca);
        }
        Ok(())
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
        for ca in self.trusted_cas() {
            roots.add(ca.clone()).map_err(|e| TlsError::new("the CA certificate", e))?;
        }
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

    /// Whether a server with `verifier_of`'s trust accepts `member` as a
    /// client at `at`.
    fn accepts(verifier_of: &MemberIdentity, member: &MemberIdentity, at: std::time::SystemTime) -> bool {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(verifier_of.roots().unwrap(), provider()).build().unwrap();
        let at = rustls_pki_types::UnixTime::since_unix_epoch(at.duration_since(std::time::UNIX_EPOCH).unwrap());
        verifier.verify_client_cert(&member.chain[0], &member.chain[1..], at).is_ok()
    }

    #[test]
    fn a_member_certificate_names_its_member_and_no_other() {
        let ca = ClusterCa::generate("test").unwrap();
        let a = ca.issue("node-a").unwrap();
        assert!(certificate_names(&a.chain[0], b"node-a"));
        assert!(!certificate_names(&a.chain[0], b"node-b"));
        assert!(!certificate_names(&a.chain[0], b""));
        assert!(!certificate_names(&CertificateDer::from(vec![1, 2, 3]), b"node-a"));
        // A wildcard names every member: refused for all.
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["*.member.swim".to_owned()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "everyone");
        let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
        let wildcard = params.signed_by(&key, &issuer).unwrap();
        let as_end_entity = webpki::EndEntityCert::try_from(wildcard.der()).unwrap();
        let node_a = rustls_pki_types::ServerName::try_from(member_dns_name(b"node-a")).unwrap();
        assert!(as_end_entity.verify_is_valid_for_subject_name(&node_a).is_ok(), "a wildcard matches");
        assert!(!certificate_names(wildcard.der(), b"node-a"));
    }

    #[test]
    fn member_certificates_expire() {
        let ca = ClusterCa::generate("test").unwrap();
        let a = ca.issue("node-a").unwrap();
        let b = ca.issue_valid_for("node-b", Duration::from_secs(3600)).unwrap();
        let now = std::time::SystemTime::now();
        assert!(accepts(&a, &b, now));
        assert!(!accepts(&a, &b, now + Duration::from_secs(2 * 3600)), "an hour's certificate, two hours on");
        assert!(accepts(&b, &a, now + Duration::from_secs(300 * 24 * 3600)));
        assert!(!accepts(&b, &a, now + MEMBER_VALIDITY + Duration::from_secs(24 * 3600)), "a year and a day on");
    }

    #[test]
    fn a_reloaded_ca_issues_for_the_same_cluster_and_members_can_trust_two() {
        let ca = ClusterCa::generate("test").unwrap();
        let reloaded = ClusterCa::from_pem("test", &ca.cert_pem(), &ca.key_pem()).unwrap();
        let (a, b) = (ca.issue("node-a").unwrap(), reloaded.issue("node-b").unwrap());
        let now = std::time::SystemTime::now();
        assert!(accepts(&a, &b, now) && accepts(&b, &a, now), "one CA, before and after saving it");
        // A CA change: c is issued by the new CA; a trusts both, b only the old.
        let new = ClusterCa::generate("test").unwrap();
        let c = new.issue("node-c").unwrap();
        let mut a = a;
        a.trust(&new.cert_pem()).unwrap();
        assert!(accepts(&a, &c, now) && accepts(&a, &b, now));
        assert!(!accepts(&b, &c, now));
        // Both CAs in one CA file.
        let both = format!("{}{}", ca.cert_pem(), new.cert_pem());
        let loaded = MemberIdentity::from_pem(&both, b.cert_pem(), b.key_pem()).unwrap();
        assert!(accepts(&loaded, &c, now) && accepts(&loaded, &a, now));
    }
}
