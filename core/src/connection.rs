//! The sans-IO connection: one plain value per endpoint. Inputs go in (`handle_*`, the
//! application's commands); outputs are drained with `poll_*` until `None`.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use crate::accounting::{Chunking, Stats};
use crate::close::{self, Arm, CloseFrame, Exchanged, Outcome, State, Teardown, Timer, Trigger};
use crate::config::{CloseReply, Config, Delivery};
use crate::frame::{self, Header, OpCode};
use crate::handshake::{self, Accept, ClientRequest, Request, Response};
use crate::message::{Chunk, DataKind, Message, Text};
use crate::utf8::Utf8Validator;
use crate::{KeySource, LocalError, PeerError};

/// Which end of the connection we are. Clients mask their frames; servers close TCP first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that opened the connection.
    Client,
    /// The endpoint that accepted it.
    Server,
}

/// Something for the application, drained with [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Client: the server accepted the upgrade; the connection is `Open`.
    Connected(Response),
    /// Server: a valid upgrade request. Answer with [`Connection::accept`] or
    /// [`Connection::reject`].
    Request(Request),
    /// A whole message ([`Delivery::Messages`]).
    Message(Message),
    /// A piece of a message ([`Delivery::Chunks`]).
    Chunk(Chunk),
    /// The peer pinged us (a pong is sent automatically while we may still send).
    Ping(Bytes),
    /// The peer's pong.
    Pong(Bytes),
    /// The received payload total reached `received`, the `index`-th multiple of
    /// [`Config::chunk_size`]. Emitted exactly where the crossing byte is delivered.
    ChunkBoundary {
        /// 1 for the first boundary.
        index: u64,
        /// `index * chunk_size`.
        received: u64,
    },
    /// The peer's Close arrived. `remainder` is the payload received since the last chunk
    /// boundary (the whole total without a chunk size): the final tally to report.
    CloseReceived {
        /// The peer's code and reason (1005: none given).
        frame: CloseFrame,
        /// Payload bytes after the last boundary.
        remainder: u64,
    },
    /// The connection reached `Closed`. Delivered exactly once.
    Closed(Outcome),
}

/// Something for the transport to do, in order, drained with [`Connection::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Write these bytes.
    Bytes(Bytes),
    /// Shut down the write direction (TCP FIN); keep reading.
    ShutdownWrite,
    /// Close the transport. Nothing follows.
    Disconnect,
}

/// Queued output. Large payloads stay the caller's `Bytes` (masked only when handed out).
#[derive(Debug, Clone)]
enum Segment {
    Bytes(Bytes),
    /// A client's large frame: `head` (what was staged before it, its header last) and the
    /// payload, masked with `key` while both are copied into one buffer when handed out: the
    /// masking copy is needed anyway, so header and payload leave in one write for free.
    Masked {
        head: Bytes,
        data: Bytes,
        key: [u8; 4],
    },
    ShutdownWrite,
    Disconnect,
}

#[derive(Debug, Clone)]
enum Handshake {
    Done,
    ClientAwaiting { key: String, offered: Vec<String> },
    ServerAwaitingRequest,
    ServerAwaitingDecision(Box<Request>),
}

/// Receive position: between frames, or inside the payload of `h` where `consumed` payload
/// bytes have left the buffer and the next `ready` bytes in it are unmasked and validated.
#[derive(Debug, Clone, Copy)]
enum Rx {
    Header,
    Payload { h: Header, consumed: u64, ready: usize },
}

/// The data message being received.
#[derive(Debug, Clone)]
struct Incoming {
    kind: DataKind,
    /// Delivered in chunks (the delivery mode when the message began).
    streaming: bool,
    claimed: u64,
    assembly: BytesMut,
    utf8: Utf8Validator,
}

/// The fragmented message being sent.
#[derive(Debug, Clone)]
struct Outgoing {
    kind: DataKind,
    utf8: Utf8Validator,
}

#[derive(Debug, Default, Clone)]
struct Timers {
    handshake: Option<Instant>,
    close: Option<Instant>,
    reply: Option<Instant>,
    linger: Option<Instant>,
    ping: Option<Instant>,
    pong: Option<Instant>,
}

impl Timers {
    fn earliest(&self) -> Option<Instant> {
        [self.handshake, self.close, self.reply, self.linger, self.ping, self.pong].into_iter().flatten().min()
    }
}

/// Payloads up to this size are copied next to their header so that small frames leave in one
/// write; larger ones are handed out as their own `Bytes` without a copy (server) or with the
/// masking copy only (client).
const INLINE_PAYLOAD: usize = 4096;

/// Most receive buffer space reserved ahead for a frame announced but not yet received.
const RESERVE_AHEAD: u64 = 4 << 20;

/// Pongs owed at most; older ones are dropped (RFC 6455 §5.5.3 lets us answer only the latest).
const MAX_OWED_PONGS: usize = 16;

