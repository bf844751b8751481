//! Everything that moves the close handshake (RFC 6455 §5.5.1, §7) lives in this module:
//! the state, the close frame codec and, in [`transition`], the table of moves. Read the
//! table in one screen; each rule cites the RFC section it implements.

use crate::config::CloseReply;
use crate::{LocalError, PeerError, Role};

/// Where the connection stands (RFC 6455 §4 and §7). The state never moves backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Opening handshake in progress.
    Connecting,
    /// Both directions open.
    Open,
    /// We sent our Close; we still receive the peer's data until its Close arrives.
    CloseSent,
    /// The peer's Close arrived; we may still send (final replies) until we send ours.
    CloseReceived,
    /// Finished; see the [`Outcome`]. The transport may still be lingering for EOF.
    Closed,
}

impl State {
    /// How far along the connection is: 0 connecting, 1 open, 2 closing (either direction),
    /// 3 closed. It never decreases, and CloseSent and CloseReceived never turn into each other.
    pub fn stage(self) -> u8 {
        match self {
            State::Connecting => 0,
            State::Open => 1,
            State::CloseSent | State::CloseReceived => 2,
            State::Closed => 3,
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

/// What moves the close state machine.
#[derive(Debug, Clone)]
pub(crate) enum Trigger {
    /// The application's close-output (close the sending direction).
    LocalClose(CloseFrame),
    /// A valid Close frame from the peer.
    PeerClose(CloseFrame),
    /// `CloseReply::Deadline` passed in `CloseReceived`.
    ReplyDeadline,
    /// A wait ran out.
    Timeout(Timer),
    /// The peer broke the protocol.
    Violation(PeerError),
    /// The transport's input ended.
    Eof,
    /// The application gave up.
    Abort,
    /// The server application refused the opening handshake with this HTTP status.
    Reject(u16),
}

/// The effects of one move, performed by the connection in this order:
/// report the peer's Close, send our Close, arm a timer, finish with an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Move {
    pub(crate) to: State,
    pub(crate) report: Option<CloseFrame>,
    pub(crate) send: Option<CloseFrame>,
    pub(crate) arm: Option<Arm>,
    pub(crate) finish: Option<Outcome>,
}

/// A timer a move starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    /// Wait for the peer's Close (`Config::close_timeout`).
    CloseTimeout,
    /// Wait for the application's reply (the `CloseReply::Deadline` duration).
    ReplyDeadline,
}

impl Move {
    fn to(to: State) -> Self {
        Move { to, report: None, send: None, arm: None, finish: None }
    }
    fn report(mut self, f: &CloseFrame) -> Self {
        self.report = Some(f.clone());
        self
    }
    fn send(mut self, f: CloseFrame) -> Self {
        self.send = Some(f);
        self
    }
    fn arm(mut self, a: Arm) -> Self {
        self.arm = Some(a);
        self
    }
    fn finish(mut self, o: Outcome) -> Self {
        self.finish = Some(o);
        self
    }
}

/// The Close frames exchanged so far, needed to describe a clean outcome.
pub(crate) struct Exchanged<'a> {
    pub(crate) sent: Option<&'a CloseFrame>,
    pub(crate) received: Option<&'a CloseFrame>,
}

