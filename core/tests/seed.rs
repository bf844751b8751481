//! The seed scenario at core level: the client streams N × S bytes while the server acks
//! every chunk; the client closes with close-output and still receives the server's final
//! tally, sent from CloseReceived. Run with `--nocapture` to see the replies and the close
//! timeline.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{App, Pair};
use wsduplex_core::*;

const CHUNK: u64 = 4 << 20;

/// The seed client: streams while reading replies, then close-output.
struct StreamingClient {
    payload: Bytes,
    remaining: usize,
    close_at_end: bool,
}

impl App for StreamingClient {
    fn tick(&mut self, conn: &mut Connection, now: Instant) {
        while self.remaining > 0 && !conn.is_send_buffer_full() && conn.state() == State::Open {
            conn.send_binary(self.payload.clone()).expect("send while open");
            self.remaining -= 1;
        }
        if self.remaining == 0 && self.close_at_end && conn.state() == State::Open {
            conn.close(now, CloseFrame::normal()).expect("close-output");
        }
    }
}

/// The seed server: an ack per chunk boundary; on the client's Close the final tally from
/// CloseReceived, then its own Close.
struct AckingServer;

impl App for AckingServer {
    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: &Event) {
        match event {
            Event::ChunkBoundary { .. } => {
                conn.send_text(format!("Server got {CHUNK} bytes\n")).expect("ack while open");
            }
            Event::CloseReceived { remainder, .. } => {
                assert_eq!(conn.state(), State::CloseReceived);
                conn.send_text(format!("Server got {remainder} bytes\n")).expect("final tally in CloseReceived");
                conn.close(now, CloseFrame::normal()).expect("close reply");
            }
            _ => {}
        }
    }
}

fn seed_pair(messages: usize, size: usize, client_closes: bool) -> Pair {
    // Acks are sent from inside event handlers, so the server's send buffer must not refuse
    // them: its limit is high (the client's stays at the default).
    let server_cfg = Config::default().chunk_size(Some(CHUNK)).send_buffer_limit(usize::MAX);
    let mut p = Pair::new(Config::default(), server_cfg);
    p.client.app = Box::new(StreamingClient {
        payload: Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>()),
        remaining: messages,
        close_at_end: client_closes,
    });
    p.server.app = Box::new(AckingServer);
    p.client.set_splits(vec![65536, 1, 7000]);
    p.server.set_splits(vec![131072, 3, 65521]);
    p
}

fn assert_clean(o: Option<&Outcome>) {
    assert!(matches!(o, Some(Outcome::Clean { .. })), "{o:?}");
}

fn summary(p: &Pair) -> (u64, u64, Vec<String>) {
    let mut acked = 0;
    let mut replies = Vec::new();
    for (_, e) in &p.client.events {
        if let Event::Message(Message::Text(t)) = e {
            acked += t.trim_start_matches("Server got ").trim_end_matches(" bytes\n").parse::<u64>().expect("number");
            replies.push(t.to_string());
        }
    }
    (acked, replies.len() as u64, replies)
}

fn timeline(p: &Pair) {
    for (who, side) in [("client", &p.client), ("server", &p.server)] {
        for (t, e) in &side.events {
            let line = match e {
                Event::CloseReceived { frame, remainder } => {
                    format!("peer Close {} (remainder {remainder})", frame.code)
                }
                Event::Closed(o) => format!("Closed: {o:?}"),
                _ => continue,
            };
            println!("  {t:>10?} {who}: {line}");
        }
        if let Some(t) = side.disconnected_at {
            println!("  {t:>10?} {who}: disconnect");
        }
    }
}

#[test]
fn seed_scenario_1024_x_128k_close_output() {
    let (n, s) = (1024usize, 128 << 10);
    let mut p = seed_pair(n, s, true);
    p.run(Duration::from_secs(1));
    let total = (n * s) as u64;
    let (acked, acks, replies) = summary(&p);
    println!("seed scenario (core, in memory): {n} x {s} bytes");
    println!(
        "  replies: {} x \"{}\" ... last: {:?}",
        acks - 1,
        replies[0].trim_end(),
        replies.last().map(|r| r.trim_end())
    );
    timeline(&p);
    println!("  bytes_sent={total} bytes_acked={acked} acks={acks}");
    assert_eq!(acked, total);
    assert_eq!(acks, total / CHUNK + 1, "one ack per 4 MiB plus the final tally");
    assert_eq!(replies.last().map(String::as_str), Some("Server got 0 bytes\n"));
    assert_clean(p.client.outcome());
    assert_clean(p.server.outcome());
    assert_eq!(p.client.conn.stats().sent, p.server.conn.stats().received);
    assert_eq!(p.server.conn.stats().sent, p.client.conn.stats().received);
    assert_eq!(p.server.conn.stats().received.messages, n as u64);
    // The final tally reached the client before the server's Close, while it was CloseSent.
    let evs = p.client.event_list();
    let tally = evs.iter().rposition(|e| matches!(e, Event::Message(_))).expect("tally");
    let peer_close = evs.iter().position(|e| matches!(e, Event::CloseReceived { .. })).expect("close");
    assert!(tally < peer_close);
    // The server closed TCP first; the client disconnected on the server's EOF, not later.
    assert!(p.server.disconnected_at <= p.client.disconnected_at);
    assert_eq!(p.elapsed(), Duration::ZERO, "no timer was needed");
}