/// One endpoint of a WebSocket connection, without I/O. See the crate docs for the close
/// handshake and a hand-driven example.
pub struct Connection {
    role: Role,
    config: Config,
    keys: Option<Box<dyn KeySource + Send>>,
    state: State,
    handshake: Handshake,
    now: Instant,
    rbuf: BytesMut,
    rx: Rx,
    /// Bytes after the `ready` ones in `rbuf` that were unmasked as they were appended (the
    /// current data frame's payload); `data_step` unmasks only what follows them.
    premasked: usize,
    incoming: Option<Incoming>,
    carry: BytesMut,
    delivered: u64,
    read_eof: bool,
    out: VecDeque<Segment>,
    staging: BytesMut,
    /// Client frames are masked into this buffer; its memory is used again once the transport
    /// has written and dropped the frames cut from it.
    masking: frame::MaskedFrames,
    buffered: usize,
    outgoing: Option<Outgoing>,
    pending_pongs: VecDeque<Bytes>,
    /// A violation waiting for the events before it to be drained, and when it applies anyway.
    pending_failure: Option<(PeerError, Option<Instant>)>,
    pings_sent: u64,
    sent_close: Option<CloseFrame>,
    received_close: Option<CloseFrame>,
    outcome: Option<Outcome>,
    lingering: bool,
    terminated: bool,
    timers: Timers,
    events: VecDeque<Event>,
    stats: Stats,
    chunking: Chunking,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("outcome", &self.outcome)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(role: Role, config: Config, keys: Option<Box<dyn KeySource + Send>>, state: State, now: Instant) -> Self {
        let chunking = Chunking::new(config.chunk_size);
        let mut c = Connection {
            role,
            config,
            keys,
            state,
            handshake: Handshake::Done,
            now,
            rbuf: BytesMut::new(),
            rx: Rx::Header,
            premasked: 0,
            incoming: None,
            carry: BytesMut::new(),
            delivered: 0,
            read_eof: false,
            out: VecDeque::new(),
            staging: BytesMut::new(),
            masking: frame::MaskedFrames::default(),
            buffered: 0,
            outgoing: None,
            pending_pongs: VecDeque::new(),
            pending_failure: None,
            pings_sent: 0,
            sent_close: None,
            received_close: None,
            outcome: None,
            lingering: false,
            terminated: false,
            timers: Timers::default(),
            events: VecDeque::new(),
            stats: Stats::default(),
            chunking,
        };
        match state {
            State::Connecting => c.timers.handshake = now.checked_add(c.config.handshake_timeout),
            _ => c.start_keepalive(now),
        }
        c
    }

    /// A client that starts with the opening handshake: the upgrade request is the first
    /// transmit. `keys` supplies the handshake nonce and every mask key.
    pub fn client(
        config: Config,
        request: ClientRequest,
        keys: impl KeySource + Send + 'static,
        now: Instant,
    ) -> Result<Self, LocalError> {
        let mut c = Connection::new(Role::Client, config, Some(Box::new(keys)), State::Connecting, now);
        let mut nonce = [0u8; 16];
        c.fill_keys(&mut nonce);
        let key = handshake::generate_key(nonce);
        let bytes = handshake::request_bytes(&request, &key)?;
        c.stage(&bytes);
        c.handshake = Handshake::ClientAwaiting { key, offered: request.subprotocols };
        Ok(c)
    }

    /// A server that starts by reading the client's upgrade request, reported as
    /// [`Event::Request`].
    pub fn server(config: Config, now: Instant) -> Self {
        let mut c = Connection::new(Role::Server, config, None, State::Connecting, now);
        c.handshake = Handshake::ServerAwaitingRequest;
        c
    }

    /// A client whose handshake was done elsewhere: starts `Open`.
    pub fn client_established(config: Config, keys: impl KeySource + Send + 'static, now: Instant) -> Self {
        Connection::new(Role::Client, config, Some(Box::new(keys)), State::Open, now)
    }

    /// A server whose handshake was done elsewhere: starts `Open`.
    pub fn server_established(config: Config, now: Instant) -> Self {
        Connection::new(Role::Server, config, None, State::Open, now)
    }

