//! Exhaustive model check of the close handshake (RFC 6455 §7): every interleaving of two
//! connections wired through in-order byte pipes (deliveries split at frame boundaries), with
//! a bounded number of messages each way, either or both applications closing at any point,
//! final replies sent from CloseReceived, EOF steps, an optional connection reset as a fault,
//! and time advancing to the next deadline only when nothing else can happen.
//!
//! An application that received the peer's Close may also never answer it: the core's reply
//! deadline must then close for it.
//!
//! In every reachable state: at most one Close each way and no frame after it; the state never
//! moves backwards. In every final state: both sides Closed and released; clean when no fault
//! was injected; every message sent arrived, in order (a prefix of it after a reset). No state
//! may be stuck: nothing to deliver, nobody to act, and no deadline armed.

mod common;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use wsduplex_core::*;

#[derive(Clone)]
struct App {
    to_send: u8,
    sent: Vec<u8>,
    closed: bool,
}

struct Side {
    conn: Connection,
    app: App,
    /// Bytes in flight towards this side, and whether the peer's FIN follows them.
    inbox: BytesMut,
    fin_behind_inbox: bool,
    eof_delivered: bool,
    disconnected: bool,
    /// The core told us to shut down writing (or disconnect): no bytes may follow.
    wrote_fin: bool,
    /// Everything this side wrote, for the wire invariants.
    wire: Vec<u8>,
    got: Vec<u8>,
    last_state: State,
}

struct Node {
    sides: [Side; 2],
    now: Instant,
    fault: bool,
}

/// Length of the first complete frame in `buf`, if there is one.
fn first_frame(buf: &[u8]) -> Option<usize> {
    let mut cur = std::io::Cursor::new(buf);
    let (_, len) = tungstenite::protocol::frame::FrameHeader::parse(&mut cur).ok()??;
    let end = cur.position() as usize + len as usize;
    (buf.len() >= end).then_some(end)
}

impl Node {
    fn side(&mut self, i: usize) -> (&mut Side, &mut Side) {
        let [a, b] = &mut self.sides;
        if i == 0 { (a, b) } else { (b, a) }
    }

    /// Drains events (recording messages; replies are app choices) then transmits into pipes.
    fn settle(&mut self) {
        for i in 0..2 {
            let (me, peer) = self.side(i);
            while let Some(e) = me.conn.poll_event() {
                if let Event::Message(m) = e {
                    me.got.push(m.into_payload()[0]);
                }
            }
            while let Some(t) = me.conn.poll_transmit() {
                match t {
                    Transmit::Bytes(b) => {
                        assert!(!me.wrote_fin, "bytes after our FIN");
                        me.wire.extend_from_slice(&b);
                        if !peer.disconnected && !peer.eof_delivered {
                            peer.inbox.extend_from_slice(&b);
                        }
                    }
                    Transmit::ShutdownWrite => {
                        me.wrote_fin = true;
                        peer.fin_behind_inbox = true;
                    }
                    Transmit::Disconnect => {
                        me.wrote_fin = true;
                        me.disconnected = true;
                        me.inbox.clear();
                        peer.fin_behind_inbox = true;
                    }
                }
            }
        }
        self.check();
    }

