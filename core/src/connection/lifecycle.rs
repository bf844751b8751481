//! The lifecycle: the opening handshake (RFC 6455 §4), the application's close and abort, the
//! end of input, the timers — every one of them becomes a [`Trigger`] for the state table
//! (`state.rs`), and [`Connection::apply`] performs the move the table returns. Nothing else
//! changes the phase.

use std::time::Instant;

use super::{Connection, Event};
use crate::close::{CloseFrame, Timer};
use crate::config::CloseReply;
use crate::deflate::{self, Codec};
use crate::handshake::{self, Accept, ClientRequest, Request};
use crate::state::{self, Arm, Context, Phase, Trigger};
use crate::timer::Deadline;
use crate::{LocalError, PeerError};

/// Where the opening handshake stands while `Connecting`.
#[derive(Debug, Clone)]
pub(super) enum Handshake {
    Done,
    ClientAwaiting { key: String, offered: Vec<String> },
    ServerAwaitingRequest,
    ServerAwaitingDecision(Box<Request>),
}

impl Connection {
    /// Server: accepts the pending [`Event::Request`]; the connection becomes `Open`.
    pub fn accept(&mut self, now: Instant, accept: Accept) -> Result<(), LocalError> {
        self.now = now;
        let Handshake::ServerAwaitingDecision(req) = &self.handshake else {
            return Err(LocalError::Handshake("accept: no upgrade request is waiting for a decision"));
        };
        let mut accept = accept;
        let agreed = self.config.deflate.as_ref().and_then(|c| Some((deflate::negotiate(&req.extensions, c)?, c)));
        if let Some((params, _)) = &agreed {
            accept.headers.push(("Sec-WebSocket-Extensions".to_owned(), params.header_value()));
        }
        let bytes = handshake::accept_bytes(req, &accept)?;
        self.deflate = agreed.map(|(params, config)| Codec::new(true, &params, config));
        self.stage(&bytes);
        self.handshake = Handshake::Done;
        self.opened(now);
        // Frames the client sent right behind its request are waiting in the buffer.
        self.process(now);
        Ok(())
    }

    /// Server: refuses the pending [`Event::Request`] with an HTTP status (400–599), or a
    /// [`Rejection`](crate::handshake::Rejection) with headers and a body.
    pub fn reject(&mut self, now: Instant, rejection: impl Into<handshake::Rejection>) -> Result<(), LocalError> {
        self.now = now;
        if !matches!(self.handshake, Handshake::ServerAwaitingDecision(_)) {
            return Err(LocalError::Handshake("reject: no upgrade request is waiting for a decision"));
        }
        let rejection = rejection.into();
        self.stage(&handshake::reject_bytes(&rejection)?);
        self.handshake = Handshake::Done;
        self.apply(now, Trigger::Reject(rejection.status));
        Ok(())
    }

    /// Close-output: sends our Close. From `Open` we go to `CloseSent` and keep receiving
    /// until the peer's Close; from `CloseReceived` this is our reply and the connection
    /// closes. A second call is refused with [`LocalError::NotOpen`].
    pub fn close(&mut self, now: Instant, frame: CloseFrame) -> Result<(), LocalError> {
        self.now = now;
        frame.validate_local()?;
        if !self.apply(now, Trigger::LocalClose(frame)) {
            return Err(LocalError::NotOpen(self.state()));
        }
        Ok(())
    }

    /// In `CloseReceived`: replies to the peer's Close now (its code echoed, §5.5.1), as the
    /// `CloseReply::Deadline` would when it passes. True if it did (nothing happens in any other
    /// state). The driver calls it when nothing can send final replies any more.
    pub fn reply_to_close(&mut self, now: Instant) -> bool {
        self.now = now;
        self.apply(now, Trigger::ReplyDue)
    }

    /// Gives up at once: no Close frame, queued output dropped, disconnect. While a closed
    /// connection lingers for the peer's EOF, this ends the wait.
    pub fn abort(&mut self) {
        let now = self.now;
        self.apply(now, Trigger::Abort);
    }