#[test]
fn seed_total_not_a_multiple_of_the_chunk() {
    let (n, s) = (100usize, 100_000);
    let mut p = seed_pair(n, s, true);
    p.run(Duration::from_secs(1));
    let total = (n * s) as u64;
    let (acked, acks, replies) = summary(&p);
    assert_eq!(acked, total);
    assert_eq!(acks, total / CHUNK + 1);
    assert_eq!(replies.last().cloned(), Some(format!("Server got {} bytes\n", total % CHUNK)));
    assert_clean(p.client.outcome());
    assert_clean(p.server.outcome());
}

/// Both close at once: each is in CloseSent when the other's Close arrives.
#[test]
fn simultaneous_close_is_clean_with_one_close_each() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client.record_wire = true;
    p.server.record_wire = true;
    let now = p.now;
    p.client.conn.send_binary(vec![1u8; 1000]).expect("send");
    p.server.conn.send_text("last words").expect("send");
    p.client.conn.close(now, CloseFrame::new(1000, "client done")).expect("close");
    p.server.conn.close(now, CloseFrame::new(1001, "server going away")).expect("close");
    p.run(Duration::from_secs(3));
    let Some(Outcome::Clean { sent, received }) = p.client.outcome() else { panic!("{:?}", p.client.outcome()) };
    assert_eq!((sent.code, received.code), (1000, 1001));
    assert_clean(p.server.outcome());
    for side in [&p.client, &p.server] {
        let frames = common::frames_on_wire(&side.wire);
        assert_eq!(frames.iter().filter(|f| f.0 == 8).count(), 1);
        assert_eq!(frames.last().map(|f| f.0), Some(8), "nothing after our Close");
    }
    assert_eq!(p.client.messages().len(), 1);
    assert_eq!(p.server.messages().len(), 1);
    // The client still waits for the server's EOF, which comes at once: no timer fired.
    assert!(p.elapsed() < Duration::from_secs(2));
}

/// The server closes on its own as soon as it has everything, without waiting for the
/// client's Close; the records say in which state it did so.
struct EagerServer {
    expected: u64,
    closed_from: std::rc::Rc<std::cell::Cell<Option<State>>>,
}

impl App for EagerServer {
    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: &Event) {
        match event {
            Event::ChunkBoundary { .. } => conn.send_text(format!("Server got {CHUNK} bytes\n")).expect("ack"),
            Event::Message(_)
                if conn.stats().received.payload_bytes == self.expected && self.closed_from.get().is_none() =>
            {
                self.closed_from.set(Some(conn.state()));
                let remainder = conn.chunk_remainder();
                conn.send_text(format!("Server got {remainder} bytes\n")).expect("tally");
                conn.close(now, CloseFrame::new(1000, "all received")).expect("close-output");
            }
            _ => {}
        }
    }
}

#[test]
fn seed_with_simultaneous_close() {
    let (n, s) = (64usize, 128 << 10);
    let mut p = seed_pair(n, s, true);
    let closed_from = std::rc::Rc::new(std::cell::Cell::new(None));
    p.server.app = Box::new(EagerServer { expected: (n * s) as u64, closed_from: closed_from.clone() });
    p.client.record_wire = true;
    p.server.record_wire = true;
    // One client frame per read (14-byte header + payload), so the server sees its last
    // message, and closes, before the client's Close arrives in the next read.
    p.server.set_splits(vec![s + 14]);
    p.run(Duration::from_secs(1));
    let (acked, acks, _) = summary(&p);
    assert_eq!(acked, (n * s) as u64);
    assert_eq!(acks, 3);
    assert_eq!(closed_from.get(), Some(State::Open), "the server closed before the client's Close arrived");
    assert_clean(p.client.outcome());
    assert_clean(p.server.outcome());
    let closes = |w: &[u8]| common::frames_on_wire(w).iter().filter(|f| f.0 == 8).count();
    assert_eq!((closes(&p.client.wire), closes(&p.server.wire)), (1, 1));
    // Both were in CloseSent when the other's Close arrived: each reports the peer's Close
    // after having sent its own.
    for side in [&p.client, &p.server] {
        let Some(Outcome::Clean { sent, received }) = side.outcome() else { panic!() };
        assert_eq!((sent.code, received.code), (1000, 1000));
    }
    // The client was in CloseSent too: its Close had gone out before the server's arrived.
    let client_events = p.client.event_list();
    assert!(matches!(client_events.last(), Some(Event::Closed(_))));
}

#[test]
fn a_seeded_run_is_fully_deterministic() {
    // No clock reads and no randomness of its own: same seed, same inputs, same bytes.
    let run = || {
        let mut p = seed_pair(40, 100_000, true);
        p.client.record_wire = true;
        p.server.record_wire = true;
        p.run(Duration::from_secs(1));
        let events = (p.client.event_list(), p.server.event_list());
        (p.client.wire, p.server.wire, events)
    };
    let (a, b) = (run(), run());
    assert!(a == b);
    assert!(a.0.len() > 3_900_000);
}
