//! The close handshake, rule by rule (DESIGN.md's table, RFC 6455 §5.5.1 and §7), and every
//! timer, in virtual time: deadlines are hit exactly, never by sleeping.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{App, Pair, frames_on_wire};
use wsduplex_core::*;

fn drain_transmits(c: &mut Connection) -> (Vec<u8>, Vec<Transmit>) {
    let (mut bytes, mut actions) = (Vec::new(), Vec::new());
    while let Some(t) = c.poll_transmit() {
        match t {
            Transmit::Bytes(b) => bytes.extend_from_slice(&b),
            other => actions.push(other),
        }
    }
    (bytes, actions)
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn server_close_frame(code: u16) -> Vec<u8> {
    let mut v = vec![0x88, 2];
    v.extend_from_slice(&code.to_be_bytes());
    v
}

#[test]
fn close_timeout_fires_exactly_at_the_deadline() {
    // A peer that never answers our Close.
    let t0 = Instant::now();
    let cfg = Config::default().close_timeout(Duration::from_millis(1500));
    let mut c = Connection::client_established(cfg, SeededKeys::new(1), t0);
    c.close(t0, CloseFrame::normal()).expect("close");
    assert_eq!(c.state(), State::CloseSent);
    let (wire, _) = drain_transmits(&mut c);
    assert_eq!(frames_on_wire(&wire), vec![(8, true, 1000u16.to_be_bytes().to_vec())]);
    let deadline = c.poll_timeout().expect("close deadline");
    assert_eq!(deadline, t0 + Duration::from_millis(1500));
    c.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(c.state(), State::CloseSent);
    c.handle_timeout(deadline);
    assert_eq!(c.outcome(), Some(&Outcome::TimedOut(Timer::Close)));
    assert_eq!(drain_transmits(&mut c).1, vec![Transmit::Disconnect]);
    assert_eq!(events(&mut c), vec![Event::Closed(Outcome::TimedOut(Timer::Close))]);
    assert!(c.is_terminated());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn client_disconnects_at_the_eof_deadline_when_the_server_keeps_tcp_open() {
    let t0 = Instant::now();
    let cfg = Config::default().eof_timeout(Duration::from_millis(700));
    let mut c = Connection::client_established(cfg, SeededKeys::new(1), t0);
    c.close(t0, CloseFrame::normal()).expect("close");
    drain_transmits(&mut c);
    let t1 = t0 + Duration::from_millis(5);
    c.handle_input(t1, &server_close_frame(1000));
    assert!(c.outcome().is_some_and(Outcome::is_clean));
    // RFC 6455 §7.1.1: the client waits for the server to close TCP; we half-close meanwhile.
    assert_eq!(drain_transmits(&mut c).1, vec![Transmit::ShutdownWrite]);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_millis(700)));
    c.handle_input(t1, b"ignored: after the server's Close");
    c.handle_timeout(t1 + Duration::from_millis(699));
    assert!(!c.is_terminated());
    c.handle_timeout(t1 + Duration::from_millis(700));
    assert_eq!(drain_transmits(&mut c).1, vec![Transmit::Disconnect]);
    assert!(c.is_terminated());
}

/// Lingering for the server's EOF is a phase of the state table like any other: the EOF, the
/// deadline or the application's abort ends it, each exactly once, and nothing follows.
#[test]
fn lingering_ends_on_eof_or_abort_and_only_once() {
    let t0 = Instant::now();
    let lingering = || {
        let mut c = Connection::client_established(Config::default(), SeededKeys::new(1), t0);
        c.close(t0, CloseFrame::normal()).expect("close");
        c.handle_input(t0, &server_close_frame(1000));
        assert_eq!(drain_transmits(&mut c).1, vec![Transmit::ShutdownWrite]);
        assert!(c.poll_timeout().is_some() && !c.is_terminated());
        c
    };
    let mut c = lingering();
    c.handle_eof(t0);
    assert_eq!(drain_transmits(&mut c).1, vec![Transmit::Disconnect]);
    assert!(c.is_terminated() && c.poll_timeout().is_none());
    c.handle_eof(t0);
    c.abort();
    assert_eq!(drain_transmits(&mut c).1, vec![], "one Disconnect only");

    // An application that gives up on the wait (e.g. shutting down) disconnects at once.
    let mut c = lingering();
    c.abort();
    assert_eq!(drain_transmits(&mut c).1, vec![Transmit::Disconnect]);
    assert!(c.is_terminated() && c.poll_timeout().is_none());
    assert_eq!(c.outcome().map(Outcome::is_clean), Some(true), "the outcome was decided before");
}

