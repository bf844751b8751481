//! Property tests (proptest). Two machines wired in memory, arbitrary messages, arbitrary
//! splits of both byte streams, arbitrary interleavings of both applications' commands,
//! close from either or both sides at any point. Invariants: both end Closed clean; no frame
//! after our Close and at most one Close each way; every message sent is delivered intact and
//! in order; accounting exact; splitting the input differently never changes the events.

mod common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{App, Pair, frames_on_wire, frames_on_wire_rsv1, received};
use proptest::prelude::*;
use wsduplex_core::*;

/// Deterministic payload for message `n` of a side; text mixes 1- to 4-byte code points.
fn payload(text: bool, len: usize, n: usize) -> Bytes {
    if text {
        let alphabet = ["a", "é", "€", "𝄞", "z", "ж"];
        let mut s = String::new();
        let mut i = n;
        while s.len() < len {
            s.push_str(alphabet[i % alphabet.len()]);
            i += 1;
        }
        Bytes::from(s)
    } else {
        Bytes::from((0..len).map(|i| (i + n * 7) as u8).collect::<Vec<u8>>())
    }
}

#[derive(Debug, Clone)]
enum Cmd {
    Send {
        text: bool,
        len: usize,
    },
    /// One message sent as fragments cut at these byte positions (may split code points).
    Fragmented {
        text: bool,
        len: usize,
        cuts: Vec<usize>,
    },
    Ping(u8),
    Close,
    Wait(u8),
    /// Internal: one fragment of an expanded `Fragmented`.
    Piece {
        text: bool,
        data: Bytes,
        whole: Bytes,
        last: bool,
    },
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (any::<bool>(), 0usize..300).prop_map(|(text, len)| Cmd::Send { text, len }),
        2 => (any::<bool>(), 1usize..200, prop::collection::vec(0usize..200, 1..4))
            .prop_map(|(text, len, cuts)| Cmd::Fragmented { text, len, cuts }),
        1 => any::<u8>().prop_map(Cmd::Ping),
        2 => (0u8..4).prop_map(Cmd::Wait),
    ]
}

/// A script, and where in it (if at all) the side closes.
fn script() -> impl Strategy<Value = (Vec<Cmd>, Option<prop::sample::Index>)> {
    (prop::collection::vec(cmd(), 0..12), prop::option::of(any::<prop::sample::Index>()))
}

fn with_close(mut cmds: Vec<Cmd>, at: Option<usize>) -> Vec<Cmd> {
    if let Some(i) = at {
        cmds.insert(i.min(cmds.len()), Cmd::Close);
    }
    cmds
}

/// Runs a script one command per round; remembers every message that was accepted whole.
struct Scripted {
    cmds: VecDeque<Cmd>,
    wait: u8,
    n: usize,
    sent: Vec<(bool, Bytes)>,
}

impl Scripted {
    fn new(cmds: Vec<Cmd>) -> Self {
        Scripted { cmds: cmds.into(), wait: 0, n: 0, sent: Vec::new() }
    }
}

