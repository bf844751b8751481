//! The sans-IO connection: one plain value per endpoint. Inputs go in (`handle_*`, the
//! application's commands); outputs are drained with `poll_*` until `None`. Split by job:
//! [`receive`](self::receive) turns bytes into events, [`send`](self::send) turns commands
//! into bytes, [`lifecycle`](self::lifecycle) performs the moves of the state table
//! (`state.rs`) and fires the timers.

mod lifecycle;
mod receive;
mod send;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::KeySource;
use crate::accounting::{Chunking, Stats};
use crate::close::{CloseFrame, Outcome};
use crate::config::{Config, Delivery};
use crate::deflate::{Codec, DeflateParams};
use crate::handshake::{Request, Response};
use crate::message::{Chunk, Message};
use crate::state::{Phase, State};
use crate::timer::TimerTable;
use crate::{LocalError, PeerError};

use self::lifecycle::Handshake;
use self::receive::Receiving;
use self::send::Sending;

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
#[non_exhaustive]
pub enum Event {
    /// Client: the server accepted the upgrade; the connection is `Open`.
    Connected(Box<Response>),
    /// Server: a valid upgrade request. Answer with [`Connection::accept`] or
    /// [`Connection::reject`].
    Request(Box<Request>),
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

/// One endpoint of a WebSocket connection, without I/O. See the crate docs for the close
/// handshake and a hand-driven example.
///
/// # Driving it
///
/// A `Connection` never reads a clock, a socket or a random source: time comes in as `now`,
/// bytes as [`handle_input`](Self::handle_input), and mask keys from the [`KeySource`] given
/// at construction. After every input — `handle_input`, [`handle_eof`](Self::handle_eof),
/// [`handle_timeout`](Self::handle_timeout), or an application command such as
/// [`send`](Self::send) or [`close`](Self::close) — drain its outputs in this order:
///
/// 1. [`poll_transmit`](Self::poll_transmit) until `None`: bytes to write, in order, and then
///    possibly [`Transmit::ShutdownWrite`] and [`Transmit::Disconnect`]. Writing first means
///    pongs and Close replies go out whether or not the application is reading.
/// 2. [`poll_event`](Self::poll_event) until `None`, when the application wants them. Events
///    may be left queued (that is the application's backpressure), but a protocol violation
///    found after them takes effect only once they are drained (so the application can still
///    answer them) or at `close_timeout`. Draining can therefore queue output: go back to 1
///    while [`has_transmit`](Self::has_transmit) says so.
/// 3. [`poll_timeout`](Self::poll_timeout): the instant at which to call `handle_timeout`
///    if no other input comes first. It changes after any input, so ask again each time.
///
/// The connection is done when [`is_terminated`](Self::is_terminated): the transport has
/// taken the `Disconnect`, and nothing more will come out.
pub struct Connection {
    role: Role,
    config: Config,
    keys: Option<Box<dyn KeySource + Send>>,
    /// Where the state table (`state.rs`) has moved us; only `lifecycle::apply` changes it.
    phase: Phase,
    handshake: Handshake,
    now: Instant,
    recv: Receiving,
    send: Sending,
    /// A violation waiting for the events before it to be drained (or `Deadline::Failure`).
    pending_failure: Option<PeerError>,
    sent_close: Option<CloseFrame>,
    received_close: Option<CloseFrame>,
    outcome: Option<Outcome>,
    timers: TimerTable,
    events: VecDeque<Event>,
    stats: Stats,
    chunking: Chunking,
    /// The peer's address, if the transport knows it: a label for the `tracing` events only.
    peer: Option<core::net::SocketAddr>,
    /// permessage-deflate, once negotiated.
    deflate: Option<Codec>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("outcome", &self.outcome)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(
        role: Role,
        config: Config,
        keys: Option<Box<dyn KeySource + Send>>,
        handshake: Handshake,
        now: Instant,
    ) -> Self {
        let chunking = Chunking::new(config.chunk_size);
        let mut c = Connection {
            role,
            config,
            keys,
            phase: Phase::Connecting,
            handshake,
            now,
            recv: Receiving::default(),
            send: Sending::default(),
            pending_failure: None,
            sent_close: None,
            received_close: None,
            outcome: None,
            timers: TimerTable::default(),
            events: VecDeque::new(),
            stats: Stats::default(),
            chunking,
            peer: None,
            deflate: None,
        };
        c.arm_handshake_timeout(now);
        c
    }