#[test]
fn server_disconnects_right_after_the_exchange() {
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default(), t0);
    s.close(t0, CloseFrame::new(1001, "bye")).expect("close");
    drain_transmits(&mut s);
    s.handle_input(t0, &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]);
    assert_eq!(drain_transmits(&mut s).1, vec![Transmit::Disconnect]);
    let Some(Outcome::Clean { sent, received }) = s.outcome() else { panic!() };
    assert_eq!((sent.code, sent.reason.as_str(), received.code), (1001, "bye", 1001));
}

#[test]
fn close_sent_still_delivers_data_and_pings_but_sends_nothing() {
    let t0 = Instant::now();
    let mut c = Connection::client_established(Config::default(), SeededKeys::new(1), t0);
    c.close(t0, CloseFrame::normal()).expect("close");
    let (before, _) = drain_transmits(&mut c);
    c.handle_input(t0, b"\x81\x05hello\x89\x02hi\x82\x01\x07");
    assert_eq!(
        events(&mut c),
        vec![
            Event::Message(Message::Text("hello".into())),
            Event::Ping(Bytes::from("hi")),
            Event::Message(Message::Binary(Bytes::from(vec![7u8])))
        ]
    );
    let (after, _) = drain_transmits(&mut c);
    assert!(after.is_empty(), "no pong after our Close");
    assert_eq!(frames_on_wire(&before).len(), 1);
    // Sending after close-output is a local error that changes nothing.
    assert_eq!(c.send_text("late"), Err(LocalError::NotOpen(State::CloseSent)));
    assert_eq!(c.ping(Bytes::new()), Err(LocalError::NotOpen(State::CloseSent)));
    assert_eq!(c.close(t0, CloseFrame::normal()), Err(LocalError::NotOpen(State::CloseSent)));
    assert_eq!(c.state(), State::CloseSent);
    assert!(drain_transmits(&mut c).0.is_empty());
}

#[test]
fn a_pong_owed_before_our_close_goes_out_before_it() {
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default(), t0);
    s.handle_input(t0, &[0x89, 0x81, 1, 2, 3, 4, b'p' ^ 1]);
    s.close(t0, CloseFrame::normal()).expect("close");
    let frames = frames_on_wire(&drain_transmits(&mut s).0);
    assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), vec![0xA, 0x8]);
}

#[test]
fn every_ping_is_answered_but_a_flood_cannot_grow_the_output() {
    // RFC 6455 §5.5.2: each ping gets a pong (Autobahn 2.10 sends ten in one read). §5.5.3
    // allows answering only the latest, which bounds what a ping flood can make us owe.
    let t0 = Instant::now();
    let ping = |i: u32| {
        let p = i.to_be_bytes();
        [0x89, 0x84, 0, 0, 0, 0, p[0], p[1], p[2], p[3]]
    };
    let mut s = Connection::server_established(Config::default(), t0);
    let ten: Vec<u8> = (0..10).flat_map(ping).collect();
    s.handle_input(t0, &ten);
    let pongs = frames_on_wire(&drain_transmits(&mut s).0);
    assert_eq!(pongs, (0..10u32).map(|i| (0xA, true, i.to_be_bytes().to_vec())).collect::<Vec<_>>());
    for i in 0..1000u32 {
        s.handle_input(t0, &ping(i));
    }
    let pongs = frames_on_wire(&drain_transmits(&mut s).0);
    assert_eq!(pongs.len(), 16);
    assert_eq!(pongs.last(), Some(&(0xA, true, 999u32.to_be_bytes().to_vec())));
}