impl App for Scripted {
    fn tick(&mut self, conn: &mut Connection, now: Instant) {
        if self.wait > 0 {
            self.wait -= 1;
            return;
        }
        let Some(cmd) = self.cmds.pop_front() else { return };
        match cmd.clone() {
            Cmd::Send { text, len } => {
                let data = payload(text, len, self.n);
                let r = if text {
                    conn.send(Message::Text(Text::from_utf8(data.clone()).expect("utf-8")))
                } else {
                    conn.send_binary(data.clone())
                };
                match r {
                    Ok(()) => {
                        self.n += 1;
                        self.sent.push((text, data));
                    }
                    Err(LocalError::SendBufferFull { .. }) => self.cmds.push_front(cmd),
                    Err(e) => assert!(matches!(e, LocalError::NotOpen(_)), "{e}"),
                }
            }
            Cmd::Fragmented { text, len, mut cuts } => {
                // Expand into pieces, sent one per round so that backpressure and the peer's
                // traffic interleave with them.
                let data = payload(text, len, self.n);
                cuts.iter_mut().for_each(|c| *c = (*c).min(data.len()));
                cuts.push(data.len());
                cuts.sort_unstable();
                cuts.dedup();
                let mut start = 0;
                for (i, &c) in cuts.iter().enumerate().rev() {
                    let from = if i == 0 { 0 } else { cuts[i - 1] };
                    let last = i == cuts.len() - 1;
                    self.cmds.push_front(Cmd::Piece { text, data: data.slice(from..c), whole: data.clone(), last });
                    start = from;
                }
                let _ = start;
                self.n += 1;
            }
            Cmd::Piece { text, data, whole, last } => {
                let kind = if text { DataKind::Text } else { DataKind::Binary };
                match conn.send_fragment(kind, data, last) {
                    Ok(()) if last => self.sent.push((text, whole)),
                    Ok(()) => {}
                    Err(LocalError::SendBufferFull { .. }) => self.cmds.push_front(cmd),
                    Err(e) => {
                        assert!(matches!(e, LocalError::NotOpen(_)), "{e}");
                        while matches!(self.cmds.front(), Some(Cmd::Piece { .. })) {
                            self.cmds.pop_front();
                        }
                    }
                }
            }
            Cmd::Ping(b) => {
                let _ = conn.ping(Bytes::from(vec![b; (b % 8) as usize]));
            }
            Cmd::Close => {
                let _ = conn.close(now, CloseFrame::normal());
            }
            Cmd::Wait(n) => self.wait = n,
        }
    }

    fn busy(&self) -> bool {
        self.wait > 0 || !self.cmds.is_empty()
    }
}

fn config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        prop::option::of(1u64..500),
        prop_oneof![
            Just(CloseReply::Immediate),
            (0u64..3000).prop_map(|ms| CloseReply::Deadline(Duration::from_millis(ms)))
        ],
        1usize..400,
        1usize..2000,
        prop::option::of(deflate()),
    )
        .prop_map(|(chunks, chunk_size, close_reply, frame, buffer, deflate)| {
            Config::default()
                .delivery(if chunks { Delivery::Chunks } else { Delivery::Messages })
                .chunk_size(chunk_size)
                .close_reply(close_reply)
                .max_send_frame_size(frame)
                .send_buffer_limit(buffer)
                .deflate(deflate)
        })
}

/// Any permessage-deflate settings (RFC 7692 §7.1), negotiated when both sides have some.
fn deflate() -> impl Strategy<Value = DeflateConfig> {
    let bits = || prop::option::of(8u8..=15);
    (any::<bool>(), any::<bool>(), bits(), bits(), 0u32..=9, 0usize..100).prop_map(
        |(snct, cnct, smwb, cmwb, level, threshold)| {
            DeflateConfig::default()
                .server_no_context_takeover(snct)
                .client_no_context_takeover(cnct)
                .server_max_window_bits(smwb)
                .client_max_window_bits(cmwb)
                .level(level)
                .threshold(threshold)
        },
    )
}

fn splits() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..80, 1..6)
}

