//! Virtual-time harness: two `Connection`s wired through in-memory byte pipes. Bytes are
//! delivered in pieces chosen by a splitter; when nothing can move, time jumps to the earliest
//! deadline of either side (like quinn-proto's `Pair::step`). No sleeping, no clock but the
//! single `Instant` taken at start.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use wsduplex_core::*;

/// Application logic for one side, called by the harness.
pub trait App {
    /// Called for every event, after it is recorded.
    fn on_event(&mut self, _conn: &mut Connection, _now: Instant, _event: &Event) {}
    /// Called at the start of every round (a chance to send more).
    fn tick(&mut self, _conn: &mut Connection, _now: Instant) {}
    /// True while the app still has commands to run: the harness keeps stepping (no deadlock).
    fn busy(&self) -> bool {
        false
    }
}

/// Does nothing beyond what the core does by itself.
pub struct Idle;
impl App for Idle {}

/// One endpoint, its pipe-facing state and what it observed.
pub struct Side {
    pub conn: Connection,
    pub app: Box<dyn App>,
    /// Every event in order, with the virtual time it was drained at.
    pub events: Vec<(Duration, Event)>,
    /// Every byte this side wrote (only when `record_wire`).
    pub wire: Vec<u8>,
    pub record_wire: bool,
    /// Bytes in flight towards this side.
    inbox: BytesMut,
    /// The peer's FIN follows the bytes in `inbox`.
    inbox_eof: bool,
    eof_delivered: bool,
    /// This side closed its transport.
    pub disconnected: bool,
    pub disconnected_at: Option<Duration>,
    pub shutdown_write_at: Option<Duration>,
    splits: Vec<usize>,
    split_at: usize,
}

impl Side {
    fn new(conn: Connection) -> Self {
        Side {
            conn,
            app: Box::new(Idle),
            events: Vec::new(),
            wire: Vec::new(),
            record_wire: false,
            inbox: BytesMut::new(),
            inbox_eof: false,
            eof_delivered: false,
            disconnected: false,
            disconnected_at: None,
            shutdown_write_at: None,
            splits: Vec::new(),
            split_at: 0,
        }
    }

    /// Deliver incoming bytes in pieces of these sizes (cycled; 0 is read as 1).
    pub fn set_splits(&mut self, splits: Vec<usize>) {
        self.splits = splits;
        self.split_at = 0;
    }

    fn next_piece(&mut self) -> usize {
        if self.splits.is_empty() {
            return usize::MAX;
        }
        let n = self.splits[self.split_at % self.splits.len()].max(1);
        self.split_at += 1;
        n
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.conn.outcome()
    }

    /// Events without their times.
    pub fn event_list(&self) -> Vec<Event> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

pub struct Pair {
    pub client: Side,
    pub server: Side,
    pub start: Instant,
    pub now: Instant,
}

/// Moves everything one side wants to write into the other side's inbox.
fn flush(from: &mut Side, to: &mut Side, elapsed: Duration) -> bool {
    let mut moved = false;
    while let Some(t) = from.conn.poll_transmit() {
        moved = true;
        match t {
            Transmit::Bytes(b) => {
                assert!(!from.disconnected, "bytes after Disconnect");
                assert!(from.shutdown_write_at.is_none(), "bytes after ShutdownWrite");
                if from.record_wire {
                    from.wire.extend_from_slice(&b);
                }
                if !to.disconnected {
                    to.inbox.extend_from_slice(&b);
                }
            }
            Transmit::ShutdownWrite => {
                from.shutdown_write_at.get_or_insert(elapsed);
                to.inbox_eof = true;
            }
            Transmit::Disconnect => {
                from.disconnected = true;
                from.disconnected_at = Some(elapsed);
                from.inbox.clear();
                to.inbox_eof = true;
            }
        }
    }
    moved
}

fn drain_events(side: &mut Side, now: Instant, elapsed: Duration) -> bool {
    let mut any = false;
    while let Some(e) = side.conn.poll_event() {
        any = true;
        side.app.on_event(&mut side.conn, now, &e);
        side.events.push((elapsed, e));
    }
    any
}

/// Feeds one piece of the inbox (or the EOF behind it) to the side.
fn receive(side: &mut Side, now: Instant) -> bool {
    if side.disconnected {
        return false;
    }
    if !side.inbox.is_empty() {
        let n = side.next_piece().min(side.inbox.len());
        let piece = side.inbox.split_to(n);
        side.conn.handle_input(now, &piece);
        return true;
    }
    if side.inbox_eof && !side.eof_delivered {
        side.eof_delivered = true;
        side.conn.handle_eof(now);
        return true;
    }
    false
}

impl Pair {
    /// Client and server, opening handshake done (the server accepts by default).
    pub fn new(client_config: Config, server_config: Config) -> Pair {
        Pair::with_request(client_config, server_config, ClientRequest::new("localhost", "/"), Accept::default())
    }

