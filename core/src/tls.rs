//! TLS under the WebSocket bytes (`wss://`, RFC 6455 §3 and §4.1 "If /secure/ is true, the
//! client MUST perform a TLS handshake over the connection after opening the connection and
//! before sending the handshake data"): rustls' own sans-IO session, between the socket's
//! bytes and the [`Connection`](crate::Connection), inside the driver.
//!
//! Why here and not as a TLS stream under each transport (`StreamOwned`, `tokio-rustls`,
//! `futures-rustls`): a TLS stream is one object that a reader blocked in `read` holds, so a
//! blocking transport's two halves cannot use it at once — the seed's very pattern — and an
//! async one has to split it behind a lock. Here the socket stays a plain TCP stream that one
//! thread reads while another writes; the driver decrypts what a read brought and encrypts
//! what a write takes, under the lock it already holds for the connection (never across I/O).
//! So every transport gets TLS, split halves included, from this one file; the writer's
//! outbox holds the ciphertext, so a partial write resumes at the right byte and nothing is
//! buffered out of the transport's sight; and the handshake, the close timeouts and the EOF
//! wait bound TLS as they bound the rest. A stream that is already TLS (a `tokio-rustls`
//! stream from your own acceptor) still goes to `connect_with` / `accept_with` as any stream.
//!
//! Closing: our `close_notify` goes out right before we shut our write side down (after the
//! close handshake, or to disconnect); the peer's `close_notify` is the end of its input, as
//! its TCP FIN is. A peer that sends neither is bounded by the EOF wait (`Config::eof_timeout`).
//!
//! Trust: clients verify the server's certificate against Mozilla's root certificates
//! (`webpki-roots`) unless given a `rustls::ClientConfig` of their own. The field splits
//! between those roots and the platform's store; we take the roots compiled in, because they
//! are the same on every machine (a minimal container has no CA bundle at all, and a
//! platform store that differs between a laptop and production makes failures that only
//! happen in one of them). A `ClientConfig` built with `rustls-platform-verifier` or extra
//! roots ([`client_config`]) plugs in through `SocketConfig::tls_client`.

#[cfg(feature = "rustls")]
pub use enabled::*;

#[cfg(feature = "rustls")]
mod enabled {
    use std::io::{BufRead, IoSlice, Write};
    use std::sync::{Arc, OnceLock};

    use bytes::{BufMut, Bytes, BytesMut};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

    use crate::LocalError;

    /// What decrypting a read's bytes ended with.
    #[derive(Debug)]
    pub(crate) enum Input {
        /// Everything was taken; more may come.
        More,
        /// The peer's `close_notify`: the end of its input.
        Closed,
        /// A TLS failure (a bad certificate, a corrupt record ...): nothing more is read.
        Failed(rustls::Error),
    }

    /// One connection's TLS session.
    #[derive(Debug)]
    pub(crate) struct Tls {
        session: rustls::Connection,
        /// Where records are written out of rustls: one allocation, reused once the outbox has
        /// written and dropped what it took (a fresh buffer per write was page faults).
        records: BytesMut,
    }

    impl Tls {
        /// A client session for `host` (a DNS name or an IP address, no port, no brackets),
        /// with `config` or the default one ([`default_client_config`]).
        pub(crate) fn client(config: Option<&Arc<ClientConfig>>, host: &str) -> Result<Tls, LocalError> {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| LocalError::InvalidUrl(format!("{host:?} is not a TLS server name: {e}")))?;
            let config = config.cloned().unwrap_or_else(default_client_config);
            let session = ClientConnection::new(config, name).map_err(|e| LocalError::Tls(e.to_string()))?;
            Ok(Tls::new(rustls::Connection::Client(session)))
        }

        /// A server session.
        pub(crate) fn server(config: &Arc<ServerConfig>) -> Result<Tls, LocalError> {
            let session = ServerConnection::new(config.clone()).map_err(|e| LocalError::Tls(e.to_string()))?;
            Ok(Tls::new(rustls::Connection::Server(session)))
        }

        fn new(mut session: rustls::Connection) -> Tls {
            // The outbox bounds what is taken per write (and the connection what is queued),
            // so rustls needs no limit of its own: with one, `seal` could not take all.
            session.set_buffer_limit(None);
            Tls { session, records: BytesMut::new() }
        }

        /// Decrypts `input` (what a read brought), handing the plaintext to `deliver` in
        /// order. On a failure, the plaintext of the records before the bad one is delivered
        /// first: what arrived intact is never lost.
        pub(crate) fn on_input(&mut self, mut input: &[u8], mut deliver: impl FnMut(&[u8])) -> Input {
            while !input.is_empty() {
                match self.session.read_tls(&mut input) {
                    // After the peer's close_notify rustls takes nothing more.
                    Ok(0) => return Input::Closed,
                    Ok(_) => {}
                    Err(e) => return Input::Failed(rustls::Error::General(e.to_string())),
                }
                let processed = self.session.process_new_packets();
                self.drain(&mut deliver);
                match processed {
                    Err(e) => return Input::Failed(e),
                    Ok(state) if state.peer_has_closed() => return Input::Closed,
                    Ok(_) => {}
                }
            }
            Input::More
        }

