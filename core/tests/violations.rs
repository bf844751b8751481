//! Bad input: every rule of RFC 6455 §5 (framing), §8.1 (UTF-8), §7.4 (close codes) and §4
//! (handshake) has a case here that checks the exact close code or HTTP status we answer with,
//! that the failure is sticky, and that nothing panics.

mod common;

use std::time::{Duration, Instant};

use wsduplex_core::*;

/// A frame as a client sends it (masked unless `masked` is false).
fn frame(first_byte: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut v = vec![first_byte];
    let m = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        v.push(m | len as u8);
    } else if len <= 0xFFFF {
        v.push(m | 126);
        v.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        v.push(m | 127);
        v.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if masked {
        v.extend_from_slice(&key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    frame(first_byte, payload, true)
}

struct Fed {
    conn: Connection,
    wire: Vec<u8>,
    actions: Vec<Transmit>,
    events: Vec<Event>,
}

/// Events first (a failure takes effect once the events before it are drained), then output.
fn drain(conn: &mut Connection, fed: &mut (Vec<u8>, Vec<Transmit>, Vec<Event>)) {
    while let Some(e) = conn.poll_event() {
        fed.2.push(e);
    }
    while let Some(t) = conn.poll_transmit() {
        if let Transmit::Bytes(b) = &t {
            fed.0.extend_from_slice(b);
        } else {
            fed.1.push(t);
        }
    }
}

fn feed(mut conn: Connection, now: Instant, input: &[u8]) -> Fed {
    let mut acc = (Vec::new(), Vec::new(), Vec::new());
    conn.handle_input(now, input);
    drain(&mut conn, &mut acc);
    Fed { conn, wire: acc.0, actions: acc.1, events: acc.2 }
}

fn server_fed(config: Config, input: &[u8]) -> Fed {
    let now = Instant::now();
    feed(Connection::server_established(config, now), now, input)
}

/// Feeds `input` to a server, expects failure with `code`, one Close frame carrying it, then
/// a write shutdown, and stickiness.
fn expect_fail_with(config: Config, input: &[u8], code: u16) -> PeerError {
    let mut f = server_fed(config, input);
    let Some(Outcome::Failed(e)) = f.conn.outcome().cloned() else {
        panic!("expected failure for {input:02x?}, got {:?} / {:?}", f.conn.outcome(), f.events)
    };
    assert_eq!(e.close_code(), code, "{e}");
    let frames = common::frames_on_wire(&f.wire);
    assert_eq!(frames.len(), 1, "exactly our Close: {frames:?}");
    assert_eq!(frames[0].0, 8);
    assert_eq!(&frames[0].2[..2], &code.to_be_bytes());
    assert_eq!(f.actions, vec![Transmit::ShutdownWrite]);
    assert_eq!(f.conn.state(), State::Closed);
    assert!(matches!(f.events.last(), Some(Event::Closed(Outcome::Failed(_)))));
    // Sticky: more input changes nothing.
    let now = Instant::now();
    f.conn.handle_input(now, &client_frame(0x81, b"hello"));
    assert!(f.conn.poll_event().is_none());
    assert_eq!(f.conn.poll_transmit(), None);
    assert_eq!(f.conn.outcome(), Some(&Outcome::Failed(e.clone())));
    e
}

fn expect_fail(input: &[u8], code: u16) -> PeerError {
    expect_fail_with(Config::default(), input, code)
}

#[test]
fn rsv_bits_without_extension_are_1002() {
    // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated".
    for rsv in [0x40u8, 0x20, 0x10, 0x70] {
        assert_eq!(expect_fail(&client_frame(0x81 | rsv, b"x"), 1002), PeerError::ReservedBits(rsv >> 4));
    }
    assert_eq!(expect_fail(&client_frame(0x89 | 0x40, b""), 1002), PeerError::ReservedBits(4));
}

#[test]
fn unknown_opcodes_are_1002() {
    // RFC 6455 §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        assert_eq!(expect_fail(&client_frame(0x80 | op, b""), 1002), PeerError::UnknownOpcode(op));
    }
}

#[test]
fn control_frame_rules_are_1002() {
    // RFC 6455 §5.5: control frames are not fragmented and carry at most 125 bytes.
    assert_eq!(expect_fail(&client_frame(0x09, b"ping"), 1002), PeerError::FragmentedControl);
    assert_eq!(expect_fail(&client_frame(0x89, &[0u8; 126]), 1002), PeerError::ControlTooLong(126));
}

#[test]
fn masking_direction_is_enforced() {
    // RFC 6455 §5.1: a server MUST close on an unmasked frame; a client on a masked one.
    assert_eq!(expect_fail(&frame(0x81, b"hi", false), 1002), PeerError::UnmaskedFrame);
    let now = Instant::now();
    let mut c = feed(
        Connection::client_established(Config::default(), SeededKeys::new(1), now),
        now,
        &frame(0x81, b"hi", true),
    );
    assert!(matches!(c.conn.outcome(), Some(Outcome::Failed(PeerError::MaskedFrame))));
    let frames = common::frames_on_wire(&c.wire);
    assert_eq!((frames.len(), frames[0].0, &frames[0].2[..2]), (1, 8, &1002u16.to_be_bytes()[..]));
    c.conn.handle_eof(now);
    assert_eq!(c.conn.poll_transmit(), Some(Transmit::Disconnect));
}

#[test]
fn fragmentation_rules_are_1002() {
    // RFC 6455 §5.4.
    assert_eq!(expect_fail(&client_frame(0x80, b"cont"), 1002), PeerError::UnexpectedContinuation);
    let mut two_starts = client_frame(0x01, b"first");
    two_starts.extend(client_frame(0x81, b"second"));
    assert_eq!(expect_fail(&two_starts, 1002), PeerError::ExpectedContinuation);
    let mut bin_then_text = client_frame(0x02, b"a");
    bin_then_text.extend(client_frame(0x82, b"b"));
    assert_eq!(expect_fail(&bin_then_text, 1002), PeerError::ExpectedContinuation);
}

#[test]
fn control_frames_interleave_inside_fragmented_messages() {
    // RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message."
    let mut input = client_frame(0x01, "κό".as_bytes());
    input.extend(client_frame(0x89, b"p1"));
    input.extend(client_frame(0x00, "σ".as_bytes()));
    input.extend(client_frame(0x8A, b"unsolicited"));
    input.extend(client_frame(0x80, "με".as_bytes()));
    let f = server_fed(Config::default(), &input);
    assert_eq!(f.conn.outcome(), None);
    assert_eq!(
        f.events,
        vec![
            Event::Ping("p1".into()),
            Event::Pong("unsolicited".into()),
            Event::Message(Message::Text("κόσμε".into()))
        ]
    );
    let frames = common::frames_on_wire(&f.wire);
    assert_eq!(frames, vec![(0xA, true, b"p1".to_vec())], "automatic pong");
}

#[test]
fn violations_in_the_first_two_bytes_fail_before_the_header_is_complete() {
    // RFC 6455 §5.2: a peer that sends FF FF (reserved bits, a 64-bit length to follow) must
    // not keep us waiting for a header it will never finish.
    let cases: Vec<(Vec<u8>, PeerError)> = vec![
        (vec![0xFF], PeerError::ReservedBits(7)),
        (vec![0x83], PeerError::UnknownOpcode(3)),
        (vec![0x09], PeerError::FragmentedControl),
        (vec![0x81, 0x7F], PeerError::UnmaskedFrame),
    ];
    for (bytes, err) in cases {
        assert_eq!(expect_fail(&bytes, 1002), err, "{bytes:02x?}");
    }
    let now = Instant::now();
    let mut c = Connection::client_established(Config::default(), SeededKeys::new(1), now);
    c.handle_input(now, &[0x82, 0x80]);
    assert!(matches!(c.outcome(), Some(Outcome::Failed(PeerError::MaskedFrame))));
    // A valid prefix waits.
    assert!(server_fed(Config::default(), &[0x82, 0xFF, 0, 0]).conn.outcome().is_none());
}

#[test]
fn lengths_and_limits() {
    // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    let mut huge = vec![0x82, 0xFF];
    huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(expect_fail(&huge, 1002), PeerError::InvalidLength);
    // A frame claiming 2^62 bytes: 1009 at the header, nothing of that size allocated.
    let mut big = vec![0x82, 0xFF];
    big.extend_from_slice(&(1u64 << 62).to_be_bytes());
    big.extend_from_slice(&[1, 2, 3, 4]);
    assert!(matches!(expect_fail(&big, 1009), PeerError::FrameTooLarge { size, .. } if size == 1 << 62));
    let small = Config::default().max_frame_size(1000).max_message_size(1500);
    assert!(matches!(
        expect_fail_with(small.clone(), &client_frame(0x82, &[0; 1001]), 1009),
        PeerError::FrameTooLarge { .. }
    ));
    assert!(server_fed(small.clone(), &client_frame(0x82, &[0; 1000])).conn.outcome().is_none());
    let mut two = client_frame(0x02, &[0; 1000]);
    two.extend(client_frame(0x80, &[0; 501]));
    assert!(matches!(expect_fail_with(small.clone(), &two, 1009), PeerError::MessageTooLarge { size: 1501, .. }));
    // Streaming delivery obeys the message limit too.
    let streaming = small.clone().delivery(Delivery::Chunks);
    assert!(matches!(expect_fail_with(streaming, &two, 1009), PeerError::MessageTooLarge { .. }));
}

#[test]
fn invalid_utf8_is_1007() {
    // RFC 6455 §8.1.
    assert_eq!(expect_fail(&client_frame(0x81, b"ok \xff"), 1007), PeerError::InvalidUtf8("text message"));
    // Truncated code point at the end of the message.
    let mut frag = client_frame(0x01, b"ok");
    frag.extend(client_frame(0x80, b"\xe2\x82"));
    assert_eq!(expect_fail(&frag, 1007), PeerError::InvalidUtf8("text message"));
    // Close reason.
    assert_eq!(expect_fail(&client_frame(0x88, b"\x03\xe8\xff\xfe"), 1007), PeerError::InvalidUtf8("close reason"));
    // Streaming delivery too.
    let streaming = Config::default().delivery(Delivery::Chunks);
    expect_fail_with(streaming, &client_frame(0x81, b"\xed\xa0\x80"), 1007);
}

#[test]
fn invalid_utf8_fails_fast_in_the_middle_of_a_frame() {
    // Autobahn 6.4.x: the invalid byte arrives, the rest of the frame never does; we must fail
    // now, not wait for the end of the frame.
    let payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited";
    let whole = client_frame(0x81, payload);
    for cut in 2 + 4 + 13..whole.len() {
        let f = server_fed(Config::default(), &whole[..cut]);
        assert!(matches!(f.conn.outcome(), Some(Outcome::Failed(PeerError::InvalidUtf8(_)))), "cut {cut}");
    }
    let f = server_fed(Config::default(), &whole[..2 + 4 + 12]);
    assert_eq!(f.conn.outcome(), None, "valid prefix so far");
}

#[test]
fn close_payload_rules() {
    // RFC 6455 §5.5.1: a Close body, if present, starts with a 2-byte code.
    assert_eq!(expect_fail(&client_frame(0x88, &[0x03]), 1002), PeerError::CloseOneByte);
    // RFC 6455 §7.4: codes that may not appear on the wire.
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
        assert_eq!(expect_fail(&client_frame(0x88, &code.to_be_bytes()), 1002), PeerError::InvalidCloseCode(code));
    }
    for code in [1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
        let f = server_fed(Config::default(), &client_frame(0x88, &code.to_be_bytes()));
        assert!(matches!(&f.events[0], Event::CloseReceived { frame, .. } if frame.code == code), "{code}");
        assert_eq!(f.conn.state(), State::CloseReceived);
    }
    // An empty Close is code 1005 and is answered with an empty Close.
    let mut f = server_fed(Config::default().close_reply(CloseReply::Immediate), &client_frame(0x88, b""));
    assert!(matches!(&f.events[0], Event::CloseReceived { frame, .. } if frame.code == 1005));
    assert_eq!(common::frames_on_wire(&f.wire), vec![(8, true, vec![])]);
    assert!(f.conn.outcome().is_some_and(Outcome::is_clean));
    assert_eq!(f.actions, vec![Transmit::Disconnect], "server closes TCP first");
    assert!(f.conn.is_terminated());
    f.conn.handle_input(Instant::now(), b"late");
    assert!(f.conn.poll_event().is_none());
}