    pub fn with_request(client_config: Config, server_config: Config, req: ClientRequest, accept: Accept) -> Pair {
        let start = Instant::now();
        let client = Connection::client(client_config, req, SeededKeys::new(42), start).expect("valid request");
        let server = Connection::server(server_config, start);
        let mut pair = Pair { client: Side::new(client), server: Side::new(server), start, now: start };
        pair.server.app = Box::new(Acceptor(Some(accept)));
        pair.run_until(|p| p.client.conn.state() != State::Connecting);
        pair.server.app = Box::new(Idle);
        assert_eq!(pair.client.conn.state(), State::Open, "{:?}", pair.client.events);
        pair
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// One round: apps tick, writes flush, one piece is delivered each way, events drained.
    /// Returns whether anything moved.
    pub fn round(&mut self) -> bool {
        let (now, el) = (self.now, self.elapsed());
        let mut moved = false;
        for _ in 0..2 {
            if !self.client.disconnected {
                self.client.app.tick(&mut self.client.conn, now);
            }
            if !self.server.disconnected {
                self.server.app.tick(&mut self.server.conn, now);
            }
            moved |= flush(&mut self.client, &mut self.server, el);
            moved |= flush(&mut self.server, &mut self.client, el);
            moved |= receive(&mut self.client, now);
            moved |= receive(&mut self.server, now);
            moved |= drain_events(&mut self.client, now, el);
            moved |= drain_events(&mut self.server, now, el);
        }
        moved
            || (!self.client.disconnected && self.client.app.busy())
            || (!self.server.disconnected && self.server.app.busy())
    }

    /// Runs until both sides have disconnected. Panics on a deadlock (nothing can move and no
    /// deadline is armed) or if more than `limit` of virtual time passes.
    pub fn run(&mut self, limit: Duration) {
        self.run_until(|p| p.client.disconnected && p.server.disconnected);
        assert!(self.elapsed() <= limit, "took {:?} > {limit:?}", self.elapsed());
    }

    pub fn run_until(&mut self, mut done: impl FnMut(&Pair) -> bool) {
        let mut rounds = 0u64;
        while !done(self) {
            rounds += 1;
            assert!(rounds < 10_000_000, "no end after {rounds} rounds");
            if self.round() {
                continue;
            }
            let deadline =
                [self.client.conn.poll_timeout(), self.server.conn.poll_timeout()].into_iter().flatten().min();
            let Some(deadline) = deadline else {
                panic!(
                    "deadlock at {:?}: client {:?} server {:?}\nclient events {:?}\nserver events {:?}",
                    self.elapsed(),
                    self.client.conn,
                    self.server.conn,
                    self.client.events.iter().rev().take(5).collect::<Vec<_>>(),
                    self.server.events.iter().rev().take(5).collect::<Vec<_>>()
                );
            };
            self.now = self.now.max(deadline);
            let now = self.now;
            self.client.conn.handle_timeout(now);
            self.server.conn.handle_timeout(now);
        }
    }
}

/// Server app used during the handshake.
struct Acceptor(Option<Accept>);
impl App for Acceptor {
    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: &Event) {
        if let (Event::Request(_), Some(a)) = (event, self.0.take()) {
            conn.accept(now, a).expect("accept");
        }
    }
}

/// Frames on a recorded wire, parsed independently of the code under test (tungstenite's
/// header parser): (opcode bits, fin, unmasked payload).
pub fn frames_on_wire(wire: &[u8]) -> Vec<(u8, bool, Vec<u8>)> {
    frames_on_wire_rsv1(wire).into_iter().map(|(op, fin, _, data)| (op, fin, data)).collect()
}

/// [`frames_on_wire`] with each frame's RSV1 bit (permessage-deflate's "compressed").
pub fn frames_on_wire_rsv1(mut wire: &[u8]) -> Vec<(u8, bool, bool, Vec<u8>)> {
    use tungstenite::protocol::frame::FrameHeader;
    let mut out = Vec::new();
    while !wire.is_empty() {
        let mut cur = std::io::Cursor::new(wire);
        let (h, len) = FrameHeader::parse(&mut cur).expect("valid header").expect("complete header");
        let at = cur.position() as usize;
        let mut payload = wire[at..at + len as usize].to_vec();
        if let Some(k) = h.mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        out.push((u8::from(h.opcode), h.is_final, h.rsv1, payload));
        wire = &wire[at + len as usize..];
    }
    out
}

/// Messages as the side's application received them (kind text?, payload), streaming chunks
/// joined; text chunks must hold whole code points.
pub fn received(side: &Side) -> Vec<(bool, bytes::Bytes)> {
    let mut out = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    for (_, e) in &side.events {
        match e {
            Event::Message(m) => out.push((m.kind() == DataKind::Text, m.clone().into_payload())),
            Event::Chunk(c) => {
                if c.kind == DataKind::Text {
                    assert!(std::str::from_utf8(&c.data).is_ok(), "text chunks hold whole code points");
                }
                partial.extend_from_slice(&c.data);
                if c.end_of_message {
                    out.push((c.kind == DataKind::Text, bytes::Bytes::from(std::mem::take(&mut partial))));
                }
            }
            _ => {}
        }
    }
    out
}

/// Skips the HTTP head at the start of a recorded wire.
pub fn after_http_head(wire: &[u8]) -> &[u8] {
    let end = wire.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP head");
    &wire[end + 4..]
}
