//! Configuration. Every limit and every timer of the machine is here, with its default.

use std::time::Duration;

/// How received data messages reach the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// One [`crate::Event::Message`] per message, bounded by [`Config::max_message_size`].
    #[default]
    Messages,
    /// [`crate::Event::Chunk`]s as payload arrives, each with an end-of-message flag: memory
    /// stays bounded whatever the message size. Text chunks never split a UTF-8 code point.
    Chunks,
}

/// What happens after the peer's Close arrives while we are `Open` (RFC 6455 §5.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReply {
    /// Echo the peer's Close at once (what most libraries do; no final replies possible).
    Immediate,
    /// Stay in `CloseReceived` so the application can send its last messages, then reply
    /// with `close`; if it has not by this deadline, the core replies itself.
    Deadline(Duration),
}

/// Keepalive pings (RFC 6455 §5.5.2). A pong must arrive within `timeout` of each ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// Time between pings while `Open`.
    pub interval: Duration,
    /// How long to wait for the pong before giving up on the peer.
    pub timeout: Duration,
}

/// Limits and timers of a [`crate::Connection`]. `Config::default()` is tuned for the seed
/// scenario (128 KiB messages, 4 MiB accounting chunks are opt-in via `chunk_size`).
/// A timer set to `Duration::MAX` never fires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted from the peer (default 16 MiB). Exceeding it fails with
    /// 1009 before anything of the claimed size is allocated.
    pub max_frame_size: u64,
    /// Largest message accepted from the peer (default 64 MiB), checked against each frame
    /// header as it arrives. Applies to both delivery modes.
    pub max_message_size: u64,
    /// Messages we send are split into frames of at most this payload size (default 1 MiB).
    /// A client masks each large frame into one buffer that it keeps and reuses once the
    /// transport has written the frame: at most this plus 14 bytes per client connection,
    /// given back when the connection ends.
    pub max_send_frame_size: usize,
    /// Whole messages or streaming chunks.
    pub delivery: Delivery,
    /// Emit [`crate::Event::ChunkBoundary`] each time the received payload total crosses a
    /// multiple of this (the seed uses 4 MiB). `None`: no boundary events.
    pub chunk_size: Option<u64>,
    /// How long we wait in `CloseSent` for the peer's Close (default 10 s).
    pub close_timeout: Duration,
    /// Behaviour in `CloseReceived` (default: a 5 s reply deadline).
    pub close_reply: CloseReply,
    /// After a complete close handshake a client waits this long for the server to close TCP
    /// (RFC 6455 §7.1.1) before it disconnects itself (default 2 s; .NET and Python wait 10 s).
    pub eof_timeout: Duration,
    /// Optional keepalive pings (default off).
    pub keepalive: Option<Keepalive>,
    /// The opening handshake must finish within this time (default 10 s).
    pub handshake_timeout: Duration,
    /// Largest HTTP head accepted in the opening handshake (default 16 KiB; 431 past it).
    pub max_handshake_size: usize,
    /// permessage-deflate (RFC 7692): offered by a client, accepted by a server, with these
    /// settings (default off). See [`crate::deflate`].
    pub deflate: Option<crate::deflate::DeflateConfig>,
    /// `send` is refused with [`crate::LocalError::SendBufferFull`] while at least this many
    /// bytes are queued and not yet taken by `poll_transmit` (default 1 MiB). One message is
    /// always accepted below the limit, so memory is bounded by the limit plus one message
    /// (which is the caller's own `Bytes`, not a copy).
    pub send_buffer_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_send_frame_size: 1 << 20,
            delivery: Delivery::Messages,
            chunk_size: None,
            close_timeout: Duration::from_secs(10),
            close_reply: CloseReply::Deadline(Duration::from_secs(5)),
            eof_timeout: Duration::from_secs(2),
            keepalive: None,
            handshake_timeout: Duration::from_secs(10),
            max_handshake_size: 16 << 10,
            send_buffer_limit: 1 << 20,
            deflate: None,
        }
    }
}

impl Keepalive {
    /// A ping every `interval`, each answered within `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Keepalive { interval, timeout }
    }
}

/// Builder methods, one per field, so that a configuration is written
/// `Config::default().close_timeout(..).chunk_size(..)`: the structs are `#[non_exhaustive]`
/// (a field added later is not a breaking change), which forbids struct literals outside this
/// crate. Each method sets the field of the same name; see the field for what it means.
macro_rules! setters {
    ($ty:ident { $($field:ident: $value:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
                #[must_use]
                pub fn $field(mut self, value: $value) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
    ($ty:ident { $($field:ident: $value:ty),* $(,)? } optional { $($opt:ident: $inner:ty),* $(,)? }) => {
        $crate::config::setters!($ty { $($field: $value),* });
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($opt), "`] (a value or an `Option`).")]
                #[must_use]
                pub fn $opt(mut self, value: impl Into<Option<$inner>>) -> Self {
                    self.$opt = value.into();
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;

setters!(Config {
    max_frame_size: u64,
    max_message_size: u64,
    max_send_frame_size: usize,
    delivery: Delivery,
    close_timeout: Duration,
    close_reply: CloseReply,
    eof_timeout: Duration,
    handshake_timeout: Duration,
    max_handshake_size: usize,
    send_buffer_limit: usize,
} optional {
    chunk_size: u64,
    keepalive: Keepalive,
    deflate: crate::deflate::DeflateConfig,
});