    /// A copy of this connection in its current state, if its key source can be copied
    /// ([`KeySource::try_clone`]; servers have none). For model checking and tests that
    /// explore several futures of one connection.
    pub fn try_clone(&self) -> Option<Connection> {
        let keys = match &self.keys {
            Some(k) => Some(k.try_clone()?),
            None => None,
        };
        Some(Connection {
            role: self.role,
            config: self.config.clone(),
            keys,
            state: self.state,
            handshake: self.handshake.clone(),
            now: self.now,
            rbuf: self.rbuf.clone(),
            rx: self.rx,
            premasked: self.premasked,
            incoming: self.incoming.clone(),
            carry: self.carry.clone(),
            delivered: self.delivered,
            read_eof: self.read_eof,
            out: self.out.clone(),
            staging: self.staging.clone(),
            masking: frame::MaskedFrames::default(),
            buffered: self.buffered,
            outgoing: self.outgoing.clone(),
            pending_pongs: self.pending_pongs.clone(),
            pending_failure: self.pending_failure.clone(),
            pings_sent: self.pings_sent,
            sent_close: self.sent_close.clone(),
            received_close: self.received_close.clone(),
            outcome: self.outcome.clone(),
            lingering: self.lingering,
            terminated: self.terminated,
            timers: self.timers.clone(),
            events: self.events.clone(),
            stats: self.stats,
            chunking: self.chunking.clone(),
        })
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The close-handshake state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How the connection ended, once `Closed`.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Changes how messages are delivered, from the next message on (a message being received
    /// keeps its mode). A server can choose per request, e.g. after looking at the path.
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.config.delivery = delivery;
    }

    /// Per-direction counts.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Payload received since the last chunk boundary (the whole total without a chunk size).
    pub fn chunk_remainder(&self) -> u64 {
        self.chunking.remainder(self.stats.received.payload_bytes)
    }

    /// True once [`Transmit::Disconnect`] has been handed out: the transport is done.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Bytes queued for the transport and not yet handed out.
    pub fn send_buffered(&self) -> usize {
        self.buffered
    }

    /// True while [`Self::poll_transmit`] has something to hand out. A transport whose writer
    /// was busy checks this after finishing, so output queued meanwhile is never stranded.
    pub fn has_transmit(&self) -> bool {
        !self.out.is_empty() || !self.staging.is_empty() || !self.pending_pongs.is_empty()
    }

    /// True while [`Self::poll_event`] has an event queued. A transport that hands events out
    /// one at a time writes the replies to a batch of them once, when this turns false.
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// True while a send would be refused for lack of buffer space.
    pub fn is_send_buffer_full(&self) -> bool {
        self.buffered >= self.config.send_buffer_limit
    }

    // ---- inputs -------------------------------------------------------------------------

    /// Bytes read from the transport. Bytes after a failure or after `Closed` are discarded.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        let mut data = data;
        // Input is taken a piece at a time so that every large masked payload is unmasked as
        // it is appended, while still in cache: up to the end of the current payload, then up to
        // the end of the next large frame's header. Processing in pieces is the same as reading
        // in pieces, which the machine's events never depend on (tests/properties.rs).
        while !data.is_empty() {
            if self.state == State::Closed || self.read_eof || self.pending_failure.is_some() {
                return;
            }
            let n = match self.unmask_room(data.len()) {
                Some((n, key, offset)) => {
                    frame::extend_unmasked(&mut self.rbuf, &data[..n], key, offset);
                    self.premasked += n;
                    n
                }
                None => {
                    let n = self.header_room(data);
                    self.rbuf.extend_from_slice(&data[..n]);
                    n
                }
            };
            data = &data[n..];
            self.process(now);
        }
        if self.rbuf.is_empty() {
            // Give the buffer back between reads that end on a frame boundary: an idle
            // connection keeps no receive memory (payloads handed out keep theirs alive).
            self.rbuf = BytesMut::new();
        }
    }

    /// Inside a masked data payload with nothing unprocessed buffered before the next byte:
    /// how many of the next `available` bytes belong to it, its key, and the payload offset of
    /// the first (`rbuf[i]` is payload byte `consumed + i` of the frame).
    fn unmask_room(&self, available: usize) -> Option<(usize, [u8; 4], u64)> {
        let Rx::Payload { h, consumed, ready } = self.rx else { return None };
        let key = h.mask.filter(|_| !h.opcode.is_control())?;
        if self.rbuf.len() != ready + self.premasked {
            return None;
        }
        let offset = consumed + self.rbuf.len() as u64;
        let n = (h.len - offset).min(available as u64) as usize;
        (n > 0).then_some((n, key, offset))
    }

    /// How much of `data` to append as it is: everything, except that a header announcing a
    /// large payload (16-bit or 64-bit length) is taken only up to its end, so that the payload
    /// after it is unmasked on the way in. Always at least one byte.
    fn header_room(&self, data: &[u8]) -> usize {
        if self.state == State::Connecting || !matches!(self.rx, Rx::Header) {
            return data.len();
        }
        let have = self.rbuf.len();
        let second = if have >= 2 { self.rbuf[1] } else { data.get(1 - have).copied().unwrap_or(0) };
        if have + data.len() < 2 || second & 0x7F < 126 {
            return data.len();
        }
        let len_bytes = if second & 0x7F == 126 { 2 } else { 8 };
        let mask_bytes = if second & 0x80 != 0 { 4 } else { 0 };
        let header = 2 + len_bytes + mask_bytes;
        if header <= have { data.len() } else { (header - have).min(data.len()) }
    }