    /// The transport's input ended (the peer's FIN, or a read error).
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if self.recv.eof {
            return;
        }
        self.recv.eof = true;
        self.apply_pending_failure();
        self.apply(now, Trigger::Eof);
    }

    /// The secure channel under the connection (TLS) failed: while connecting, the opening
    /// handshake fails with [`HandshakeError::Tls`](crate::HandshakeError::Tls); afterwards it
    /// is the end of the input (1006, RFC 6455 §7.1.5): nothing more can be read.
    pub fn handle_tls_error(&mut self, now: Instant, reason: String) {
        self.now = now;
        if self.phase == Phase::Connecting {
            self.recv.eof = true;
            self.fail(now, PeerError::Handshake(crate::HandshakeError::Tls(reason)));
        } else {
            self.handle_eof(now);
        }
    }

    /// Fires every deadline at or before `now`. Call it when [`Self::poll_timeout`] passes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        for d in Deadline::ALL {
            if !self.timers.take_expired(d, now) {
                continue;
            }
            match d {
                Deadline::Failure => self.apply_pending_failure(),
                Deadline::Handshake => _ = self.apply(now, Trigger::Timeout(Timer::Handshake)),
                Deadline::Close => _ = self.apply(now, Trigger::Timeout(Timer::Close)),
                Deadline::Reply => _ = self.apply(now, Trigger::ReplyDue),
                Deadline::Pong => _ = self.apply(now, Trigger::Timeout(Timer::Pong)),
                Deadline::Ping => self.send_keepalive_ping(now),
                Deadline::Linger => _ = self.apply(now, Trigger::LingerTimeout),
            }
        }
    }

    /// Runs the state table and performs the move, in the order `state::Move` gives. False if
    /// the trigger does not apply in this phase.
    pub(super) fn apply(&mut self, now: Instant, trigger: Trigger) -> bool {
        let cx = Context {
            role: self.role,
            reply: self.config.close_reply,
            sent: self.sent_close.as_ref(),
            received: self.received_close.as_ref(),
            eof: self.recv.eof,
        };
        #[cfg(feature = "tracing")]
        let seen = trigger.clone();
        let Some(m) = state::transition(self.phase, trigger, &cx) else {
            return false;
        };
        #[cfg(feature = "tracing")]
        crate::trace::on_move(self.role, self.peer, self.phase, &seen, &m);
        self.phase = m.to;
        self.timers.stop_outside(m.to);
        if let Some(frame) = m.report {
            self.received_close = Some(frame.clone());
            let remainder = self.chunk_remainder();
            self.events.push_back(Event::CloseReceived { frame, remainder });
        }
        if let Some(f) = m.send {
            self.push_close(&f.payload());
            self.sent_close = Some(f);
        }
        if let Some(arm) = m.arm {
            self.arm(now, arm);
        }
        if let Some(outcome) = m.finish {
            self.pending_failure = None;
            self.recv.discard();
            self.stop_sending(m.discard);
            self.outcome = Some(outcome.clone());
            self.events.push_back(Event::Closed(outcome));
        } else if m.discard {
            self.stop_sending(true);
        }
        // Each of these phases is entered once: the table only moves forwards.
        match m.to {
            Phase::Lingering => self.push_shutdown_write(),
            Phase::Disconnecting => self.push_disconnect(),
            Phase::Terminated => self.release_send_memory(),
            Phase::Connecting | Phase::Open | Phase::CloseSent | Phase::CloseReceived => {}
        }
        true
    }

    fn arm(&mut self, now: Instant, arm: Arm) {
        let (deadline, after) = match (arm, self.config.close_reply) {
            (Arm::Keepalive, _) => match self.config.keepalive {
                Some(k) => (Deadline::Ping, k.interval),
                None => return,
            },
            (Arm::CloseTimeout, _) => (Deadline::Close, self.config.close_timeout),
            (Arm::ReplyDeadline, CloseReply::Deadline(d)) => (Deadline::Reply, d),
            (Arm::ReplyDeadline, CloseReply::Immediate) => return,
            (Arm::Linger, _) => (Deadline::Linger, self.config.eof_timeout),
        };
        self.timers.set(deadline, now.checked_add(after));
    }

    pub(super) fn arm_handshake_timeout(&mut self, now: Instant) {
        self.timers.set(Deadline::Handshake, now.checked_add(self.config.handshake_timeout));
    }

    pub(super) fn opened(&mut self, now: Instant) {
        self.apply(now, Trigger::Opened);
    }

    /// A peer violation takes effect once the application has drained the events that came
    /// before it, so it can still answer them (an echo of the last valid message goes out
    /// before our 1002: Autobahn's "strict" behaviour). Meanwhile no more input is read. If
    /// nobody drains the events, it takes effect at `close_timeout` anyway.
    pub(super) fn fail(&mut self, now: Instant, e: PeerError) {
        self.recv.discard();
        if self.events.is_empty() {
            self.apply(now, Trigger::Violation(e));
        } else {
            self.pending_failure = Some(e);
            self.timers.set(Deadline::Failure, now.checked_add(self.config.close_timeout));
        }
    }

    pub(super) fn apply_pending_failure(&mut self) {
        if let Some(e) = self.pending_failure.take() {
            self.timers.stop(Deadline::Failure);
            let now = self.now;
            self.apply(now, Trigger::Violation(e));
        }
    }

    pub(super) fn start_client_handshake(&mut self, mut request: ClientRequest) -> Result<(), LocalError> {
        if let Some(config) = &self.config.deflate {
            request.headers.push(("Sec-WebSocket-Extensions".to_owned(), deflate::offer(config)));
        }
        let mut nonce = [0u8; 16];
        self.fill_keys(&mut nonce);
        let key = handshake::generate_key(nonce);
        let bytes = handshake::request_bytes(&request, &key)?;
        self.stage(&bytes);
        self.handshake = Handshake::ClientAwaiting { key, offered: request.subprotocols };
        Ok(())
    }

    /// Parses what has arrived of the handshake head; bytes after it stay buffered as frames.
    pub(super) fn advance_handshake(&mut self, now: Instant) -> Result<(), PeerError> {
        let max = self.config.max_handshake_size;
        match &self.handshake {
            Handshake::ClientAwaiting { key, offered } => {
                let deflate = self.config.deflate.as_ref();
                if let Some((response, n)) = handshake::parse_response(self.recv.buffer(), key, offered, deflate, max)?
                {
                    self.recv.advance(n);
                    self.deflate =
                        response.deflate.zip(deflate).map(|(params, config)| Codec::new(false, &params, config));
                    self.handshake = Handshake::Done;
                    self.opened(now);
                    self.events.push_back(Event::Connected(Box::new(response)));
                }
            }
            Handshake::ServerAwaitingRequest => match handshake::parse_request(self.recv.buffer(), max) {
                Ok(None) => {}
                Ok(Some((request, n))) => {
                    self.recv.advance(n);
                    self.handshake = Handshake::ServerAwaitingDecision(Box::new(request.clone()));
                    self.events.push_back(Event::Request(Box::new(request)));
                }
                Err(e) => {
                    // Our own headers only: this cannot fail.
                    self.stage(&handshake::reject_bytes(&handshake::Rejection::new(e.status())).unwrap_or_default());
                    return Err(e.into());
                }
            },
            // RFC 6455 §4.1: the client must wait for our response before sending frames.
            Handshake::ServerAwaitingDecision(_) if self.recv.buffer().len() > max => {
                return Err(crate::HandshakeError::TooLarge.into());
            }
            Handshake::ServerAwaitingDecision(_) | Handshake::Done => {}
        }
        Ok(())
    }
}
