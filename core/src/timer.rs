//! Every deadline of a connection, in one table indexed by an enum (quinn-proto's
//! `TimerTable`): `poll_timeout` is its minimum, `handle_timeout` walks what expired in the
//! enum's order, and a move of the state table stops the timers that do not belong to the new
//! phase, so no timer outlives the reason it was armed for.

use std::time::Instant;

use crate::state::Phase;

/// A deadline the connection can wait for. The order is the order in which deadlines that
/// expire together are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// A peer violation waits for the application to drain the events before it; at
    /// `close_timeout` it applies anyway.
    Failure,
    /// The opening handshake must finish (`Config::handshake_timeout`).
    Handshake,
    /// The peer must answer our Close (`Config::close_timeout`).
    Close,
    /// The application's reply to the peer's Close (`CloseReply::Deadline`).
    Reply,
    /// The peer must answer our keepalive ping (`Keepalive::timeout`).
    Pong,
    /// The next keepalive ping (`Keepalive::interval`).
    Ping,
    /// The peer's EOF after closing (`Config::eof_timeout`).
    Linger,
}

impl Deadline {
    pub(crate) const ALL: [Deadline; 7] = [
        Deadline::Failure,
        Deadline::Handshake,
        Deadline::Close,
        Deadline::Reply,
        Deadline::Pong,
        Deadline::Ping,
        Deadline::Linger,
    ];

    /// Whether this deadline still means something in `phase`.
    fn belongs_to(self, phase: Phase) -> bool {
        match self {
            Deadline::Failure => phase < Phase::Lingering,
            Deadline::Handshake => phase == Phase::Connecting,
            Deadline::Close => phase == Phase::CloseSent,
            Deadline::Reply => phase == Phase::CloseReceived,
            Deadline::Pong | Deadline::Ping => phase == Phase::Open,
            Deadline::Linger => phase == Phase::Lingering,
        }
    }
}

/// One optional instant per [`Deadline`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    at: [Option<Instant>; Deadline::ALL.len()],
}

impl TimerTable {
    pub(crate) fn get(&self, d: Deadline) -> Option<Instant> {
        self.at[d as usize]
    }

    /// Arms `d` at `at`; `None` (an instant past what `Instant` holds) never fires.
    pub(crate) fn set(&mut self, d: Deadline, at: Option<Instant>) {
        self.at[d as usize] = at;
    }

    pub(crate) fn stop(&mut self, d: Deadline) {
        self.at[d as usize] = None;
    }

    /// Stops every deadline that does not belong to `phase`.
    pub(crate) fn stop_outside(&mut self, phase: Phase) {
        for d in Deadline::ALL {
            if !d.belongs_to(phase) {
                self.stop(d);
            }
        }
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Disarms `d` and says so if it expired at `now`. `handle_timeout` asks once per
    /// deadline, in the enum's order: one re-armed for `now` while it is handled (a zero
    /// keepalive interval) fires on the next call, never in a loop.
    pub(crate) fn take_expired(&mut self, d: Deadline, now: Instant) -> bool {
        self.at[d as usize].take_if(|at| *at <= now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn expired(t: &mut TimerTable, now: Instant) -> Vec<Deadline> {
        Deadline::ALL.into_iter().filter(|d| t.take_expired(*d, now)).collect()
    }

    #[test]
    fn expired_deadlines_come_out_in_order_once_each() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut t = TimerTable::default();
        t.set(Deadline::Linger, Some(t0 + s));
        t.set(Deadline::Close, Some(t0 + s));
        t.set(Deadline::Ping, Some(t0 + 3 * s));
        assert_eq!(t.next(), Some(t0 + s));
        assert_eq!(expired(&mut t, t0), []);
        assert_eq!(expired(&mut t, t0 + s), [Deadline::Close, Deadline::Linger]);
        assert_eq!(expired(&mut t, t0 + 2 * s), []);
        assert_eq!(t.next(), Some(t0 + 3 * s));
    }

    #[test]
    fn a_phase_keeps_only_its_own_deadlines() {
        let t0 = Instant::now();
        let mut t = TimerTable::default();
        for d in Deadline::ALL {
            t.set(d, Some(t0));
        }
        t.stop_outside(Phase::Open);
        assert_eq!(expired(&mut t, t0), [Deadline::Failure, Deadline::Pong, Deadline::Ping]);
        t.set(Deadline::Close, Some(t0));
        t.stop_outside(Phase::Terminated);
        assert_eq!(t.next(), None);
    }
}
