//! Blocking transport for [`wsduplex_core`]: drives the sans-IO machine over a
//! [`std::net::TcpStream`] (or any [`Stream`]), with nothing added but reading, writing, timers
//! and waking the other half.
//!
//! ```no_run
//! use wsduplex_std::{Config, Event, Message, connect};
//!
//! let ws = connect("ws://127.0.0.1:9000/", Config::default())?;
//! let (tx, rx) = ws.split();
//! let reader = std::thread::spawn(move || {
//!     // Replies keep arriving after our Close, until the server's own Close.
//!     while let Some(event) = rx.recv()? {
//!         if let Event::Message(Message::Text(t)) = event {
//!             print!("{t}");
//!         }
//!     }
//!     Ok::<_, wsduplex_std::Error>(rx.outcome())
//! });
//! for _ in 0..1024 {
//!     tx.send_binary(vec![0u8; 128 << 10])?;
//! }
//! tx.close(1000, "")?; // close-output: the reader still gets the final tally
//! let outcome = reader.join().expect("reader thread")?;
//! assert!(outcome.is_some_and(|o| o.is_clean()));
//! # Ok::<(), wsduplex_std::Error>(())
//! ```
//!
//! **Threads.** [`WebSocket`] is the single-owner socket; [`WebSocket::split`] gives a
//! [`Sender`] and a [`Receiver`] for two threads. Any thread that waits (in `recv`, in a send
//! that must flush, in `close_and_wait`) drives the connection: one reads while the others
//! wait on a condition variable, and nobody ever holds the connection's lock across I/O, so a
//! send blocked on a slow peer never stops the other half from reading.
//!
//! **Bounds.** Reads wake at the core's next deadline (and at least every 100 ms), so close
//! timeouts, reply deadlines and the EOF wait fire while a thread is blocked in a read. Writes
//! are bounded by [`Config::write_timeout`]; the core refuses to queue more than
//! `send_buffer_limit` bytes, and a send flushes before it returns.

pub mod demo;
mod socket;
mod stream;

use std::time::Duration;

pub use socket::{Receiver, Sender, WebSocket, accept, accept_with, connect, connect_with};
pub use stream::{OsKeys, Stream};
pub use wsduplex_core::{
    Accept, Chunk, ClientRequest, CloseFrame, DataKind, Delivery, Event, HandshakeError, LocalError, Message, Outcome,
    PeerError, Request, Response, State, Stats, Text, Timer, WsUrl, bytes, seed,
};

/// Transport settings, plus the core's.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sans-IO machine's limits and timers.
    pub core: wsduplex_core::Config,
    /// Longest a single write may block on a peer that does not read (default 30 s). Past it
    /// the connection is aborted and the call returns [`Error::Io`].
    pub write_timeout: Duration,
    /// TCP connect timeout for [`connect`] (default 10 s).
    pub connect_timeout: Duration,
    /// Size of the buffer each read fills (default 64 KiB).
    pub read_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            core: wsduplex_core::Config::default(),
            write_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_buffer_size: 64 << 10,
        }
    }
}

/// Errors of the blocking transport.
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
    #[error("connection ended: {0:?}")]
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
}
