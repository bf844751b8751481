//! What the transports share, so both expose the very same types: their settings and their
//! error. Plain data: nothing here does I/O.

use std::time::Duration;

use crate::{HandshakeError, LocalError, Outcome, PeerError};

/// Transport settings, plus the core's.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sans-IO machine's limits and timers.
    pub core: crate::Config,
    /// Longest a single write may wait on a peer that does not read (default 30 s). Past it
    /// the connection is aborted and the call returns [`Error::Io`].
    pub write_timeout: Duration,
    /// TCP connect timeout for `connect` (default 10 s).
    pub connect_timeout: Duration,
    /// Size of the buffer each read fills (default 64 KiB).
    pub read_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            core: crate::Config::default(),
            write_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_buffer_size: 64 << 10,
        }
    }
}

/// Errors of a transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket failed (connection refused, reset, write timeout, ...).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The opening handshake failed; `Rejected(status)` when the server said no.
    #[error("handshake: {0}")]
    Handshake(HandshakeError),
    /// The application misused the API (nothing was sent).
    #[error(transparent)]
    Local(#[from] LocalError),
    /// The connection ended other than by a clean close handshake.
    #[error("connection ended: {0}")]
    Closed(Outcome),
}

impl Error {
    /// The close code we sent when the peer broke the protocol.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Error::Closed(Outcome::Failed(e)) => Some(e.close_code()),
            _ => None,
        }
    }

    /// Why an opening handshake did not reach `Open`, from how the connection ended.
    pub fn from_handshake(outcome: Option<Outcome>) -> Self {
        match outcome {
            Some(Outcome::Failed(PeerError::Handshake(e))) => Error::Handshake(e),
            Some(Outcome::TimedOut(_)) => Error::Handshake(HandshakeError::TimedOut),
            Some(o) => Error::Closed(o),
            None => Error::Closed(Outcome::Abnormal),
        }
    }
}