#[test]
fn close_received_lets_the_app_send_then_close() {
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default().chunk_size(Some(4)), t0);
    s.handle_input(t0, &[0x82, 0x86, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
    s.handle_input(t0, &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    let evs = events(&mut s);
    assert_eq!(evs[0], Event::ChunkBoundary { index: 1, received: 4 });
    assert_eq!(evs[2], Event::CloseReceived { frame: CloseFrame::normal(), remainder: 2 });
    assert_eq!(s.state(), State::CloseReceived);
    assert_eq!(s.chunk_remainder(), 2);
    s.send_text("Server got 2 bytes\n").expect("final tally");
    s.send_fragment(DataKind::Binary, Bytes::from_static(b"a"), false).expect("fragment");
    s.send_fragment(DataKind::Binary, Bytes::from_static(b"b"), true).expect("fragment");
    s.close(t0, CloseFrame::new(1000, "done")).expect("reply");
    let frames = frames_on_wire(&drain_transmits(&mut s).0);
    assert_eq!(
        frames.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
        vec![(1, true), (2, false), (0, true), (8, true)]
    );
    assert!(s.outcome().is_some_and(Outcome::is_clean));
}

#[test]
fn reply_deadline_and_immediate_reply() {
    let t0 = Instant::now();
    let close = [0x88, 0x82, 0, 0, 0, 0, 0x0f, 0xa0]; // 4000
    let mut s =
        Connection::server_established(Config::default().close_reply(CloseReply::Deadline(Duration::from_secs(3))), t0);
    s.handle_input(t0, &close);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    s.handle_timeout(t0 + Duration::from_secs(3));
    // The core replied by itself, echoing the peer's code.
    let (wire, actions) = drain_transmits(&mut s);
    assert_eq!(frames_on_wire(&wire), vec![(8, true, 4000u16.to_be_bytes().to_vec())]);
    assert_eq!(actions, vec![Transmit::Disconnect]);
    let mut i = Connection::server_established(Config::default().close_reply(CloseReply::Immediate), t0);
    i.handle_input(t0, &close);
    assert_eq!(i.state(), State::Closed);
    assert_eq!(i.send_text("too late"), Err(LocalError::NotOpen(State::Closed)));
}

#[test]
fn eof_without_close_is_abnormal_but_a_half_close_after_close_is_not() {
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default(), t0);
    s.handle_eof(t0);
    assert_eq!(s.outcome(), Some(&Outcome::Abnormal));
    assert_eq!(drain_transmits(&mut s).1, vec![Transmit::Disconnect]);

    // The client sent Close then shut down its write side: our reply still goes out.
    let mut s = Connection::server_established(Config::default(), t0);
    s.handle_input(t0, &[0x88, 0x80, 0, 0, 0, 0]);
    s.handle_eof(t0);
    assert_eq!(s.state(), State::CloseReceived);
    s.send_text("final").expect("still allowed");
    s.close(t0, CloseFrame::new(1005, "")).expect("reply");
    assert!(s.outcome().is_some_and(Outcome::is_clean));
}

#[test]
fn abort_sends_no_close_and_drops_queued_output() {
    let t0 = Instant::now();
    let mut c = Connection::client_established(Config::default(), SeededKeys::new(1), t0);
    c.send_binary(vec![0u8; 100_000]).expect("send");
    c.abort();
    assert_eq!(drain_transmits(&mut c), (vec![], vec![Transmit::Disconnect]));
    assert_eq!(c.outcome(), Some(&Outcome::Aborted));
}

#[test]
fn a_failure_lingers_for_eof_then_disconnects() {
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default().eof_timeout(Duration::from_secs(1)), t0);
    s.handle_input(t0, b"\x81\x05hello"); // unmasked
    assert_eq!(drain_transmits(&mut s).1, vec![Transmit::ShutdownWrite]);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    s.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(drain_transmits(&mut s).1, vec![Transmit::Disconnect]);
    // With the peer's EOF it ends at once.
    let mut s = Connection::server_established(Config::default(), t0);
    s.handle_input(t0, b"\x81\x05hello");
    s.handle_eof(t0);
    assert_eq!(drain_transmits(&mut s).1, vec![Transmit::ShutdownWrite, Transmit::Disconnect]);
}