    /// A client that starts with the opening handshake: the upgrade request is the first
    /// transmit. `keys` supplies the handshake nonce and every mask key.
    pub fn client(
        config: Config,
        request: crate::ClientRequest,
        keys: impl KeySource + Send + 'static,
        now: Instant,
    ) -> Result<Self, LocalError> {
        let mut c = Connection::new(Role::Client, config, Some(Box::new(keys)), Handshake::Done, now);
        c.start_client_handshake(request)?;
        Ok(c)
    }

    /// A server that starts by reading the client's upgrade request, reported as
    /// [`Event::Request`].
    pub fn server(config: Config, now: Instant) -> Self {
        Connection::new(Role::Server, config, None, Handshake::ServerAwaitingRequest, now)
    }

    /// A server whose HTTP stack (hyper, axum ...) read and validated the upgrade request
    /// (`Request::try_from(&http::Request)`): the request is reported as [`Event::Request`]
    /// at once, to be answered with [`Connection::accept`] or [`Connection::reject`] as for
    /// [`Connection::server`]. Bytes the HTTP stack read past the head go to `handle_input`.
    pub fn server_parsed(config: Config, request: Request, now: Instant) -> Self {
        let decision = Handshake::ServerAwaitingDecision(Box::new(request.clone()));
        let mut c = Connection::new(Role::Server, config, None, decision, now);
        c.events.push_back(Event::Request(Box::new(request)));
        c
    }

    /// A client whose handshake was done elsewhere: starts `Open`.
    pub fn client_established(config: Config, keys: impl KeySource + Send + 'static, now: Instant) -> Self {
        let mut c = Connection::new(Role::Client, config, Some(Box::new(keys)), Handshake::Done, now);
        c.opened(now);
        c
    }

    /// A server whose handshake was done elsewhere: starts `Open`.
    pub fn server_established(config: Config, now: Instant) -> Self {
        let mut c = Connection::new(Role::Server, config, None, Handshake::Done, now);
        c.opened(now);
        c
    }

    /// A copy of this connection in its current state, if its key source can be copied
    /// ([`KeySource::try_clone`]; servers have none) and no permessage-deflate context is in
    /// use yet (zlib's state cannot be copied). For model checking and tests that explore
    /// several futures of one connection.
    pub fn try_clone(&self) -> Option<Connection> {
        let keys = match &self.keys {
            Some(k) => Some(k.try_clone()?),
            None => None,
        };
        Some(Connection {
            role: self.role,
            config: self.config.clone(),
            keys,
            phase: self.phase,
            handshake: self.handshake.clone(),
            now: self.now,
            recv: self.recv.clone(),
            send: self.send.clone(),
            pending_failure: self.pending_failure.clone(),
            sent_close: self.sent_close.clone(),
            received_close: self.received_close.clone(),
            outcome: self.outcome.clone(),
            timers: self.timers.clone(),
            events: self.events.clone(),
            stats: self.stats,
            chunking: self.chunking.clone(),
            peer: self.peer,
            deflate: match &self.deflate {
                Some(codec) => Some(codec.try_clone()?),
                None => None,
            },
        })
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Names the peer (its address) in the `tracing` events (feature `tracing`); nothing else
    /// reads it.
    pub fn set_peer(&mut self, peer: core::net::SocketAddr) {
        self.peer = Some(peer);
    }

    /// The permessage-deflate agreement (RFC 7692), once the handshake made one.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate.as_ref().map(|c| c.params)
    }

    /// The close-handshake state.
    pub fn state(&self) -> State {
        self.phase.state()
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
        self.phase == Phase::Terminated
    }

    /// Bytes queued for the transport and not yet handed out.
    pub fn send_buffered(&self) -> usize {
        self.send.buffered
    }

    /// True while [`Self::poll_transmit`] has something to hand out. A transport whose writer
    /// was busy checks this after finishing, so output queued meanwhile is never stranded.
    #[must_use]
    pub fn has_transmit(&self) -> bool {
        self.send.has_transmit()
    }

    /// True while [`Self::poll_event`] has an event queued. A transport that hands events out
    /// one at a time writes the replies to a batch of them once, when this turns false.
    #[must_use]
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// True while a send would be refused for lack of buffer space.
    pub fn is_send_buffer_full(&self) -> bool {
        self.send.buffered >= self.config.send_buffer_limit
    }

    /// The next deadline at which [`Self::handle_timeout`] must be called, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            // A compressed message in streaming delivery inflates on as its chunks are drained.
            self.resume_inflating();
        }
        if self.events.is_empty() {
            self.apply_pending_failure();
        }
        self.events.pop_front()
    }

    /// `Closed`, in any phase of releasing the transport.
    fn is_closed(&self) -> bool {
        self.phase.state() == State::Closed
    }
}
