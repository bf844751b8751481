//! What a close says (RFC 6455 §5.5.1, §7): the Close frame's code and reason, which codes may
//! be sent, and the outcome a connection ends with. The moves of the close handshake are in
//! the state table (`state.rs`).

use crate::{LocalError, PeerError};

/// A close status code and reason (RFC 6455 §5.5.1, §7.4). Code 1005 stands for a Close frame
/// with no payload (§7.1.5): received as such, and sent as an empty Close.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// Status code; 1005 means "no status code".
    pub code: u16,
    /// UTF-8 reason, at most 123 bytes.
    pub reason: String,
}

impl CloseFrame {
    /// 1000, the normal closure, without a reason.
    pub fn normal() -> Self {
        CloseFrame { code: 1000, reason: String::new() }
    }

    /// A close with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        CloseFrame { code, reason: reason.into() }
    }

    /// What we reply to a received Close: the same code, no reason (§5.5.1 "typically echos").
    pub fn echo(&self) -> Self {
        CloseFrame { code: self.code, reason: String::new() }
    }

    /// Parses a received Close payload (§5.5.1, §7.4).
    pub(crate) fn parse(payload: &[u8]) -> Result<Self, PeerError> {
        match payload {
            [] => Ok(CloseFrame { code: 1005, reason: String::new() }),
            [_] => Err(PeerError::CloseOneByte),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !is_valid_wire_code(code) {
                    return Err(PeerError::InvalidCloseCode(code));
                }
                let reason = std::str::from_utf8(reason).map_err(|_| PeerError::InvalidUtf8("close reason"))?;
                Ok(CloseFrame { code, reason: reason.to_owned() })
            }
        }
    }

    /// Checks that we may send this Close; 1005 with no reason sends an empty Close.
    pub(crate) fn validate_local(&self) -> Result<(), LocalError> {
        let code_ok = is_valid_wire_code(self.code) || (self.code == 1005 && self.reason.is_empty());
        if !code_ok {
            return Err(LocalError::InvalidCloseCode(self.code));
        }
        if self.reason.len() > 123 {
            return Err(LocalError::CloseReasonTooLong(self.reason.len()));
        }
        Ok(())
    }

    /// The Close payload on the wire.
    pub(crate) fn payload(&self) -> Vec<u8> {
        if self.code == 1005 {
            return Vec::new();
        }
        let mut p = Vec::with_capacity(2 + self.reason.len());
        p.extend_from_slice(&self.code.to_be_bytes());
        p.extend_from_slice(self.reason.as_bytes());
        p
    }
}

/// Codes that may appear in a Close frame (RFC 6455 §7.4.1, §7.4.2, and the IANA registry's
/// 1012–1014). 1004–1006 and 1015 are reserved or "never on the wire"; below 1000 and
/// 1016–2999 are unassigned; 3000–4999 belong to libraries and applications.
pub fn is_valid_wire_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The opening handshake did not finish in time.
    Handshake,
    /// The peer did not answer our Close in time.
    Close,
    /// The peer did not answer a keepalive ping in time.
    Pong,
}

/// How a connection ended; delivered once, as [`crate::Event::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Both Close frames were exchanged (§7.1.4: "the WebSocket closing handshake is
    /// completed"), whatever codes they carried.
    Clean {
        /// The Close we sent.
        sent: CloseFrame,
        /// The Close the peer sent.
        received: CloseFrame,
    },
    /// A wait ran out; we disconnected.
    TimedOut(Timer),
    /// The peer broke the protocol; we sent [`PeerError::close_code`] unless our Close had
    /// already gone out, then disconnected (§7.1.7).
    Failed(PeerError),
    /// The transport ended without a Close (§7.1.5: code 1006).
    Abnormal,
    /// The application aborted: no Close frame, immediate disconnect.
    Aborted,
    /// The server application refused the opening handshake with this HTTP status.
    Rejected(u16),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Clean { .. } => f.write_str("clean"),
            Outcome::TimedOut(t) => write!(f, "timed out ({t:?})"),
            Outcome::Failed(e) => write!(f, "failed: {e} (close code {})", e.close_code()),
            Outcome::Abnormal => f.write_str("abnormal (1006: no Close frame)"),
            Outcome::Aborted => f.write_str("aborted"),
            Outcome::Rejected(s) => write!(f, "rejected ({s})"),
        }
    }
}

impl Outcome {
    /// True only for a completed close handshake.
    pub fn is_clean(&self) -> bool {
        matches!(self, Outcome::Clean { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_payload_rules() {
        assert_eq!(CloseFrame::parse(&[]), Ok(CloseFrame::new(1005, "")));
        assert_eq!(CloseFrame::parse(&[3]), Err(PeerError::CloseOneByte));
        assert_eq!(CloseFrame::parse(&[0x03, 0xE8, b'o', b'k']), Ok(CloseFrame::new(1000, "ok")));
        assert_eq!(CloseFrame::parse(&[0x03, 0xE8, 0xFF]), Err(PeerError::InvalidUtf8("close reason")));
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            let p = code.to_be_bytes();
            assert_eq!(CloseFrame::parse(&p), Err(PeerError::InvalidCloseCode(code)), "{code}");
            assert_eq!(PeerError::InvalidCloseCode(code).close_code(), 1002);
        }
        for code in [1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
        {
            assert_eq!(CloseFrame::parse(&code.to_be_bytes()), Ok(CloseFrame::new(code, "")), "{code}");
        }
    }

    #[test]
    fn wire_codes_agree_with_tungstenite_except_1014() {
        use tungstenite::protocol::frame::coding::CloseCode;
        for code in 0..=u16::MAX {
            // tungstenite predates the IANA registration of 1014 (Bad Gateway).
            if code != 1014 {
                assert_eq!(is_valid_wire_code(code), CloseCode::from(code).is_allowed(), "{code}");
            }
        }
    }

    #[test]
    fn local_close_validation() {
        assert!(CloseFrame::new(1005, "").validate_local().is_ok());
        assert_eq!(CloseFrame::new(1005, "x").validate_local(), Err(LocalError::InvalidCloseCode(1005)));
        assert_eq!(CloseFrame::new(1006, "").validate_local(), Err(LocalError::InvalidCloseCode(1006)));
        assert_eq!(CloseFrame::new(1000, "r".repeat(124)).validate_local(), Err(LocalError::CloseReasonTooLong(124)));
        assert!(CloseFrame::new(4000, "r".repeat(123)).validate_local().is_ok());
        assert_eq!(CloseFrame::new(1005, "").payload(), Vec::<u8>::new());
    }
}