#[test]
fn a_violation_in_close_sent_does_not_send_a_second_close() {
    let t0 = Instant::now();
    let mut c = Connection::client_established(Config::default(), SeededKeys::new(1), t0);
    c.close(t0, CloseFrame::normal()).expect("close");
    c.handle_input(t0, &[0x83, 0x00]);
    assert!(matches!(c.outcome(), Some(Outcome::Failed(PeerError::UnknownOpcode(3)))));
    let frames = frames_on_wire(&drain_transmits(&mut c).0);
    assert_eq!(frames.len(), 1);
}

#[test]
fn keepalive_pings_and_pong_timeout() {
    let t0 = Instant::now();
    let k = Keepalive::new(Duration::from_secs(20), Duration::from_secs(5));
    let mut c = Connection::client_established(Config::default().keepalive(Some(k)), SeededKeys::new(1), t0);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    c.handle_timeout(t0 + Duration::from_secs(20));
    let frames = frames_on_wire(&drain_transmits(&mut c).0);
    assert_eq!(frames, vec![(9, true, 1u64.to_be_bytes().to_vec())]);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(25)));
    c.handle_input(t0 + Duration::from_secs(21), &[0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(40)), "pong cleared the deadline");
    c.handle_timeout(t0 + Duration::from_secs(40));
    drain_transmits(&mut c);
    c.handle_timeout(t0 + Duration::from_secs(45));
    assert_eq!(c.outcome(), Some(&Outcome::TimedOut(Timer::Pong)));
    assert_eq!(drain_transmits(&mut c).1, vec![Transmit::Disconnect]);
}

#[test]
fn local_misuse_is_refused_without_effect() {
    let t0 = Instant::now();
    let mut c = Connection::client_established(Config::default().send_buffer_limit(10), SeededKeys::new(1), t0);
    assert_eq!(c.ping(Bytes::from(vec![0u8; 126])), Err(LocalError::ControlTooLong(126)));
    assert_eq!(c.close(t0, CloseFrame::new(1006, "")), Err(LocalError::InvalidCloseCode(1006)));
    assert_eq!(c.close(t0, CloseFrame::new(999, "")), Err(LocalError::InvalidCloseCode(999)));
    assert_eq!(c.close(t0, CloseFrame::new(1000, "x".repeat(124))), Err(LocalError::CloseReasonTooLong(124)));
    c.send_fragment(DataKind::Text, Bytes::from_static(b"\xe2\x82"), false).expect("half a code point");
    assert_eq!(c.send_text("other"), Err(LocalError::MessageInProgress));
    assert_eq!(
        c.send_fragment(DataKind::Binary, Bytes::new(), true),
        Err(LocalError::FragmentKindMismatch { open: DataKind::Text, sent: DataKind::Binary })
    );
    assert_eq!(c.send_fragment(DataKind::Text, Bytes::from_static(b"\xff"), false), Err(LocalError::InvalidUtf8));
    // The refused fragment changed nothing: the euro sign can still be completed.
    c.send_fragment(DataKind::Text, Bytes::from_static(b"\xac"), true).expect("rest of the code point");
    assert!(matches!(c.send_text("x"), Err(LocalError::SendBufferFull { limit: 10, .. })));
    assert_eq!(c.state(), State::Open);
    let frames = frames_on_wire(&drain_transmits(&mut c).0);
    assert_eq!(frames, vec![(1, false, b"\xe2\x82".to_vec()), (0, true, b"\xac".to_vec())]);
    c.send_text("x").expect("room again");
}