    fn check(&mut self) {
        for side in &mut self.sides {
            let frames = common::frames_on_wire(&side.wire);
            let closes: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].0 == 8).collect();
            assert!(closes.len() <= 1, "two Close frames");
            if let Some(&i) = closes.first() {
                assert_eq!(i, frames.len() - 1, "a frame after our Close");
            }
            let s = side.conn.state();
            assert!(s.stage() >= side.last_state.stage(), "state moved backwards: {:?} -> {s:?}", side.last_state);
            assert!(!(side.last_state == State::CloseSent && s == State::CloseReceived));
            assert!(!(side.last_state == State::CloseReceived && s == State::CloseSent));
            side.last_state = s;
        }
    }

    /// Every state this one can step to (one per choice), or `None` if it is final.
    fn successors(&self, allow_fault: bool) -> Vec<Node> {
        let mut next = Vec::new();
        for i in 0..2 {
            let me = &self.sides[i];
            if me.disconnected {
                continue;
            }
            // The application: send its next message, or close (at any point).
            if me.app.to_send > 0 && matches!(me.conn.state(), State::Open | State::CloseReceived) {
                let mut n = self.clone_node();
                let (s, _) = n.side(i);
                let id = (i as u8) * 100 + s.app.sent.len() as u8;
                s.conn.send_binary(vec![id]).expect("send in Open or CloseReceived");
                s.app.sent.push(id);
                s.app.to_send -= 1;
                n.settle();
                next.push(n);
            }
            if !me.app.closed && matches!(me.conn.state(), State::Open | State::CloseReceived) {
                let mut n = self.clone_node();
                let now = n.now;
                n.sides[i].conn.close(now, CloseFrame::normal()).expect("close");
                n.sides[i].app.closed = true;
                n.settle();
                next.push(n);
            }
            // ... or, having received the peer's Close, never answer: the reply deadline must.
            if !me.app.closed && me.conn.state() == State::CloseReceived {
                let mut n = self.clone_node();
                n.sides[i].app.closed = true;
                n.sides[i].app.to_send = 0;
                n.settle();
                next.push(n);
            }
            // The network: the next whole frame, or the FIN behind the last one.
            if let Some(len) = first_frame(&me.inbox) {
                let mut n = self.clone_node();
                let now = n.now;
                let (s, _) = n.side(i);
                let frame = s.inbox.split_to(len);
                s.conn.handle_input(now, &frame);
                n.settle();
                next.push(n);
            } else if me.inbox.is_empty() && me.fin_behind_inbox && !me.eof_delivered {
                let mut n = self.clone_node();
                let now = n.now;
                let (s, _) = n.side(i);
                s.eof_delivered = true;
                s.conn.handle_eof(now);
                n.settle();
                next.push(n);
            }
        }
        if allow_fault && !self.fault && self.sides.iter().all(|s| !s.disconnected) {
            // A reset: both transports end now; whatever was in flight is lost.
            let mut n = self.clone_node();
            n.fault = true;
            let now = n.now;
            for s in &mut n.sides {
                s.inbox.clear();
                s.fin_behind_inbox = true;
                s.eof_delivered = true;
                s.conn.handle_eof(now);
            }
            n.settle();
            next.push(n);
        }
        if next.is_empty() && !self.sides.iter().all(|s| s.conn.is_terminated()) {
            // Nothing can move: time passes to the earliest deadline, or we are stuck.
            let deadline = self.sides.iter().filter_map(|s| s.conn.poll_timeout()).min();
            let Some(deadline) = deadline else {
                panic!(
                    "deadlock: nothing to deliver, nobody to act, no deadline: client {:?} server {:?}",
                    self.sides[0].conn, self.sides[1].conn
                );
            };
            let mut n = self.clone_node();
            n.now = n.now.max(deadline);
            let now = n.now;
            for s in &mut n.sides {
                s.conn.handle_timeout(now);
            }
            n.settle();
            next.push(n);
        }
        next
    }

    fn clone_node(&self) -> Node {
        Node { sides: [self.sides[0].clone(), self.sides[1].clone()], now: self.now, fault: self.fault }
    }

    fn final_checks(&self) {
        for (i, side) in self.sides.iter().enumerate() {
            assert_eq!(side.conn.state(), State::Closed);
            assert!(side.conn.is_terminated());
            let peer = &self.sides[1 - i];
            if self.fault {
                assert!(peer.got.starts_with(&[]) && side.app.sent.starts_with(&peer.got), "reordered or invented");
            } else {
                assert!(side.conn.outcome().is_some_and(Outcome::is_clean), "{:?}", side.conn.outcome());
                assert_eq!(peer.got, side.app.sent, "every message sent arrives, in order");
            }
        }
    }

    fn key(&self, start: Instant) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for s in &self.sides {
            let c = &s.conn;
            (c.state(), c.outcome().map(|o| format!("{o:?}")), c.is_terminated(), c.stats(), c.send_buffered())
                .hash(&mut h);
            c.poll_timeout().map(|t| t.saturating_duration_since(start)).hash(&mut h);
            (&s.inbox[..], s.fin_behind_inbox, s.eof_delivered, s.disconnected, s.wrote_fin).hash(&mut h);
            (s.app.to_send, &s.app.sent, s.app.closed, &s.got, &s.wire).hash(&mut h);
        }
        (self.now.saturating_duration_since(start), self.fault).hash(&mut h);
        h.finish()
    }
}

impl Clone for Side {
    fn clone(&self) -> Self {
        Side {
            conn: self.conn.try_clone().expect("seeded keys copy"),
            app: self.app.clone(),
            inbox: self.inbox.clone(),
            fin_behind_inbox: self.fin_behind_inbox,
            eof_delivered: self.eof_delivered,
            disconnected: self.disconnected,
            wrote_fin: self.wrote_fin,
            wire: self.wire.clone(),
            got: self.got.clone(),
            last_state: self.last_state,
        }
    }
}

/// Explores every reachable state; returns (states, final states).
fn explore(messages: [u8; 2], close_reply: CloseReply, allow_fault: bool) -> (usize, usize) {
    let start = Instant::now();
    let config = Config::default()
        .close_reply(close_reply)
        .close_timeout(Duration::from_secs(3))
        .eof_timeout(Duration::from_secs(1));
    let side = |conn: Connection, to_send: u8| Side {
        conn,
        app: App { to_send, sent: Vec::new(), closed: false },
        inbox: BytesMut::new(),
        fin_behind_inbox: false,
        eof_delivered: false,
        disconnected: false,
        wrote_fin: false,
        wire: Vec::new(),
        got: Vec::new(),
        last_state: State::Open,
    };
    let root = Node {
        sides: [
            side(Connection::client_established(config.clone(), SeededKeys::new(1), start), messages[0]),
            side(Connection::server_established(config, start), messages[1]),
        ],
        now: start,
        fault: false,
    };
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    let (mut states, mut finals) = (0, 0);
    while let Some(node) = stack.pop() {
        if !seen.insert(node.key(start)) {
            continue;
        }
        states += 1;
        let next = node.successors(allow_fault);
        if next.is_empty() {
            node.final_checks();
            finals += 1;
        }
        stack.extend(next);
    }
    (states, finals)
}

#[test]
fn close_handshake_model_check() {
    let mut total = 0;
    for messages in [[0, 0], [1, 1], [2, 1], [1, 3], [3, 3], [4, 4]] {
        for reply in [CloseReply::Deadline(Duration::from_secs(2)), CloseReply::Immediate] {
            for fault in [false, true] {
                let (states, finals) = explore(messages, reply, fault);
                eprintln!("messages {messages:?}, {reply:?}, reset fault {fault}: {states} states, {finals} final");
                assert!(finals > 0);
                total += states;
            }
        }
    }
    eprintln!("close handshake model check: {total} states explored, no violation");
}