#[test]
fn frames_after_the_peers_close_are_discarded() {
    // RFC 6455 §5.5.1: the peer may send nothing after its Close. What it sends anyway is never
    // delivered, and our reply is the normal echo (Autobahn 7.1.2-7.1.5).
    let mut input = client_frame(0x88, &1000u16.to_be_bytes());
    input.extend(client_frame(0x81, b"late"));
    input.extend(client_frame(0x89, b"ping"));
    input.extend(client_frame(0x88, &1001u16.to_be_bytes()));
    let mut f = server_fed(Config::default(), &input);
    assert_eq!(f.events, vec![Event::CloseReceived { frame: CloseFrame::normal(), remainder: 0 }]);
    assert_eq!(f.conn.state(), State::CloseReceived);
    assert!(f.wire.is_empty(), "no pong for a ping after the peer's Close");
    f.conn.send_text("final").expect("our last message still goes out");
    f.conn.close(Instant::now(), CloseFrame::new(1000, "")).expect("reply");
    let mut out = Vec::new();
    while let Some(Transmit::Bytes(b)) = f.conn.poll_transmit() {
        out.extend_from_slice(&b);
    }
    let frames = common::frames_on_wire(&out);
    assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 8]);
    assert!(f.conn.outcome().is_some_and(Outcome::is_clean));
}