fn check_wire(wire: &[u8]) {
    let frames = frames_on_wire(wire);
    let closes: Vec<usize> = frames.iter().enumerate().filter(|(_, f)| f.0 == 8).map(|(i, _)| i).collect();
    assert!(closes.len() <= 1, "at most one Close: {closes:?}");
    if let Some(&i) = closes.first() {
        assert_eq!(i, frames.len() - 1, "no frame after our Close");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn both_sides_end_clean_and_nothing_is_lost(
        (client_cmds, client_close) in script(),
        (server_cmds, server_close) in script(),
        client_cfg in config(),
        server_cfg in config(),
        c_splits in splits(),
        s_splits in splits(),
    ) {
        // Somebody must close, or both would wait forever by design.
        let client_close = client_close.map(|i| i.index(client_cmds.len() + 1));
        let server_close = server_close.map(|i| i.index(server_cmds.len() + 1));
        let client_close = if client_close.is_none() && server_close.is_none() { Some(usize::MAX) } else { client_close };
        let mut p = Pair::new(client_cfg, server_cfg);
        p.client.record_wire = true;
        p.server.record_wire = true;
        p.client.set_splits(c_splits);
        p.server.set_splits(s_splits);
        p.client.app = Box::new(Scripted::new(with_close(client_cmds, client_close)));
        p.server.app = Box::new(Scripted::new(with_close(server_cmds, server_close)));
        p.run(Duration::from_secs(10));

        prop_assert!(p.client.outcome().is_some_and(Outcome::is_clean), "{:?}", p.client.outcome());
        prop_assert!(p.server.outcome().is_some_and(Outcome::is_clean), "{:?}", p.server.outcome());
        check_wire(&p.client.wire);
        check_wire(&p.server.wire);
        // Every message that was accepted whole arrives intact and in order.
        let agreed = p.client.conn.deflate();
        prop_assert_eq!(agreed, p.server.conn.deflate());
        let c_sent = messages_on_wire(&p.client.wire, agreed.map(|d| d.client_no_context_takeover));
        let s_sent = messages_on_wire(&p.server.wire, agreed.map(|d| d.server_no_context_takeover));
        prop_assert_eq!(received(&p.server), c_sent);
        prop_assert_eq!(received(&p.client), s_sent);
        // Accounting is exact both ways.
        prop_assert_eq!(p.client.conn.stats().sent, p.server.conn.stats().received);
        prop_assert_eq!(p.server.conn.stats().sent, p.client.conn.stats().received);
        for rx in [&p.server, &p.client] {
            let boundaries = rx.events.iter().filter(|(_, e)| matches!(e, Event::ChunkBoundary { .. })).count() as u64;
            // Streaming reports a boundary when the byte is delivered; a text message cut off by
            // a Close may leave an unfinished code point (at most 3 bytes) counted, undelivered.
            let total = match rx.conn.config().delivery {
                Delivery::Chunks => rx.events.iter().map(|(_, e)| match e {
                    Event::Chunk(c) => c.data.len() as u64,
                    _ => 0,
                }).sum(),
                _ => rx.conn.stats().received.payload_bytes,
            };
            prop_assert!(rx.conn.stats().received.payload_bytes - total <= 3);
            prop_assert_eq!(boundaries, rx.conn.config().chunk_size.map_or(0, |c| total / c));
        }
    }
}

/// Complete messages on a recorded wire, read independently of the code under test. With
/// permessage-deflate (`Some(reset after each message)`), compressed messages (RSV1) are
/// inflated by zlib directly (RFC 7692 §7.2.2: the trailer restored).
fn messages_on_wire(wire: &[u8], deflate: Option<bool>) -> Vec<(bool, Bytes)> {
    let mut out = Vec::new();
    let mut cur: Option<(bool, bool, Vec<u8>)> = None;
    let mut inflater = flate2::Decompress::new(false);
    for (op, fin, rsv1, data) in frames_on_wire_rsv1(wire) {
        match op {
            1 | 2 => cur = Some((op == 1, rsv1, data)),
            0 => cur.as_mut().expect("continuation").2.extend_from_slice(&data),
            _ => continue,
        }
        if fin {
            let (t, compressed, mut d) = cur.take().expect("message");
            if compressed {
                let reset = deflate.expect("RSV1 only when negotiated");
                d.extend_from_slice(&[0, 0, 0xff, 0xff]);
                let mut plain = Vec::with_capacity(d.len() * 8 + 1024);
                let mut input = &d[..];
                loop {
                    plain.reserve(4096);
                    let before = inflater.total_in();
                    inflater.decompress_vec(input, &mut plain, flate2::FlushDecompress::Sync).expect("valid deflate");
                    input = &input[(inflater.total_in() - before) as usize..];
                    if input.is_empty() && plain.len() < plain.capacity() {
                        break;
                    }
                }
                if reset {
                    inflater.reset(false);
                }
                d = plain;
            }
            out.push((t, Bytes::from(d)));
        }
    }
    out
}

// ---- split invariance ------------------------------------------------------------------------

/// Events with adjacent chunks of one message merged: the only thing a split may change.
fn normalize(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        if let (Some(Event::Chunk(prev)), Event::Chunk(c)) = (out.last_mut(), &e) {
            if !prev.end_of_message {
                let mut joined = prev.data.to_vec();
                joined.extend_from_slice(&c.data);
                prev.data = joined.into();
                prev.end_of_message = c.end_of_message;
                continue;
            }
        }
        out.push(e);
    }
    out
}