        fn drain(&mut self, deliver: &mut impl FnMut(&[u8])) {
            let mut reader = self.session.reader();
            loop {
                // The plaintext is handed over in place (`fill_buf`), not copied out first.
                let n = match reader.fill_buf() {
                    Ok(plain) if !plain.is_empty() => {
                        deliver(plain);
                        plain.len()
                    }
                    _ => return,
                };
                reader.consume(n);
            }
        }

        /// Encrypts `plain`, all of it, as few records as it fits in: a frame's header and
        /// payload share one (queued until the handshake is done).
        pub(crate) fn seal(&mut self, plain: &[Bytes]) {
            let mut slices: Vec<IoSlice<'_>> = plain.iter().map(|b| IoSlice::new(b)).collect();
            let mut left = &mut slices[..];
            let mut writer = self.session.writer();
            while !left.is_empty() {
                // Without a buffer limit rustls takes everything; it fails only once the
                // session has (then the failure is reported by the input side).
                match writer.write_vectored(left) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => IoSlice::advance_slices(&mut left, n),
                }
            }
        }

        /// Queues our `close_notify` (once; rustls ignores a second).
        pub(crate) fn close_notify(&mut self) {
            self.session.send_close_notify();
        }

        /// True if records are waiting to be written.
        pub(crate) fn wants_write(&self) -> bool {
            self.session.wants_write()
        }

        /// The records waiting to be written, in one buffer.
        pub(crate) fn take_output(&mut self) -> Option<Bytes> {
            while self.session.wants_write() {
                // Writing into memory cannot fail.
                if self.session.write_tls(&mut (&mut self.records).writer()).is_err() {
                    break;
                }
            }
            (!self.records.is_empty()).then(|| self.records.split().freeze())
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        // rustls' default provider, named explicitly: with a second one in the application's
        // tree (ring), rustls' `builder()` would not know which to take.
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    fn client_builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports TLS 1.2 and 1.3")
    }

    fn mozilla_roots() -> RootCertStore {
        RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
    }

    /// The client configuration `wss://` URLs use unless `SocketConfig::tls_client` says
    /// otherwise: Mozilla's root certificates (`webpki-roots`), TLS 1.2 and 1.3, no client
    /// certificate. Built once.
    pub fn default_client_config() -> Arc<ClientConfig> {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        CONFIG
            .get_or_init(|| Arc::new(client_builder().with_root_certificates(mozilla_roots()).with_no_client_auth()))
            .clone()
    }

    /// A client configuration that trusts the CA certificates in `ca_pem` (PEM) in addition
    /// to Mozilla's roots: a private CA, a test CA.
    pub fn client_config(ca_pem: &[u8]) -> Result<Arc<ClientConfig>, LocalError> {
        let mut roots = mozilla_roots();
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| LocalError::Tls(format!("CA file: {e}")))?;
            roots.add(cert).map_err(|e| LocalError::Tls(format!("CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(LocalError::Tls("CA file: no certificate in it".into()));
        }
        Ok(Arc::new(client_builder().with_root_certificates(roots).with_no_client_auth()))
    }

    /// A server configuration from a certificate chain and its private key, both PEM (the
    /// server's certificate first). No client certificates are asked for.
    pub fn server_config(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, LocalError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LocalError::Tls(format!("certificate file: {e}")))?;
        if chain.is_empty() {
            return Err(LocalError::Tls("certificate file: no certificate in it".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| LocalError::Tls(format!("key file: {e}")))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| LocalError::Tls(format!("certificate and key: {e}")))?;
        Ok(Arc::new(config))
    }
}

/// Without the `rustls` feature there is no session: `Option<Tls>` is always `None`, and the
/// code that would use one compiles away.
#[cfg(not(feature = "rustls"))]
mod disabled {
    use bytes::Bytes;

    #[derive(Debug)]
    #[allow(dead_code)] // never constructed: there is no session to produce it
    pub(crate) enum Input {
        More,
        Closed,
        Failed(std::convert::Infallible),
    }

    #[derive(Debug)]
    pub(crate) enum Tls {}

    impl Tls {
        pub(crate) fn on_input(&mut self, _: &[u8], _: impl FnMut(&[u8])) -> Input {
            match *self {}
        }
        pub(crate) fn seal(&mut self, _: &[Bytes]) {
            match *self {}
        }
        pub(crate) fn close_notify(&mut self) {
            match *self {}
        }
        pub(crate) fn wants_write(&self) -> bool {
            match *self {}
        }
        pub(crate) fn take_output(&mut self) -> Option<Bytes> {
            match *self {}
        }
    }
}

#[cfg(not(feature = "rustls"))]
pub(crate) use disabled::{Input, Tls};