#[test]
fn large_messages_are_split_into_frames() {
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default().max_send_frame_size(1000), t0);
    let data: Bytes = (0..2500u32).map(|i| i as u8).collect::<Vec<_>>().into();
    s.send_binary(data.clone()).expect("send");
    let frames = frames_on_wire(&drain_transmits(&mut s).0);
    assert_eq!(
        frames.iter().map(|f| (f.0, f.1, f.2.len())).collect::<Vec<_>>(),
        vec![(2, false, 1000), (0, false, 1000), (0, true, 500)]
    );
    assert_eq!(frames.iter().flat_map(|f| f.2.clone()).collect::<Vec<_>>(), data.to_vec());
    assert_eq!(
        s.stats().sent,
        Counters { payload_bytes: 2500, wire_bytes: 2500, messages: 1, data_frames: 3, control_frames: 0 }
    );
}

#[test]
fn server_payloads_leave_without_a_copy() {
    // Payloads above the inline threshold are handed to the transport as the caller's Bytes.
    let t0 = Instant::now();
    let mut s = Connection::server_established(Config::default(), t0);
    let data = Bytes::from(vec![5u8; 100_000]);
    s.send_binary(data.clone()).expect("send");
    let Some(Transmit::Bytes(header)) = s.poll_transmit() else { panic!() };
    assert_eq!(header.len(), 10);
    let Some(Transmit::Bytes(payload)) = s.poll_transmit() else { panic!() };
    assert_eq!(payload.as_ptr(), data.as_ptr());
}

/// Sends `n` messages then closes; records nothing else.
struct SendThenClose(usize);
impl App for SendThenClose {
    fn tick(&mut self, conn: &mut Connection, now: Instant) {
        while self.0 > 0 && conn.send_binary(vec![1u8; 10]).is_ok() {
            self.0 -= 1;
        }
        if self.0 == 0 && conn.state() == State::Open {
            conn.close(now, CloseFrame::normal()).expect("close");
        }
    }
}

#[test]
fn server_initiated_close_with_an_idle_client_ends_by_the_reply_deadline() {
    // The client application never answers the server's Close: the core does, at the deadline.
    let cfg = Config::default().close_reply(CloseReply::Deadline(Duration::from_secs(2)));
    let mut p = Pair::new(cfg.clone(), cfg);
    p.server.app = Box::new(SendThenClose(3));
    p.run(Duration::from_secs(2));
    assert_eq!(p.elapsed(), Duration::from_secs(2));
    assert!(p.client.outcome().is_some_and(Outcome::is_clean));
    assert!(p.server.outcome().is_some_and(Outcome::is_clean));
    assert_eq!(p.client.messages().len(), 3);
}

#[test]
fn limits_at_their_extremes_do_not_overflow() {
    // `Duration::MAX` means "never"; `u64::MAX` sizes mean "unbounded".
    let t0 = Instant::now();
    let never = Config::default()
        .close_timeout(Duration::MAX)
        .eof_timeout(Duration::MAX)
        .handshake_timeout(Duration::MAX)
        .close_reply(CloseReply::Deadline(Duration::MAX))
        .keepalive(Some(Keepalive::new(Duration::MAX, Duration::MAX)))
        .max_frame_size(u64::MAX)
        .max_message_size(u64::MAX);
    let mut s = Connection::server(never.clone(), t0);
    assert_eq!(s.poll_timeout(), None);
    s.handle_input(t0, b"GET / HTTP/1.1\r\n");
    let mut c = Connection::server_established(never, t0);
    let mut huge = vec![0x02, 0xFF];
    huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    huge.extend_from_slice(&[0, 0, 0, 0]);
    c.handle_input(t0, &huge);
    let mut cont = vec![0x80, 0xFF];
    cont.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    c.handle_input(t0, &cont);
    c.close(t0, CloseFrame::normal()).expect("close");
    assert_eq!(c.poll_timeout(), None);
}
