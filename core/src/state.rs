//! Everything that moves a connection through its life lives in this module, h11's
//! `_state.py` style: the states, what moves them, and in [`transition`] the one table of
//! moves — the opening handshake's end, the close handshake (RFC 6455 §5.5.1, §7), and how the
//! transport is released afterwards. Read the table in one screen; each rule cites the RFC
//! section it implements. The connection only performs the moves the table returns.

use crate::close::{CloseFrame, Outcome, Timer};
use crate::config::CloseReply;
use crate::{PeerError, Role};

/// Where the connection stands (RFC 6455 §4 and §7), as the application sees it. The state
/// never moves backwards.
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

/// The whole lifecycle: [`State`] with `Closed` split by how far the transport has been
/// released. Ordered: a connection only moves forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    Connecting,
    Open,
    CloseSent,
    CloseReceived,
    /// Closed; our write side is shut down and the peer's EOF is awaited (bounded by
    /// `Config::eof_timeout`) while its input is discarded.
    Lingering,
    /// Closed; the transport is to be closed (a `Transmit::Disconnect` is queued).
    Disconnecting,
    /// Closed; the transport took the Disconnect. Nothing happens any more.
    Terminated,
}

impl Phase {
    /// What the application sees.
    pub(crate) fn state(self) -> State {
        match self {
            Phase::Connecting => State::Connecting,
            Phase::Open => State::Open,
            Phase::CloseSent => State::CloseSent,
            Phase::CloseReceived => State::CloseReceived,
            Phase::Lingering | Phase::Disconnecting | Phase::Terminated => State::Closed,
        }
    }
}

/// What moves the connection.
#[derive(Debug, Clone)]
pub(crate) enum Trigger {
    /// The opening handshake completed: a client validated the server's 101, or a server
    /// application accepted the request.
    Opened,
    /// The application's close-output (close the sending direction).
    LocalClose(CloseFrame),
    /// A valid Close frame from the peer.
    PeerClose(CloseFrame),
    /// Our reply to the peer's Close is due in `CloseReceived`: the `CloseReply::Deadline`
    /// passed, or nothing can send final replies any more (the driver's rule: no `Sender` is
    /// alive and the one owner asks for the next event).
    ReplyDue,
    /// A wait ran out.
    Timeout(Timer),
    /// The peer broke the protocol.
    Violation(PeerError),
    /// The transport's input ended.
    Eof,
    /// The wait for the peer's EOF after closing (`Config::eof_timeout`) ran out.
    LingerTimeout,
    /// The application gave up.
    Abort,
    /// The server application refused the opening handshake with this HTTP status.
    Reject(u16),
    /// The transport took the Disconnect.
    Released,
}

/// The effects of one move, performed by the connection in this order: report the peer's
/// Close, send our Close, arm a timer, finish with an outcome, release the transport as the
/// new phase says (Lingering: shut down writing; Disconnecting: disconnect, first dropping
/// queued output if `discard`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Move {
    pub(crate) to: Phase,
    pub(crate) report: Option<CloseFrame>,
    pub(crate) send: Option<CloseFrame>,
    pub(crate) arm: Option<Arm>,
    pub(crate) finish: Option<Outcome>,
    /// Queued output is dropped instead of written before the Disconnect.
    pub(crate) discard: bool,
}

/// A timer a move starts. Every other timer that does not belong to the new phase stops
/// (`TimerTable::stop_outside`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    /// Keepalive pings, if configured.
    Keepalive,
    /// Wait for the peer's Close (`Config::close_timeout`).
    CloseTimeout,
    /// Wait for the application's reply (the `CloseReply::Deadline` duration).
    ReplyDeadline,
    /// Wait for the peer's EOF (`Config::eof_timeout`).
    Linger,
}

impl Move {
    fn to(to: Phase) -> Self {
        Move { to, report: None, send: None, arm: None, finish: None, discard: false }
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
    fn discard(mut self) -> Self {
        self.discard = true;
        self
    }
}

/// What the table needs to know besides the phase and the trigger.
pub(crate) struct Context<'a> {
    pub(crate) role: Role,
    pub(crate) reply: CloseReply,
    /// The Close frames exchanged so far, to describe a clean outcome.
    pub(crate) sent: Option<&'a CloseFrame>,
    pub(crate) received: Option<&'a CloseFrame>,
    /// The transport's input already ended.
    pub(crate) eof: bool,
}