#[test]
fn a_violation_waits_until_the_events_before_it_are_handled() {
    // Autobahn 3.2 ("strict"): a valid message and a bad frame in one read. The application
    // still sees the message and may answer it; our 1002 follows the answer.
    let now = Instant::now();
    let mut s = Connection::server_established(Config::default(), now);
    let mut input = client_frame(0x81, b"hello");
    input.extend(client_frame(0xA1, b"rsv"));
    input.extend(client_frame(0x89, b"never seen"));
    s.handle_input(now, &input);
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(10)), "bounded by the close timeout");
    s.handle_timeout(now);
    assert_eq!(s.state(), State::Open, "a timer check right after the read does not cut the app short");
    assert_eq!(s.poll_event(), Some(Event::Message(Message::Text("hello".into()))));
    s.send_text("hello").expect("the echo is still allowed");
    assert!(matches!(s.poll_event(), Some(Event::Closed(Outcome::Failed(PeerError::ReservedBits(2))))));
    assert_eq!(s.poll_event(), None);
    let mut out = Vec::new();
    while let Some(Transmit::Bytes(b)) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    let frames = common::frames_on_wire(&out);
    assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 8]);
    assert_eq!(&frames[1].2[..], &1002u16.to_be_bytes());
    // Without anyone draining events, it applies at the close timeout.
    let mut t = Connection::server_established(Config::default(), now);
    t.handle_input(now, &input);
    t.handle_timeout(now + Duration::from_secs(10));
    assert!(matches!(t.outcome(), Some(Outcome::Failed(PeerError::ReservedBits(2)))));
}