fn feed_split(input: &[u8], splits: &[usize], config: &Config) -> (Vec<Event>, Vec<u8>, usize) {
    let now = Instant::now();
    let mut s = Connection::server_established(config.clone(), now);
    let (mut events, mut wire, mut biggest_chunk) = (Vec::new(), Vec::new(), 0);
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = splits[i % splits.len()].min(rest.len());
        i += 1;
        s.handle_input(now, &rest[..n]);
        rest = &rest[n..];
        while let Some(e) = s.poll_event() {
            if let Event::Chunk(c) = &e {
                biggest_chunk = biggest_chunk.max(c.data.len());
            }
            events.push(e);
        }
        while let Some(t) = s.poll_transmit() {
            if let Transmit::Bytes(b) = t {
                wire.extend_from_slice(&b);
            }
        }
    }
    (events, wire, biggest_chunk)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn splitting_the_input_differently_never_changes_the_events(
        cmds in prop::collection::vec(cmd(), 0..12),
        close in any::<bool>(),
        corrupt in prop::option::of((any::<prop::sample::Index>(), 1u8..=255)),
        frame_size in 1usize..300,
        a in splits(),
        b in splits(),
        chunk_size in prop::option::of(1u64..100),
    ) {
        // A client's byte stream from a script.
        let now = Instant::now();
        let mut c = Connection::client_established(Config::default().max_send_frame_size(frame_size).send_buffer_limit(usize::MAX), SeededKeys::new(5), now);
        let mut app = Scripted::new(cmds);
        for _ in 0..200 {
            app.tick(&mut c, now);
        }
        if close {
            let _ = c.close(now, CloseFrame::new(4000, "done é"));
        }
        let mut input = Vec::new();
        while let Some(t) = c.poll_transmit() {
            if let Transmit::Bytes(b) = t {
                input.extend_from_slice(&b);
            }
        }
        if let Some((at, x)) = corrupt {
            if !input.is_empty() {
                let i = at.index(input.len());
                input[i] ^= x;
            }
        }
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            let config = Config::default().delivery(delivery).chunk_size(chunk_size);
            let (ea, wa, big_a) = feed_split(&input, &a, &config);
            let (eb, wb, _) = feed_split(&input, &b, &config);
            prop_assert_eq!(normalize(ea.clone()), normalize(eb));
            // What we answer does not depend on the split either, except how many pongs: pings
            // that arrive in one read are answered once (RFC 6455 §5.5.3).
            let no_pongs = |w: &[u8]| frames_on_wire(w).into_iter().filter(|f| f.0 != 0xA).collect::<Vec<_>>();
            prop_assert_eq!(no_pongs(&wa), no_pongs(&wb));
            if delivery == Delivery::Chunks {
                // Bounded memory: a chunk is at most one input piece plus a split code point.
                prop_assert!(big_a <= a.iter().max().copied().unwrap_or(0) + 3);
            }
            if corrupt.is_none() {
                let got: Vec<(bool, Bytes)> = {
                    let side_events = ea;
                    let mut out = Vec::new();
                    let mut partial = Vec::new();
                    for e in side_events {
                        match e {
                            Event::Message(m) => out.push((m.kind() == DataKind::Text, m.into_payload())),
                            Event::Chunk(ch) => {
                                partial.extend_from_slice(&ch.data);
                                if ch.end_of_message {
                                    out.push((ch.kind == DataKind::Text, Bytes::from(std::mem::take(&mut partial))));
                                }
                            }
                            _ => {}
                        }
                    }
                    out
                };
                prop_assert_eq!(got, app.sent.clone());
            }
        }
    }
}