/// The close handshake, as a table. `None`: the trigger does not apply in this state
/// (the caller reports a local error for application commands and ignores the rest).
pub(crate) fn transition(state: State, trigger: Trigger, reply: CloseReply, x: Exchanged<'_>) -> Option<Move> {
    use State::*;
    use Trigger::*;
    let clean =
        |sent: &CloseFrame, received: &CloseFrame| Outcome::Clean { sent: sent.clone(), received: received.clone() };
    Some(match (state, trigger) {
        // §7.1.2: start the closing handshake; keep reading (§7.1.1 "MUST NOT send more data",
        // nothing forbids receiving it). The close timeout bounds the wait (§7.1.1 last para).
        (Open, LocalClose(f)) => Move::to(CloseSent).send(f).arm(Arm::CloseTimeout),
        // §5.5.1: after receiving Close an endpoint "MAY delay sending a Close frame until its
        // current message is sent": the application may send final replies before ours.
        (Open, PeerClose(f)) => match reply {
            CloseReply::Immediate => Move::to(Closed).report(&f).send(f.echo()).finish(clean(&f.echo(), &f)),
            CloseReply::Deadline(_) => Move::to(CloseReceived).report(&f).arm(Arm::ReplyDeadline),
        },
        // §7.1.4: both Closes exchanged: the handshake is complete.
        (CloseSent, PeerClose(f)) => Move::to(Closed).report(&f).finish(clean(x.sent?, &f)),
        (CloseReceived, LocalClose(f)) => Move::to(Closed).send(f.clone()).finish(clean(&f, x.received?)),
        (CloseReceived, ReplyDeadline) => {
            let echo = x.received?.echo();
            Move::to(Closed).send(echo.clone()).finish(clean(&echo, x.received?))
        }
        // §7.1.1: "the client SHOULD wait ... and MAY close the connection ... after a
        // reasonable time"; same for any wait of ours that ran out.
        (CloseSent, Timeout(Timer::Close)) => Move::to(Closed).finish(Outcome::TimedOut(Timer::Close)),
        (Connecting, Timeout(Timer::Handshake)) => Move::to(Closed).finish(Outcome::TimedOut(Timer::Handshake)),
        (Open | CloseReceived, Timeout(Timer::Pong)) => Move::to(Closed).finish(Outcome::TimedOut(Timer::Pong)),
        // §7.1.7 Fail the WebSocket Connection: our Close with the code, unless one went out.
        (Open | CloseReceived, Violation(e)) => {
            Move::to(Closed).send(CloseFrame::new(e.close_code(), "")).finish(Outcome::Failed(e))
        }
        (Connecting | CloseSent, Violation(e)) => Move::to(Closed).finish(Outcome::Failed(e)),
        // §7.1.5: the transport closed without a Close frame: 1006. After the peer's Close the
        // peer may half-close; our reply can still go out, so CloseReceived does not move.
        (Connecting | Open | CloseSent, Eof) => Move::to(Closed).finish(Outcome::Abnormal),
        (Connecting | Open | CloseSent | CloseReceived, Abort) => Move::to(Closed).finish(Outcome::Aborted),
        // RFC 6455 §4.2.2: a server may refuse the upgrade with an HTTP status.
        (Connecting, Reject(status)) => Move::to(Closed).finish(Outcome::Rejected(status)),
        // Closed is final (sticky failure); other pairs do not apply.
        _ => return None,
    })
}

/// How the transport is released once `Closed` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Teardown {
    /// Close the transport now.
    Disconnect,
    /// Shut down our write side, wait (bounded by `Config::eof_timeout`) for the peer's EOF
    /// while discarding input, then close. The peer reads our last bytes before any reset.
    Linger,
}

/// §7.1.1: "the underlying TCP connection ... SHOULD be closed first by the server", so a
/// client lingers for the server's EOF after a clean close and a server closes at once. After
/// a failure both linger so our Close reaches the peer before the socket goes (a close with
/// unread input would send RST and could destroy it). Timeouts and aborts do not wait.
pub(crate) fn teardown(role: Role, outcome: &Outcome) -> Teardown {
    match (role, outcome) {
        (Role::Server, Outcome::Clean { .. }) => Teardown::Disconnect,
        (Role::Client, Outcome::Clean { .. }) | (_, Outcome::Failed(_) | Outcome::Rejected(_)) => Teardown::Linger,
        (_, Outcome::TimedOut(_) | Outcome::Abnormal | Outcome::Aborted) => Teardown::Disconnect,
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

    #[test]
    fn closed_is_final_and_state_never_moves_backwards() {
        let f = CloseFrame::normal();
        let triggers = || {
            vec![
                Trigger::LocalClose(f.clone()),
                Trigger::PeerClose(f.clone()),
                Trigger::ReplyDeadline,
                Trigger::Timeout(Timer::Close),
                Trigger::Timeout(Timer::Handshake),
                Trigger::Timeout(Timer::Pong),
                Trigger::Violation(PeerError::FragmentedControl),
                Trigger::Eof,
                Trigger::Abort,
                Trigger::Reject(403),
            ]
        };
        for state in [State::Connecting, State::Open, State::CloseSent, State::CloseReceived, State::Closed] {
            for t in triggers() {
                for reply in [CloseReply::Immediate, CloseReply::Deadline(std::time::Duration::ZERO)] {
                    let x = Exchanged { sent: Some(&f), received: Some(&f) };
                    if let Some(m) = transition(state, t.clone(), reply, x) {
                        assert_ne!(state, State::Closed, "{t:?}");
                        assert!(m.to > state || m.to == State::Closed, "{state:?} -{t:?}-> {:?}", m.to);
                        assert_eq!(m.to == State::Closed, m.finish.is_some());
                        // We never send a second Close: CloseSent never sends.
                        if state == State::CloseSent {
                            assert!(m.send.is_none());
                        }
                    }
                }
            }
        }
    }
}
