//! What a close says (RFC 6455 §5.5.1, §7): the Close frame's code and reason, which codes may
//! be sent, and the outcome a connection ends with. The moves of the close handshake are in
//! the state table (`state.rs`).

use crate::{LocalError, PeerError};

/// A close status code (RFC 6455 §7.4): the registered ones by name, any other by number. It
/// converts from and into `u16`, so `close(1000, "")` and `close(CloseCode::GOING_AWAY, "")`
/// both compile, and a frame's `code` compares with either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection is fulfilled (§7.4.1).
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (a server shutting down, a page left).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: a protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a kind of data the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: the Close carried no code. Never sent (§7.4.1): an empty Close stands for it.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection ended without a Close. Never sent (§7.4.1).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010 (client): the server did not negotiate an extension the client requires.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011 (server): an unexpected condition prevented it from fulfilling the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid response upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Never sent (§7.4.1).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The registered name, if the code has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            _ => return None,
        })
    }

    /// True if the code may appear in a Close frame on the wire (§7.4.1, §7.4.2).
    pub fn may_be_sent(self) -> bool {
        is_valid_wire_code(self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl PartialEq<u16> for CloseCode {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

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

    /// A close with `code` (a [`CloseCode`] or a `u16`) and `reason`.
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<String>) -> Self {
        CloseFrame { code: code.into().0, reason: reason.into() }
    }

    /// The code, by name where it has one.
    pub fn close_code(&self) -> CloseCode {
        CloseCode(self.code)
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
#[non_exhaustive]
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
    fn close_codes_by_name_and_by_number() {
        assert_eq!(CloseCode::from(1001), CloseCode::GOING_AWAY);
        assert_eq!(u16::from(CloseCode::MESSAGE_TOO_BIG), 1009);
        assert_eq!(CloseFrame::new(CloseCode::GOING_AWAY, "bye"), CloseFrame::new(1001, "bye"));
        assert_eq!(CloseFrame::new(4000, "").close_code(), 4000);
        assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal closure)");
        assert_eq!(CloseCode(4000).to_string(), "4000");
        // §7.4.1: 1005, 1006 and 1015 stand for what was not on the wire; §7.4.2: 3000-4999.
        let sendable: Vec<u16> = (999..=1016).filter(|c| CloseCode(*c).may_be_sent()).collect();
        assert_eq!(sendable, [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
        assert!(CloseCode(3000).may_be_sent() && CloseCode(4999).may_be_sent() && !CloseCode(5000).may_be_sent());
        for c in [CloseCode::NO_STATUS, CloseCode::ABNORMAL, CloseCode::TLS_HANDSHAKE] {
            assert!(!c.may_be_sent() && c.name().is_some(), "{c}");
        }
    }

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