#[test]
fn no_panic_on_any_single_byte_prefix() {
    // Cheap exhaustive sweep: every 2-byte header with a short masked body, both roles.
    let now = Instant::now();
    for b0 in 0..=255u8 {
        for b1 in 0..=255u8 {
            let input = [b0, b1, 1, 2, 3, 4, 5, 6, 7, 8];
            for mut c in [
                Connection::server_established(Config::default(), now),
                Connection::client_established(Config::default(), SeededKeys::new(3), now),
            ] {
                c.handle_input(now, &input);
                while c.poll_event().is_some() {}
                while c.poll_transmit().is_some() {}
                if let Some(Outcome::Failed(e)) = c.outcome() {
                    assert!([1002, 1007, 1009].contains(&e.close_code()));
                }
            }
        }
    }
}

// ---- the opening handshake, at connection level ----------------------------------------------

fn request_with(edit: impl Fn(String) -> String) -> Vec<u8> {
    edit("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_owned()).into_bytes()
}

fn server_handshake(input: &[u8]) -> Fed {
    let now = Instant::now();
    feed(Connection::server(Config::default().max_handshake_size(2048), now), now, input)
}

#[test]
fn server_answers_bad_requests_with_the_right_status() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (request_with(|s| s.replace("Version: 13", "Version: 8")), "HTTP/1.1 426 "),
        (request_with(|s| s.replace("GET", "POST")), "HTTP/1.1 405 "),
        (request_with(|s| s.replace("HTTP/1.1", "HTTP/1.0")), "HTTP/1.1 400 "),
        (request_with(|s| s.replace("dGhlIHNhbXBsZSBub25jZQ==", "bm9uY2U=")), "HTTP/1.1 400 "),
        (request_with(|s| s.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")), "HTTP/1.1 400 "),
        (request_with(|s| s.replace("Connection: Upgrade", "Connection: keep-alive")), "HTTP/1.1 400 "),
        (request_with(|s| s.replace("Upgrade: websocket", "Upgrade: h2c")), "HTTP/1.1 400 "),
        (request_with(|s| s.replace("Host: h\r\n", "")), "HTTP/1.1 400 "),
        (request_with(|s| s.replace("\r\n\r\n", &format!("\r\nX-Big: {}\r\n\r\n", "x".repeat(3000)))), "HTTP/1.1 431 "),
        (b"\x16\x03\x01 not http at all\r\n\r\n".to_vec(), "HTTP/1.1 400 "),
    ];
    for (req, status) in cases {
        let f = server_handshake(&req);
        let text = String::from_utf8_lossy(&f.wire).into_owned();
        assert!(text.starts_with(status), "{status}: {text}");
        if status.contains("426") {
            assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
        }
        assert!(matches!(f.conn.outcome(), Some(Outcome::Failed(PeerError::Handshake(_)))), "{:?}", f.conn.outcome());
        assert_eq!(f.actions, vec![Transmit::ShutdownWrite]);
        assert!(!f.events.iter().any(|e| matches!(e, Event::Request(_))));
    }
    // A header that never ends is cut off at the limit, before the blank line arrives.
    let f = server_handshake(format!("GET / HTTP/1.1\r\nX: {}", "y".repeat(4000)).as_bytes());
    assert!(String::from_utf8_lossy(&f.wire).starts_with("HTTP/1.1 431 "));
}

#[test]
fn server_accepts_and_feeds_trailing_bytes_to_the_connection() {
    // Bytes after the request in the same read are frames and must not be dropped.
    let mut input = request_with(|s| {
        s.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: x, chat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    });
    let now = Instant::now();
    let mut f = feed(Connection::server(Config::default(), now), now, &input[..10]);
    f.conn.handle_input(now, &input[10..]);
    let Some(Event::Request(req)) = f.conn.poll_event() else { panic!() };
    assert_eq!(req.subprotocols, ["x", "chat"]);
    assert_eq!(req.extensions, ["permessage-deflate; client_max_window_bits"]);
    input = client_frame(0x81, b"early");
    f.conn.handle_input(now, &input);
    assert_eq!(f.conn.poll_event(), None, "frames wait for the decision");
    assert_eq!(f.conn.send_text("x"), Err(LocalError::NotOpen(State::Connecting)));
    assert_eq!(
        f.conn.accept(now, Accept { subprotocol: Some("nope".into()), headers: vec![] }),
        Err(LocalError::SubprotocolNotOffered("nope".into()))
    );
    f.conn
        .accept(now, Accept { subprotocol: Some("chat".into()), headers: vec![("X-Server".into(), "wsduplex".into())] })
        .expect("accept");
    assert_eq!(f.conn.state(), State::Open);
    assert_eq!(f.conn.poll_event(), Some(Event::Message(Message::Text("early".into()))));
    let Some(Transmit::Bytes(resp)) = f.conn.poll_transmit() else { panic!() };
    let resp = String::from_utf8_lossy(&resp).into_owned();
    assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{resp}");
    assert!(resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(resp.contains("Sec-WebSocket-Protocol: chat\r\n") && resp.contains("X-Server: wsduplex\r\n"));
    assert!(!resp.contains("Extensions"), "permessage-deflate declined by omission");
    assert_eq!(
        f.conn.accept(now, Accept::default()),
        Err(LocalError::Handshake("accept: no upgrade request is waiting for a decision"))
    );
}

#[test]
fn server_can_reject() {
    let now = Instant::now();
    let mut f = feed(Connection::server(Config::default(), now), now, &request_with(|s| s));
    assert!(matches!(f.events[0], Event::Request(_)));
    f.conn.reject(now, 403).expect("reject");
    let Some(Transmit::Bytes(resp)) = f.conn.poll_transmit() else { panic!() };
    assert!(resp.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    assert_eq!(f.conn.outcome(), Some(&Outcome::Rejected(403)));
}

fn chat_client(now: Instant) -> Connection {
    let req = ClientRequest::new("h", "/").subprotocol("chat");
    Connection::client(Config::default(), req, SeededKeys::new(9), now).expect("request")
}

#[test]
fn client_fails_on_bad_responses_and_feeds_trailing_frames() {
    let now = Instant::now();
    let mut c = chat_client(now);
    let Some(Transmit::Bytes(req)) = c.poll_transmit() else { panic!() };
    let (parsed, _) = handshake::parse_request(&req, 4096).expect("valid").expect("complete");
    let ok = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
        handshake::accept_key(&parsed.key)
    );
    let mut input = ok.clone().into_bytes();
    input.extend(frame(0x81, b"hello", false));
    c.handle_input(now, &input);
    assert!(
        matches!(c.poll_event(), Some(Event::Connected(r)) if matches!(&*r, Response { subprotocol: Some(p), .. } if p == "chat"))
    );
    assert_eq!(c.poll_event(), Some(Event::Message(Message::Text("hello".into()))));

    let bad: Vec<(String, HandshakeError)> = vec![
        (
            ok.replace("101 Switching Protocols", "404 Not Found")
                .replace("\r\n\r\n", "\r\nContent-Length: 4\r\n\r\ngone"),
            HandshakeError::Rejected(Box::new(rejected_404(&ok))),
        ),
        (ok.replace("Sec-WebSocket-Accept: ", "Sec-WebSocket-Accept: x"), HandshakeError::AcceptMismatch),
        (ok.replace("Protocol: chat", "Protocol: other"), HandshakeError::SubprotocolNotOffered("other".into())),
        (
            ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
            HandshakeError::ExtensionNotOffered("permessage-deflate".into()),
        ),
    ];
    for (resp, err) in bad {
        let mut c = chat_client(now);
        while c.poll_transmit().is_some() {}
        c.handle_input(now, resp.as_bytes());
        assert_eq!(c.outcome(), Some(&Outcome::Failed(PeerError::Handshake(err))));
        assert_eq!(c.poll_transmit(), Some(Transmit::ShutdownWrite), "no Close frame before Open");
    }
}

/// What the client keeps of a 404: the status, every header line, the body.
fn rejected_404(ok: &str) -> wsduplex_core::Rejection {
    let head = ok.replace("101 Switching Protocols", "404 Not Found");
    let mut r = wsduplex_core::Rejection::new(404).body(&b"gone"[..]);
    for line in head.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(": ").expect("header line");
        r = r.header(k, v);
    }
    r.header("Content-Length", "4")
}

#[test]
fn handshake_timeout() {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now);
    s.handle_input(now, b"GET / HT");
    let deadline = s.poll_timeout().expect("handshake deadline");
    assert_eq!(deadline, now + Duration::from_secs(10));
    s.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(s.state(), State::Connecting);
    s.handle_timeout(deadline);
    assert_eq!(s.outcome(), Some(&Outcome::TimedOut(Timer::Handshake)));
    assert_eq!(s.poll_transmit(), Some(Transmit::Disconnect));
    assert_eq!(s.poll_timeout(), None);
}
