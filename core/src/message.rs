//! What the application sends and receives: messages, streaming chunks, text.

use std::fmt;

use bytes::Bytes;
use tungstenite::protocol::frame::Utf8Bytes;

/// Text or binary (RFC 6455 §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// UTF-8 text held as [`Bytes`], so a received payload reaches the application without a copy.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Utf8Bytes);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The UTF-8 bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into()
    }

    /// Wraps bytes, checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        Utf8Bytes::try_from(bytes).map(Text)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(s.into())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.to_owned().into())
    }
}

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message.
    Text(Text),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// Text or binary.
    pub fn kind(&self) -> DataKind {
        match self {
            Message::Text(_) => DataKind::Text,
            Message::Binary(_) => DataKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn into_payload(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        }
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A piece of a message in streaming delivery ([`crate::Delivery::Chunks`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chunk {
    /// Kind of the message this piece belongs to.
    pub kind: DataKind,
    /// Payload bytes; for text, always whole UTF-8 code points.
    pub data: Bytes,
    /// True on the last piece of the message.
    pub end_of_message: bool,
}
