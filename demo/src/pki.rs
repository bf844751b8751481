//! Certificates made on the spot (rcgen) for the TLS tests and benchmarks of every transport:
//! a CA, and server certificates it signs — valid, expired, or for another host. Nothing is
//! fetched or checked in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use wsduplex_core::rustls::{ClientConfig, ServerConfig};
use wsduplex_core::tls;

/// A test certificate authority.
pub struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate and its key, PEM.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate chain (the leaf; the CA is the trust anchor).
    pub cert_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
}

/// What a server certificate is like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    /// Valid now, for `localhost` and `127.0.0.1`.
    Valid,
    /// For `localhost` and `127.0.0.1`, but it expired in 2020.
    Expired,
    /// Valid now, but for `other.example` only.
    WrongHost,
}

fn fail(e: rcgen::Error) -> std::io::Error {
    std::io::Error::other(format!("rcgen: {e}"))
}

impl Pki {
    /// A new CA with a fresh key.
    pub fn new() -> std::io::Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        params.distinguished_name.push(DnType::CommonName, "wsduplex test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(fail)?;
        let cert = params.self_signed(&key).map_err(fail)?;
        Ok(Pki { ca_pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate, PEM (what a client trusts: `--tls-ca`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A server certificate signed by the CA.
    pub fn leaf(&self, kind: LeafKind) -> std::io::Result<Leaf> {
        let names: Vec<String> = match kind {
            LeafKind::Valid | LeafKind::Expired => vec!["localhost".into(), "127.0.0.1".into()],
            LeafKind::WrongHost => vec!["other.example".into()],
        };
        let mut params = CertificateParams::new(names).map_err(fail)?;
        params.distinguished_name.push(DnType::CommonName, "wsduplex test server");
        if kind == LeafKind::Expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().map_err(fail)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(fail)?;
        Ok(Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A server configuration with a certificate of `kind`.
    pub fn server_config(&self, kind: LeafKind) -> std::io::Result<Arc<ServerConfig>> {
        let leaf = self.leaf(kind)?;
        tls::server_config(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).map_err(std::io::Error::other)
    }

    /// A client configuration that trusts the CA.
    pub fn client_config(&self) -> std::io::Result<Arc<ClientConfig>> {
        tls::client_config(self.ca_pem.as_bytes()).map_err(std::io::Error::other)
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` (a valid leaf) into `dir`, for the
    /// binaries' `--tls-ca`, `--tls-cert` and `--tls-key`.
    pub fn write_files(&self, dir: &Path) -> std::io::Result<PemFiles> {
        let leaf = self.leaf(LeafKind::Valid)?;
        let files = PemFiles { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") };
        std::fs::write(&files.ca, &self.ca_pem)?;
        std::fs::write(&files.cert, &leaf.cert_pem)?;
        std::fs::write(&files.key, &leaf.key_pem)?;
        Ok(files)
    }
}

/// Where [`Pki::write_files`] put the PEM files.
#[derive(Debug, Clone)]
pub struct PemFiles {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's key.
    pub key: PathBuf,
}