/// The lifecycle, as a table. `None`: the trigger does not apply in this phase (the caller
/// reports a local error for application commands and ignores the rest).
pub(crate) fn transition(phase: Phase, trigger: Trigger, cx: &Context<'_>) -> Option<Move> {
    use Phase::*;
    use Trigger::*;
    let clean =
        |sent: &CloseFrame, received: &CloseFrame| Outcome::Clean { sent: sent.clone(), received: received.clone() };
    let closed = |o: Outcome| closed(cx, o);
    Some(match (phase, trigger) {
        // §4.1 (the client validated the 101) and §4.2.2 (the server sent it): "the WebSocket
        // Connection is established" and in the OPEN state.
        (Connecting, Opened) => Move::to(Open).arm(Arm::Keepalive),
        // §7.1.2: start the closing handshake; keep reading (§7.1.1 "MUST NOT send more data",
        // nothing forbids receiving it). The close timeout bounds the wait (§7.1.1 last para).
        (Open, LocalClose(f)) => Move::to(CloseSent).send(f).arm(Arm::CloseTimeout),
        // §5.5.1: after receiving Close an endpoint "MAY delay sending a Close frame until its
        // current message is sent": the application may send final replies before ours.
        (Open, PeerClose(f)) => match cx.reply {
            CloseReply::Immediate => {
                Move { report: Some(f.clone()), send: Some(f.echo()), ..closed(clean(&f.echo(), &f)) }
            }
            CloseReply::Deadline(_) => Move::to(CloseReceived).report(&f).arm(Arm::ReplyDeadline),
        },
        // §7.1.4: both Closes exchanged: the handshake is complete.
        (CloseSent, PeerClose(f)) => Move { report: Some(f.clone()), ..closed(clean(cx.sent?, &f)) },
        (CloseReceived, LocalClose(f)) => Move { send: Some(f.clone()), ..closed(clean(&f, cx.received?)) },
        (CloseReceived, ReplyDue) => {
            let echo = cx.received?.echo();
            Move { send: Some(echo.clone()), ..closed(clean(&echo, cx.received?)) }
        }
        // §7.1.1: "the client SHOULD wait ... and MAY close the connection ... after a
        // reasonable time"; same for any wait of ours that ran out.
        (Connecting, Timeout(Timer::Handshake)) => closed(Outcome::TimedOut(Timer::Handshake)),
        (CloseSent, Timeout(Timer::Close)) => closed(Outcome::TimedOut(Timer::Close)),
        (Open, Timeout(Timer::Pong)) => closed(Outcome::TimedOut(Timer::Pong)),
        // §7.1.7 Fail the WebSocket Connection: our Close with the code, unless one went out.
        (Open | CloseReceived, Violation(e)) => {
            Move { send: Some(CloseFrame::new(e.close_code(), "")), ..closed(Outcome::Failed(e)) }
        }
        (Connecting | CloseSent, Violation(e)) => closed(Outcome::Failed(e)),
        // §7.1.5: the transport closed without a Close frame: 1006. After the peer's Close the
        // peer may half-close; our reply can still go out, so CloseReceived does not move.
        (Connecting | Open | CloseSent, Eof) => closed(Outcome::Abnormal),
        (Connecting | Open | CloseSent | CloseReceived, Abort) => closed(Outcome::Aborted),
        // §4.2.2: a server may refuse the upgrade with an HTTP status.
        (Connecting, Reject(status)) => closed(Outcome::Rejected(status)),
        // §7.1.1: the peer closed TCP, or we waited long enough for it: close ours.
        (Lingering, Eof | LingerTimeout) => Move::to(Disconnecting),
        (Lingering, Abort) => Move::to(Disconnecting).discard(),
        (Disconnecting, Released) => Move::to(Terminated),
        // Closed is final (sticky failure); other pairs do not apply.
        _ => return None,
    })
}

