//! What the application sends and receives: messages, streaming chunks, text.

use std::fmt;

use bytes::Bytes;

/// Text or binary (RFC 6455 §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// UTF-8 text held as [`Bytes`], so a received payload reaches the application without a copy.
///
/// Invariant: the bytes are valid UTF-8. Every constructor checks it or starts from a `str`;
/// `Bytes` is immutable, so it holds for the value's whole life.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Text(Bytes);

impl Text {
    /// The text.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: the type's invariant (see above): `self.0` was checked to be UTF-8 when the
        // value was made, by `from_utf8` or because it came from a `str`, and `Bytes` cannot
        // be changed through a shared handle.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The UTF-8 bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Text from a `'static` string, without a copy.
    pub const fn from_static(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes, checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        // The check runs on SIMD (simdutf8): every received text message goes through here,
        // and std's validator ran at ~1.6 GB/s on text that is not all ASCII, two thirds of
        // the time it took to receive it (`cargo bench --bench core --
        // decode/wsduplex/server-text`; BENCHMARKS.md).
        // A received message was already checked piece by piece as it arrived (`utf8.rs`);
        // it is checked again here, whole, so that the invariant `as_str` relies on rests on
        // this one line and not on the framing code's bookkeeping of which bytes that
        // validator saw.
        if simdutf8::basic::from_utf8(&bytes).is_err() {
            // Invalid: std says where, in the error type callers already know.
            std::str::from_utf8(&bytes)?;
        }
        Ok(Text(bytes))
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
        Text(Bytes::from(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Text> for Bytes {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl TryFrom<Bytes> for Text {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        Text::from_utf8(bytes)
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
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
    /// A text message (the same constructor as tungstenite's, so code ports as it is).
    pub fn text(text: impl Into<Text>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// True for a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// True for a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

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

    /// The payload bytes, under tungstenite's name for them.
    pub fn into_data(self) -> Bytes {
        self.into_payload()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `Text::from_utf8` gives what std gives: the same text, or the same error.
    fn agrees_with_std(bytes: &[u8]) {
        let ours = Text::from_utf8(Bytes::copy_from_slice(bytes));
        match (ours, std::str::from_utf8(bytes)) {
            (Ok(t), Ok(s)) => {
                assert_eq!(t.as_str(), s);
                assert_eq!(t.as_bytes(), bytes);
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{bytes:x?}"),
            (a, b) => panic!("{bytes:x?}: ours {a:?}, std {b:?}"),
        }
    }

    #[test]
    fn text_from_utf8_accepts_exactly_what_std_accepts() {
        // Longer than the SIMD blocks (32 and 64 bytes), so the vector path runs, not only the tail.
        let long = "κόσμε wsduplex € 𝄞 {\"n\":1} ".repeat(9);
        let valid: [&[u8]; 7] = [
            b"",
            b"ascii",
            "κόσμε".as_bytes(),
            "€".as_bytes(),
            "𝄞".as_bytes(),
            "\u{10FFFF}".as_bytes(),
            long.as_bytes(),
        ];
        for v in valid {
            agrees_with_std(v);
        }
        let invalid: [&[u8]; 8] = [
            b"\x80",             // a continuation byte alone
            b"\xc0\xaf",         // overlong '/'
            b"\xe0\x80\xaf",     // overlong, 3 bytes
            b"\xed\xa0\x80",     // a UTF-16 surrogate
            b"\xf4\x90\x80\x80", // above U+10FFFF
            b"\xe2\x82",         // cut short
            b"\xff",             // never valid
            b"\xce\xba\xce",     // valid, then cut short
        ];
        for bad in invalid {
            agrees_with_std(bad);
            // Inside long valid text, at different offsets from the vector blocks.
            for at in [0, 1, 31, 64, 100] {
                let mut text = long.as_bytes()[..at].to_vec();
                // Only at code point boundaries of the prefix: otherwise the prefix is the error.
                if std::str::from_utf8(&text).is_err() {
                    continue;
                }
                text.extend_from_slice(bad);
                text.extend_from_slice(long.as_bytes());
                agrees_with_std(&text);
            }
        }
        // Every one-byte input, and (not under Miri: too slow there) every two-byte input.
        for a in 0..=255u8 {
            agrees_with_std(&[a]);
            if !cfg!(miri) {
                for b in 0..=255u8 {
                    agrees_with_std(&[a, b]);
                }
            }
        }
    }
}
