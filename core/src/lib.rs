#![doc = include_str!("../README.md")]

mod accounting;
mod close;
mod config;
mod connection;
pub mod deflate;
pub mod driver;
mod error;
mod frame;
pub mod handshake;
mod keys;
mod message;
mod state;
mod timer;
pub mod tls;
mod trace;
mod upgrade;
mod utf8;

pub use accounting::{Counters, Stats};
pub use close::{CloseCode, CloseFrame, Outcome, Timer, is_valid_wire_code};
pub use config::{CloseReply, Config, Delivery, Keepalive};
pub use connection::{Connection, Event, Role, Transmit};
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{HandshakeError, LocalError, PeerError};
pub use frame::OpCode;
pub use handshake::{Accept, ClientRequest, Rejection, Request, Response, WsUrl};
#[cfg(feature = "os-keys")]
pub use keys::OsKeys;
pub use keys::{KeySource, SeededKeys};
pub use message::{Chunk, DataKind, Message, Text};
pub use state::State;
pub use upgrade::{accept_response, reject_response};

/// Re-exported: the HTTP types of the handshake's edges (`Request: TryFrom<&http::Request<B>>`,
/// [`accept_response`], [`reject_response`]).
pub use http;

/// Re-exported so callers build payloads with the same `Bytes` type.
pub use bytes;

/// Re-exported: the TLS library (`SocketConfig::tls_client`, `tls_server`), so one
/// dependency builds its configurations.
#[cfg(feature = "rustls")]
pub use rustls;

/// What every transport re-exports from the core, written once (`pub use
/// wsduplex_core::exports::*;`), so that one dependency on a transport is enough for any
/// configuration, event, error, TLS setting or HTTP handoff.
#[doc(hidden)]
pub mod exports {
    #[cfg(feature = "os-keys")]
    pub use crate::OsKeys;
    pub use crate::driver::{SocketConfig, SocketError};
    pub use crate::{
        Accept, Chunk, ClientRequest, CloseCode, CloseFrame, CloseReply, Config, DataKind, DeflateConfig,
        DeflateParams, Delivery, Event, HandshakeError, Keepalive, LocalError, Message, Outcome, PeerError, Rejection,
        Request, Response, State, Stats, Text, Timer, WsUrl, accept_response, bytes, http, reject_response,
    };
    /// TLS (`wss://`): the configurations' builders, and rustls itself to write your own.
    #[cfg(feature = "rustls")]
    pub use crate::{rustls, tls};
}