/// The move into `Closed` with `outcome`, and how the transport is released. §7.1.1: "the
/// underlying TCP connection ... SHOULD be closed first by the server", so a client lingers
/// for the server's EOF after a clean close and a server closes at once. After a failure or a
/// rejection both linger so our last bytes reach the peer before the socket goes (a close with
/// unread input would send RST and could destroy them). Timeouts, aborts and a vanished peer
/// do not wait, and drop what is queued. Nobody lingers for an EOF that already came.
fn closed(cx: &Context<'_>, outcome: Outcome) -> Move {
    let linger = match (cx.role, &outcome) {
        (Role::Server, Outcome::Clean { .. }) => false,
        (Role::Client, Outcome::Clean { .. }) | (_, Outcome::Failed(_) | Outcome::Rejected(_)) => true,
        (_, Outcome::TimedOut(_) | Outcome::Abnormal | Outcome::Aborted) => {
            return Move { finish: Some(outcome), ..Move::to(Phase::Disconnecting).discard() };
        }
    };
    let m = match linger && !cx.eof {
        true => Move::to(Phase::Lingering).arm(Arm::Linger),
        false => Move::to(Phase::Disconnecting),
    };
    Move { finish: Some(outcome), ..m }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_phases() -> [Phase; 7] {
        use Phase::*;
        [Connecting, Open, CloseSent, CloseReceived, Lingering, Disconnecting, Terminated]
    }

    fn all_triggers() -> Vec<Trigger> {
        let f = CloseFrame::normal();
        vec![
            Trigger::Opened,
            Trigger::LocalClose(f.clone()),
            Trigger::PeerClose(f),
            Trigger::ReplyDue,
            Trigger::Timeout(Timer::Close),
            Trigger::Timeout(Timer::Handshake),
            Trigger::Timeout(Timer::Pong),
            Trigger::Violation(PeerError::FragmentedControl),
            Trigger::Eof,
            Trigger::LingerTimeout,
            Trigger::Abort,
            Trigger::Reject(403),
            Trigger::Released,
        ]
    }

    #[test]
    fn the_lifecycle_only_moves_forwards_and_terminated_is_final() {
        let f = CloseFrame::normal();
        for phase in all_phases() {
            for t in all_triggers() {
                for reply in [CloseReply::Immediate, CloseReply::Deadline(std::time::Duration::ZERO)] {
                    for (role, eof) in [(Role::Client, false), (Role::Client, true), (Role::Server, false)] {
                        let cx = Context { role, reply, sent: Some(&f), received: Some(&f), eof };
                        let Some(m) = transition(phase, t.clone(), &cx) else { continue };
                        assert_ne!(phase, Phase::Terminated, "{t:?}");
                        assert!(m.to > phase, "{phase:?} -{t:?}-> {:?}", m.to);
                        // An outcome is decided exactly once: on the move into Closed.
                        let into_closed = phase.state() != State::Closed && m.to.state() == State::Closed;
                        assert_eq!(into_closed, m.finish.is_some(), "{phase:?} -{t:?}->");
                        // We never send a second Close: CloseSent and Closed never send.
                        if phase >= Phase::CloseSent && phase != Phase::CloseReceived {
                            assert!(m.send.is_none());
                        }
                        // Nothing waits for an EOF that already came.
                        if eof {
                            assert_ne!(m.to, Phase::Lingering);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn release_follows_the_role_and_the_outcome() {
        let f = CloseFrame::normal();
        let cx = |role, eof| Context { role, reply: CloseReply::Immediate, sent: Some(&f), received: None, eof };
        // §7.1.1: the server closes TCP first; the client waits for it.
        let peer_close = || Trigger::PeerClose(CloseFrame::normal());
        assert_eq!(
            transition(Phase::CloseSent, peer_close(), &cx(Role::Server, false)).map(|m| m.to),
            Some(Phase::Disconnecting)
        );
        assert_eq!(
            transition(Phase::CloseSent, peer_close(), &cx(Role::Client, false)).map(|m| m.to),
            Some(Phase::Lingering)
        );
        assert_eq!(
            transition(Phase::CloseSent, peer_close(), &cx(Role::Client, true)).map(|m| m.to),
            Some(Phase::Disconnecting)
        );
        // A timeout drops what is queued; a failure lingers so that our Close is read.
        let timeout = transition(Phase::CloseSent, Trigger::Timeout(Timer::Close), &cx(Role::Server, false));
        assert!(timeout.is_some_and(|m| m.to == Phase::Disconnecting && m.discard));
        let failed = transition(Phase::Open, Trigger::Violation(PeerError::UnmaskedFrame), &cx(Role::Server, false));
        assert!(failed.is_some_and(|m| m.to == Phase::Lingering && !m.discard && m.send.is_some()));
        // Lingering ends on the peer's EOF, the linger timeout or an abort.
        for t in [Trigger::Eof, Trigger::LingerTimeout, Trigger::Abort] {
            assert_eq!(
                transition(Phase::Lingering, t, &cx(Role::Client, false)).map(|m| m.to),
                Some(Phase::Disconnecting)
            );
        }
        assert_eq!(
            transition(Phase::Disconnecting, Trigger::Released, &cx(Role::Client, true)).map(|m| m.to),
            Some(Phase::Terminated)
        );
    }
}
