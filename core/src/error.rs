//! Errors, split the way h11 splits them: what *we* did wrong ([`LocalError`], returned from
//! the call that did it, state untouched) and what the *peer* did wrong ([`PeerError`], which
//! fails the connection for good and maps to the close code we send, RFC 6455 §7.4.1).

use crate::State;

/// Misuse by the local application. Returned by the offending call, which has no effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// Data can only be sent in `Open` or `CloseReceived`; after our Close nothing follows it
    /// (RFC 6455 §5.5.1).
    #[error("cannot send in state {0:?}: our side of the connection is closed or not open yet")]
    NotOpen(State),
    /// A new message was started while a fragmented one is still unfinished (RFC 6455 §5.4).
    #[error("a fragmented message is in progress; finish it with end_of_message = true first")]
    MessageInProgress,
    /// A continuation was sent with a different kind than the message it continues.
    #[error("fragment kind {sent:?} does not match the message in progress ({open:?})")]
    FragmentKindMismatch {
        /// The kind of the message being continued.
        open: crate::DataKind,
        /// The kind given to this call.
        sent: crate::DataKind,
    },
    /// Control frame payloads are at most 125 bytes (RFC 6455 §5.5).
    #[error("control frame payload is {0} bytes; at most 125 are allowed")]
    ControlTooLong(usize),
    /// The close reason does not fit a control frame (at most 123 bytes, RFC 6455 §5.5.1).
    #[error("close reason is {0} bytes; at most 123 are allowed")]
    CloseReasonTooLong(usize),
    /// The close code may not be sent on the wire (RFC 6455 §7.4.1, §7.4.2).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// Text must be valid UTF-8 (RFC 6455 §5.6); the peer would fail us with 1007.
    #[error("text payload is not valid UTF-8")]
    InvalidUtf8,
    /// The outgoing buffer is at its limit; drain `poll_transmit` first.
    #[error("send buffer full ({buffered} bytes queued, limit {limit})")]
    SendBufferFull {
        /// Bytes queued and not yet handed out by `poll_transmit`.
        buffered: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The call needs the opening handshake to be in a different phase.
    #[error("{0}")]
    Handshake(&'static str),
    /// The server accepted with a subprotocol the client did not offer (RFC 6455 §4.2.2).
    #[error("subprotocol {0:?} was not offered by the client")]
    SubprotocolNotOffered(String),
    /// A header name or value would break the HTTP message.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// Not a `ws://` or `wss://` URL we can connect to (RFC 6455 §3).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The TLS settings cannot be used: a certificate or key file that does not parse, a
    /// `wss://` URL without the `rustls` feature.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A violation by the peer. The connection fails: we send our Close with
/// [`PeerError::close_code`] (unless ours was already sent) and disconnect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// RSV1–3 set without a negotiated extension (RFC 6455 §5.2).
    #[error("reserved bits set: {0:#x}")]
    ReservedBits(u8),
    /// Opcode 3–7 or 0xB–0xF (RFC 6455 §5.2).
    #[error("unknown opcode {0:#x}")]
    UnknownOpcode(u8),
    /// A control frame without FIN (RFC 6455 §5.5).
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame payload over 125 bytes (RFC 6455 §5.5).
    #[error("control frame payload of {0} bytes (max 125)")]
    ControlTooLong(u64),
    /// A client sent an unmasked frame (RFC 6455 §5.1).
    #[error("client frame is not masked")]
    UnmaskedFrame,
    /// A server sent a masked frame (RFC 6455 §5.1).
    #[error("server frame is masked")]
    MaskedFrame,
    /// A continuation frame with no message in progress (RFC 6455 §5.4).
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// A new data frame while a fragmented message is unfinished (RFC 6455 §5.4).
    #[error("new data frame while a fragmented message is unfinished")]
    ExpectedContinuation,
    /// A 64-bit length with the most significant bit set (RFC 6455 §5.2).
    #[error("frame length has the most significant bit set")]
    InvalidLength,
    /// A frame larger than `Config::max_frame_size`.
    #[error("frame of {size} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// Claimed payload length.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
    /// A message larger than `Config::max_message_size`.
    #[error("message of at least {size} bytes exceeds the limit of {limit}")]
    MessageTooLarge {
        /// Size known so far.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
    /// Text or a close reason is not valid UTF-8 (RFC 6455 §8.1).
    #[error("invalid UTF-8 in {0}")]
    InvalidUtf8(&'static str),
    /// A Close payload of exactly one byte (RFC 6455 §5.5.1).
    #[error("close frame payload of 1 byte")]
    CloseOneByte,
    /// A close code that may not appear on the wire (RFC 6455 §7.4).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A compressed message whose DEFLATE data does not inflate (RFC 7692 §7.2.2): zlib's
    /// reason. RFC 7692 names no code; we answer 1007, the code for data "not consistent with
    /// the type of the message" (RFC 6455 §7.4.1). python websockets answers 1002 (its
    /// "decompression failed" is a protocol error).
    #[error("compressed message does not inflate: {0}")]
    CorruptCompressed(String),
    /// The opening handshake failed.
    #[error("opening handshake: {0}")]
    Handshake(#[from] HandshakeError),
}

impl PeerError {
    /// The close code we send for this violation (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> u16 {
        match self {
            PeerError::InvalidUtf8(_) | PeerError::CorruptCompressed(_) => 1007,
            PeerError::FrameTooLarge { .. } | PeerError::MessageTooLarge { .. } => 1009,
            _ => 1002,
        }
    }
}

/// Why an opening handshake failed (RFC 6455 §4). On the server side, [`HandshakeError::status`]
/// is the HTTP status of the response we send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The HTTP message does not parse.
    #[error("malformed HTTP: {0}")]
    Malformed(String),
    /// The HTTP head exceeds `Config::max_handshake_size`, or has too many header lines.
    #[error("HTTP head too large")]
    TooLarge,
    /// The request method is not GET (RFC 6455 §4.2.1 item 1).
    #[error("method {0} is not GET")]
    Method(String),
    /// The HTTP version is not 1.1 or later (RFC 6455 §4.2.1 item 1).
    #[error("HTTP version is not 1.1")]
    Version,
    /// A required header is missing or has the wrong value.
    #[error("header {0}: missing or invalid")]
    Header(&'static str),
    /// Sec-WebSocket-Version is not 13 (RFC 6455 §4.2.2: answer 426 with the version we speak).
    #[error("unsupported Sec-WebSocket-Version {0:?}")]
    UnsupportedVersion(String),
    /// The server answered with a status other than 101 (RFC 6455 §4.1): its whole answer
    /// (status, headers, the body that came with them). On the server side, the rejection
    /// the application chose.
    #[error("server rejected the upgrade with status {}", .0.status)]
    Rejected(Box<crate::handshake::Rejection>),
    /// Sec-WebSocket-Accept does not match our key (RFC 6455 §4.1, item 4 of the client's checks).
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// The server chose a subprotocol we did not offer (RFC 6455 §4.1 item 6).
    #[error("server chose subprotocol {0:?} that was not offered")]
    SubprotocolNotOffered(String),
    /// The server answered with an extension we did not offer (RFC 6455 §4.1 item 5).
    #[error("server answered with extension {0:?} that was not offered")]
    ExtensionNotOffered(String),
    /// The server's `permessage-deflate` answer cannot be accepted (RFC 7692 §7.1): a
    /// parameter unknown, repeated, out of range, or not what we asked for.
    #[error("permessage-deflate answer: {0}")]
    Extension(String),
    /// The handshake did not finish before `Config::handshake_timeout`.
    #[error("opening handshake timed out")]
    TimedOut,
    /// The TLS handshake under it failed; rustls' reason, which names the cause (an
    /// expired certificate, one not valid for the host, an unknown issuer, a peer that does
    /// not speak TLS, the peer's alert ...).
    #[error("TLS: {0}")]
    Tls(String),
}

impl HandshakeError {
    /// HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::TooLarge => 431,
            HandshakeError::Method(_) => 405,
            HandshakeError::UnsupportedVersion(_) => 426,
            HandshakeError::TimedOut => 408,
            _ => 400,
        }
    }
}