    /// The transport's input ended (the peer's FIN, or a read error).
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if self.read_eof {
            return;
        }
        self.read_eof = true;
        self.apply_pending_failure();
        if self.lingering {
            self.disconnect();
        } else {
            self.apply(now, Trigger::Eof);
        }
    }

    /// Fires every deadline at or before `now`. Call it when [`Self::poll_timeout`] passes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.pending_failure.as_ref().is_some_and(|(_, at)| at.is_some_and(|at| at <= now)) {
            self.apply_pending_failure();
        }
        let due = |t: &mut Option<Instant>| t.take_if(|t| *t <= now).is_some();
        if due(&mut self.timers.handshake) {
            self.apply(now, Trigger::Timeout(Timer::Handshake));
        }
        if due(&mut self.timers.close) {
            self.apply(now, Trigger::Timeout(Timer::Close));
        }
        if due(&mut self.timers.reply) {
            self.apply(now, Trigger::ReplyDeadline);
        }
        if due(&mut self.timers.pong) {
            self.apply(now, Trigger::Timeout(Timer::Pong));
        }
        if due(&mut self.timers.ping) && self.state == State::Open {
            if let Some(k) = self.config.keepalive {
                self.pings_sent += 1;
                let payload = self.pings_sent.to_be_bytes();
                self.push_control(OpCode::Ping, &payload);
                if self.timers.pong.is_none() {
                    self.timers.pong = now.checked_add(k.timeout);
                }
                self.timers.ping = now.checked_add(k.interval);
            }
        }
        if due(&mut self.timers.linger) && self.lingering {
            self.disconnect();
        }
    }

    // ---- outputs ------------------------------------------------------------------------

    /// The next deadline at which [`Self::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.terminated {
            return None;
        }
        let failure = self.pending_failure.as_ref().and_then(|(_, at)| *at);
        [self.timers.earliest(), failure].into_iter().flatten().min()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            self.apply_pending_failure();
        }
        self.events.pop_front()
    }

    /// The next thing for the transport to do. Small frames queued together come out as one
    /// buffer; large payloads come out as their own `Bytes`.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.flush_pongs();
        let seg = match self.out.pop_front() {
            Some(s) => s,
            None if !self.staging.is_empty() => Segment::Bytes(self.staging.split().freeze()),
            None => return None,
        };
        Some(match seg {
            Segment::Bytes(b) => {
                self.buffered = self.buffered.saturating_sub(b.len());
                Transmit::Bytes(b)
            }
            Segment::Masked { head, data, key } => {
                let m = self.masking.frame(&head, &data, key);
                self.buffered = self.buffered.saturating_sub(m.len());
                Transmit::Bytes(m)
            }
            Segment::ShutdownWrite => Transmit::ShutdownWrite,
            Segment::Disconnect => {
                self.terminated = true;
                self.masking.release();
                Transmit::Disconnect
            }
        })
    }

    // ---- application commands -----------------------------------------------------------

    /// Server: accepts the pending [`Event::Request`]; the connection becomes `Open`.
    pub fn accept(&mut self, now: Instant, accept: Accept) -> Result<(), LocalError> {
        self.now = now;
        let Handshake::ServerAwaitingDecision(req) = &self.handshake else {
            return Err(LocalError::Handshake("accept: no upgrade request is waiting for a decision"));
        };
        let bytes = handshake::accept_bytes(req, &accept)?;
        self.stage(&bytes);
        self.handshake = Handshake::Done;
        self.open(now);
        self.process(now);
        Ok(())
    }

    /// Server: refuses the pending [`Event::Request`] with an HTTP status (400–599).
    pub fn reject(&mut self, now: Instant, status: u16) -> Result<(), LocalError> {
        self.now = now;
        if !matches!(self.handshake, Handshake::ServerAwaitingDecision(_)) {
            return Err(LocalError::Handshake("reject: no upgrade request is waiting for a decision"));
        }
        self.stage(&handshake::reject_bytes(status));
        self.handshake = Handshake::Done;
        self.apply(now, Trigger::Reject(status));
        Ok(())
    }

    /// Sends a whole message, split into frames of at most `Config::max_send_frame_size`.
    pub fn send(&mut self, message: Message) -> Result<(), LocalError> {
        self.check_can_send()?;
        if self.outgoing.is_some() {
            return Err(LocalError::MessageInProgress);
        }
        let kind = message.kind();
        self.push_data(kind, message.into_payload(), true, true);
        Ok(())
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: impl Into<Text>) -> Result<(), LocalError> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send(Message::Binary(data.into()))
    }

    /// Sends part of a message; `end_of_message` finishes it (as .NET's `SendAsync`). Text
    /// fragments may split a code point; the whole message must be valid UTF-8.
    pub fn send_fragment(&mut self, kind: DataKind, data: Bytes, end_of_message: bool) -> Result<(), LocalError> {
        self.check_can_send()?;
        let (first, mut utf8) = match self.outgoing.take() {
            None => (true, Utf8Validator::default()),
            Some(o) if o.kind == kind => (false, o.utf8),
            Some(o) => {
                let open = o.kind;
                self.outgoing = Some(o);
                return Err(LocalError::FragmentKindMismatch { open, sent: kind });
            }
        };
        if kind == DataKind::Text {
            let before = utf8.clone();
            if utf8.feed(&data).is_err() || (end_of_message && utf8.pending() > 0) {
                if !first {
                    self.outgoing = Some(Outgoing { kind, utf8: before });
                }
                return Err(LocalError::InvalidUtf8);
            }
        }
        if !end_of_message {
            self.outgoing = Some(Outgoing { kind, utf8 });
        }
        self.push_data(kind, data, first, end_of_message);
        Ok(())
    }

    /// Sends a ping (payload at most 125 bytes).
    pub fn ping(&mut self, payload: Bytes) -> Result<(), LocalError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Sends an unsolicited pong (payload at most 125 bytes).
    pub fn pong(&mut self, payload: Bytes) -> Result<(), LocalError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Close-output: sends our Close. From `Open` we go to `CloseSent` and keep receiving
    /// until the peer's Close; from `CloseReceived` this is our reply and the connection
    /// closes. A second call is refused with [`LocalError::NotOpen`].
    pub fn close(&mut self, now: Instant, frame: CloseFrame) -> Result<(), LocalError> {
        self.now = now;
        frame.validate_local()?;
        if !self.apply(now, Trigger::LocalClose(frame)) {
            return Err(LocalError::NotOpen(self.state));
        }
        Ok(())
    }

    /// Gives up at once: no Close frame, queued output dropped, disconnect.
    pub fn abort(&mut self) {
        let now = self.now;
        self.apply(now, Trigger::Abort);
    }

    // ---- the close state machine --------------------------------------------------------

    /// Runs the close table and performs the move. False if the trigger does not apply.
    fn apply(&mut self, now: Instant, trigger: Trigger) -> bool {
        let x = Exchanged { sent: self.sent_close.as_ref(), received: self.received_close.as_ref() };
        let Some(m) = close::transition(self.state, trigger, self.config.close_reply, x) else {
            return false;
        };
        self.state = m.to;
        if let Some(frame) = m.report {
            self.received_close = Some(frame.clone());
            let remainder = self.chunk_remainder();
            self.events.push_back(Event::CloseReceived { frame, remainder });
        }
        if let Some(f) = m.send {
            // Pongs owed from before our Close go first; none may follow it (§5.5.1).
            self.flush_pongs();
            self.push_control(OpCode::Close, &f.payload());
            self.sent_close = Some(f);
        }
        match (m.arm, self.config.close_reply) {
            (Some(Arm::CloseTimeout), _) => self.timers.close = now.checked_add(self.config.close_timeout),
            (Some(Arm::ReplyDeadline), CloseReply::Deadline(d)) => self.timers.reply = now.checked_add(d),
            _ => {}
        }
        if self.state != State::Open {
            self.timers.ping = None;
            self.timers.pong = None;
        }
        if let Some(outcome) = m.finish {
            self.finish(now, outcome);
        }
        true
    }

    fn finish(&mut self, now: Instant, outcome: Outcome) {
        self.timers = Timers::default();
        self.pending_pongs.clear();
        self.pending_failure = None;
        self.rbuf = BytesMut::new();
        self.premasked = 0;
        self.incoming = None;
        self.outgoing = None;
        match close::teardown(self.role, &outcome) {
            Teardown::Disconnect => {
                if matches!(outcome, Outcome::TimedOut(_) | Outcome::Aborted | Outcome::Abnormal) {
                    self.out.clear();
                    self.staging.clear();
                    self.buffered = 0;
                }
                self.disconnect();
            }
            Teardown::Linger => {
                self.push_segment(Segment::ShutdownWrite);
                if self.read_eof {
                    self.disconnect();
                } else {
                    self.lingering = true;
                    self.timers.linger = now.checked_add(self.config.eof_timeout);
                }
            }
        }
        self.outcome = Some(outcome.clone());
        self.events.push_back(Event::Closed(outcome));
    }

    fn disconnect(&mut self) {
        if !self.terminated && !self.out.iter().any(|s| matches!(s, Segment::Disconnect)) {
            self.lingering = false;
            self.timers.linger = None;
            self.push_segment(Segment::Disconnect);
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = State::Open;
        self.timers.handshake = None;
        self.start_keepalive(now);
    }

    fn start_keepalive(&mut self, now: Instant) {
        if let Some(k) = self.config.keepalive {
            self.timers.ping = now.checked_add(k.interval);
        }
    }

    // ---- receiving ----------------------------------------------------------------------

    fn process(&mut self, now: Instant) {
        if self.state == State::Connecting {
            if let Err(e) = self.advance_handshake(now) {
                self.fail(now, e);
            }
            if self.state == State::Connecting {
                return;
            }
        }
        if let Err(e) = self.process_frames(now) {
            self.fail(now, e);
        }
    }

    /// A peer violation takes effect once the application has drained the events that came
    /// before it, so it can still answer them (an echo of the last valid message goes out
    /// before our 1002: Autobahn's "strict" behaviour). Meanwhile no more input is read. If
    /// nobody drains the events, it takes effect at `close_timeout` anyway.
    fn fail(&mut self, now: Instant, e: PeerError) {
        self.rbuf = BytesMut::new();
        self.premasked = 0;
        if self.events.is_empty() {
            self.apply(now, Trigger::Violation(e));
        } else {
            self.pending_failure = Some((e, now.checked_add(self.config.close_timeout)));
        }
    }

    fn apply_pending_failure(&mut self) {
        if let Some((e, _)) = self.pending_failure.take() {
            let now = self.now;
            self.apply(now, Trigger::Violation(e));
        }
    }

    fn advance_handshake(&mut self, now: Instant) -> Result<(), PeerError> {
        let max = self.config.max_handshake_size;
        match &self.handshake {
            Handshake::ClientAwaiting { key, offered } => {
                if let Some((response, n)) = handshake::parse_response(&self.rbuf, key, offered, max)? {
                    self.rbuf.advance(n);
                    self.handshake = Handshake::Done;
                    self.open(now);
                    self.events.push_back(Event::Connected(response));
                }
            }
            Handshake::ServerAwaitingRequest => match handshake::parse_request(&self.rbuf, max) {
                Ok(None) => {}
                Ok(Some((request, n))) => {
                    self.rbuf.advance(n);
                    self.handshake = Handshake::ServerAwaitingDecision(Box::new(request.clone()));
                    self.events.push_back(Event::Request(request));
                }
                Err(e) => {
                    self.stage(&handshake::reject_bytes(e.status()));
                    return Err(e.into());
                }
            },
            // RFC 6455 §4.1: the client must wait for our response before sending frames.
            Handshake::ServerAwaitingDecision(_) if self.rbuf.len() > max => {
                return Err(crate::HandshakeError::TooLarge.into());
            }
            Handshake::ServerAwaitingDecision(_) | Handshake::Done => {}
        }
        Ok(())
    }

    fn process_frames(&mut self, now: Instant) -> Result<(), PeerError> {
        while self.state != State::Closed {
            if self.received_close.is_some() {
                // RFC 6455 §5.5.1: the peer may send nothing after its Close. Whatever it sends
                // anyway is discarded, never delivered; our reply (and final messages) still go
                // out. Autobahn 7.1.2-7.1.5 expect exactly this: a normal echo of the Close.
                self.rbuf.clear();
                self.premasked = 0;
                return Ok(());
            }
            match self.rx {
                Rx::Header => {
                    if let Some(e) = frame::early_violation(&self.rbuf, self.role == Role::Server) {
                        return Err(e);
                    }
                    let Some((h, n)) = frame::parse_header(&self.rbuf)? else {
                        return Ok(());
                    };
                    self.check_header(&h)?;
                    self.rbuf.advance(n);
                    if h.opcode.is_control() {
                        self.stats.received.control_frames += 1;
                    } else {
                        self.stats.received.data_frames += 1;
                        let kind = match h.opcode {
                            OpCode::Text => Some(DataKind::Text),
                            OpCode::Binary => Some(DataKind::Binary),
                            _ => None,
                        };
                        if let Some(kind) = kind {
                            self.incoming = Some(Incoming {
                                kind,
                                streaming: self.config.delivery == Delivery::Chunks,
                                claimed: 0,
                                assembly: BytesMut::new(),
                                utf8: Utf8Validator::default(),
                            });
                        }
                        if let Some(inc) = &mut self.incoming {
                            inc.claimed = inc.claimed.saturating_add(h.len);
                            if !inc.streaming {
                                // The payload stays here until the frame ends: room for it now
                                // (within a bound) rather than copying as the buffer doubles.
                                self.rbuf.reserve(h.len.min(RESERVE_AHEAD) as usize);
                            }
                        }
                    }
                    self.rx = Rx::Payload { h, consumed: 0, ready: 0 };
                }
                Rx::Payload { h, .. } if h.opcode.is_control() => {
                    let len = h.len as usize;
                    if self.rbuf.len() < len {
                        return Ok(());
                    }
                    let mut payload = self.rbuf.split_to(len);
                    if let Some(key) = h.mask {
                        frame::apply_mask(&mut payload, key, 0);
                    }
                    self.rx = Rx::Header;
                    self.on_control(now, h.opcode, payload.freeze())?;
                }
                Rx::Payload { h, consumed, ready } => {
                    if !self.data_step(h, consumed, ready)? {
                        return Ok(());
                    }
                }
            }
        }
        self.rbuf.clear();
        self.premasked = 0;
        Ok(())
    }

    /// RFC 6455 §5.1–§5.5 checks that need the connection's context.
    fn check_header(&self, h: &Header) -> Result<(), PeerError> {
        if h.rsv != 0 {
            return Err(PeerError::ReservedBits(h.rsv));
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(PeerError::FragmentedControl);
            }
            if h.len > 125 {
                return Err(PeerError::ControlTooLong(h.len));
            }
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(PeerError::UnmaskedFrame),
            (Role::Client, true) => return Err(PeerError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            return Ok(());
        }
        match (h.opcode, &self.incoming) {
            (OpCode::Continuation, None) => return Err(PeerError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => return Err(PeerError::ExpectedContinuation),
            _ => {}
        }
        if h.len > self.config.max_frame_size {
            return Err(PeerError::FrameTooLarge { size: h.len, limit: self.config.max_frame_size });
        }
        let size = self.incoming.as_ref().map_or(0, |i| i.claimed).saturating_add(h.len);
        if size > self.config.max_message_size {
            return Err(PeerError::MessageTooLarge { size, limit: self.config.max_message_size });
        }
        Ok(())
    }

    fn on_control(&mut self, now: Instant, op: OpCode, payload: Bytes) -> Result<(), PeerError> {
        match op {
            OpCode::Ping => {
                // §5.5.2: answer every ping with a pong, but never after our own Close (§5.5.1).
                // At most MAX_OWED_PONGS are owed: past that the oldest go unanswered, which
                // §5.5.3 allows, so a ping flood cannot grow our output.
                if matches!(self.state, State::Open | State::CloseReceived) {
                    if self.pending_pongs.len() == MAX_OWED_PONGS {
                        self.pending_pongs.pop_front();
                    }
                    self.pending_pongs.push_back(payload.clone());
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => {
                self.timers.pong = None;
                self.events.push_back(Event::Pong(payload));
            }
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                self.apply(now, Trigger::PeerClose(frame));
            }
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {}
        }
        Ok(())
    }

    /// Processes the next piece of a data frame's payload. False: more input is needed.
    ///
    /// Every payload byte is unmasked, validated and counted exactly once, in place in the
    /// receive buffer, as soon as it arrives. A step never runs past a chunk boundary, so
    /// boundary events land at the same place in the event stream however the input was
    /// split. Whole-message delivery keeps the frame in the buffer and hands it out without
    /// a copy when the message is a single frame.
    fn data_step(&mut self, h: Header, consumed: u64, ready: usize) -> Result<bool, PeerError> {
        let Some(mut inc) = self.incoming.take() else {
            return Err(PeerError::UnexpectedContinuation);
        };
        let streaming = inc.streaming;
        let total = self.stats.received.payload_bytes;
        let frame_left = h.len - consumed - ready as u64;
        let mut step = frame_left.min((self.rbuf.len() - ready) as u64);
        if streaming && inc.kind == DataKind::Text && self.chunking.is_pending(total) {
            // A boundary fell inside a code point: finish the code point, then report it.
            step = step.min(inc.utf8.needed() as u64);
        } else {
            step = step.min(self.chunking.until_next(total));
        }
        if step == 0 && frame_left > 0 {
            self.incoming = Some(inc);
            return Ok(false);
        }
        let (start, end) = (ready, ready + step as usize);
        let pre = self.premasked.min(end - start);
        self.premasked -= pre;
        if let Some(key) = h.mask {
            frame::apply_mask(&mut self.rbuf[start + pre..end], key, (consumed + (start + pre) as u64) as usize);
        }
        if inc.kind == DataKind::Text {
            if let Err(valid) = inc.utf8.feed(&self.rbuf[start..end]) {
                // Deliver the code points that were valid before failing, so the events do not
                // depend on whether they arrived in the same read as the invalid byte.
                if streaming && valid > 0 {
                    let n = self.carry.len() + ready + valid;
                    self.stats.received.payload_bytes += valid as u64;
                    let mut data = self.carry.split();
                    data.extend_from_slice(&self.rbuf[..n - data.len()]);
                    self.delivered += data.len() as u64;
                    let chunk = Chunk { kind: inc.kind, data: data.freeze(), end_of_message: false };
                    self.events.push_back(Event::Chunk(chunk));
                    self.report_boundaries(self.delivered);
                }
                return Err(PeerError::InvalidUtf8("text message"));
            }
        }
        self.stats.received.payload_bytes += step;
        let (mut consumed, mut ready) = (consumed, end);
        let frame_done = consumed + ready as u64 == h.len;
        // A message must not end inside a code point; what came before it is still delivered
        // (in streaming mode) so the events do not depend on how the input was split.
        let truncated = frame_done && h.fin && inc.utf8.pending() > 0;
        let fin = frame_done && h.fin && !truncated;

        if streaming {
            let held = self.carry.len() + ready;
            let deliverable = held - inc.utf8.pending();
            if deliverable > 0 || fin {
                let from_buf = deliverable.saturating_sub(self.carry.len());
                let piece = self.rbuf.split_to(from_buf);
                let data = if self.carry.is_empty() {
                    piece.freeze()
                } else {
                    // A code point split across frames: a copy of at most one small piece.
                    let mut joined = self.carry.split();
                    joined.extend_from_slice(&piece);
                    joined.freeze()
                };
                consumed += from_buf as u64;
                ready -= from_buf;
                self.delivered += data.len() as u64;
                self.events.push_back(Event::Chunk(Chunk { kind: inc.kind, data, end_of_message: fin }));
                self.report_boundaries(self.delivered);
            }
            if frame_done && ready > 0 {
                let tail = self.rbuf.split_to(ready);
                self.carry.extend_from_slice(&tail);
            }
        } else {
            self.report_boundaries(self.stats.received.payload_bytes);
            if frame_done {
                let payload = self.rbuf.split_to(ready);
                if fin && inc.assembly.is_empty() {
                    self.deliver(inc.kind, payload.freeze())?;
                } else {
                    inc.assembly.extend_from_slice(&payload);
                    if fin {
                        let data = inc.assembly.split().freeze();
                        self.deliver(inc.kind, data)?;
                    }
                }
            }
        }

        if truncated {
            return Err(PeerError::InvalidUtf8("text message"));
        }
        if fin {
            self.stats.received.messages += 1;
        } else {
            self.incoming = Some(inc);
        }
        self.rx = if frame_done { Rx::Header } else { Rx::Payload { h, consumed, ready } };
        Ok(true)
    }

    fn deliver(&mut self, kind: DataKind, data: Bytes) -> Result<(), PeerError> {
        let message = match kind {
            DataKind::Binary => Message::Binary(data),
            DataKind::Text => Message::Text(Text::from_utf8(data).map_err(|_| PeerError::InvalidUtf8("text message"))?),
        };
        self.events.push_back(Event::Message(message));
        Ok(())
    }

    fn report_boundaries(&mut self, total: u64) {
        while let Some((index, received)) = self.chunking.next_due(total) {
            self.events.push_back(Event::ChunkBoundary { index, received });
        }
    }

    // ---- sending ------------------------------------------------------------------------

    fn check_can_send(&self) -> Result<(), LocalError> {
        if !matches!(self.state, State::Open | State::CloseReceived) {
            return Err(LocalError::NotOpen(self.state));
        }
        if self.is_send_buffer_full() {
            return Err(LocalError::SendBufferFull { buffered: self.buffered, limit: self.config.send_buffer_limit });
        }
        Ok(())
    }

    fn send_control(&mut self, op: OpCode, payload: Bytes) -> Result<(), LocalError> {
        if !matches!(self.state, State::Open | State::CloseReceived) {
            return Err(LocalError::NotOpen(self.state));
        }
        if payload.len() > 125 {
            return Err(LocalError::ControlTooLong(payload.len()));
        }
        self.push_control(op, &payload);
        Ok(())
    }

    fn push_data(&mut self, kind: DataKind, mut data: Bytes, first: bool, end_of_message: bool) {
        let mut op = match (first, kind) {
            (false, _) => OpCode::Continuation,
            (true, DataKind::Text) => OpCode::Text,
            (true, DataKind::Binary) => OpCode::Binary,
        };
        let max = self.config.max_send_frame_size.max(1);
        loop {
            let piece = if data.len() > max { data.split_to(max) } else { std::mem::take(&mut data) };
            let last = data.is_empty();
            self.stats.sent.data_frames += 1;
            self.stats.sent.payload_bytes += piece.len() as u64;
            self.push_frame(end_of_message && last, op, piece);
            op = OpCode::Continuation;
            if last {
                break;
            }
        }
        if end_of_message {
            self.stats.sent.messages += 1;
        }
    }

    fn flush_pongs(&mut self) {
        while let Some(p) = self.pending_pongs.pop_front() {
            self.push_control(OpCode::Pong, &p);
        }
    }

    fn push_control(&mut self, op: OpCode, payload: &[u8]) {
        self.stats.sent.control_frames += 1;
        // At most 125 bytes: always written next to the header, so no `Bytes` of its own.
        self.push_inline(true, op, payload);
    }

    fn push_frame(&mut self, fin: bool, op: OpCode, payload: Bytes) {
        if payload.len() <= INLINE_PAYLOAD {
            return self.push_inline(fin, op, &payload);
        }
        let mask = self.next_mask();
        self.put_header(fin, op, mask, payload.len());
        self.buffered += payload.len();
        match mask {
            Some(key) => {
                let head = self.staging.split().freeze();
                self.out.push_back(Segment::Masked { head, data: payload, key });
            }
            None => self.push_segment(Segment::Bytes(payload)),
        }
    }

    /// A frame copied, with its header, into the staging buffer (masked in place).
    fn push_inline(&mut self, fin: bool, op: OpCode, payload: &[u8]) {
        let mask = self.next_mask();
        self.put_header(fin, op, mask, payload.len());
        let start = self.staging.len();
        self.staging.extend_from_slice(payload);
        if let Some(key) = mask {
            frame::apply_mask(&mut self.staging[start..], key, 0);
        }
        self.buffered += payload.len();
    }

    fn put_header(&mut self, fin: bool, op: OpCode, mask: Option<[u8; 4]>, len: usize) {
        let before = self.staging.len();
        frame::put_header(&mut self.staging, fin, op, mask, len as u64);
        self.buffered += self.staging.len() - before;
    }

    /// A fresh mask key for a client's frame (RFC 6455 §5.3); servers do not mask.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => {
                let mut key = [0u8; 4];
                self.fill_keys(&mut key);
                Some(key)
            }
            Role::Server => None,
        }
    }

    fn stage(&mut self, bytes: &[u8]) {
        self.staging.extend_from_slice(bytes);
        self.buffered += bytes.len();
    }

    /// Queues a segment behind everything staged so far.
    fn push_segment(&mut self, seg: Segment) {
        if !self.staging.is_empty() {
            let staged = self.staging.split().freeze();
            self.out.push_back(Segment::Bytes(staged));
        }
        self.out.push_back(seg);
    }

    fn fill_keys(&mut self, dest: &mut [u8]) {
        if let Some(k) = &mut self.keys {
            k.fill(dest);
        }
    }
}
