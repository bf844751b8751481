//! Received payload is unmasked while it is copied in, and input is taken up to the end of a
//! large frame's header so that the payload after it can be (RFC 6455 §5.3). Whatever the
//! reads, the messages must come out the same: every split around every frame start, header
//! end and payload end, for each length encoding (7-bit, 16-bit, 64-bit; §5.2).

use std::time::Instant;

use wsduplex_core::*;

/// A masked client frame with the minimal length encoding and a key that differs per frame.
fn frame(first: u8, payload: &[u8], n: u8) -> Vec<u8> {
    let key = [0x3a ^ n, 0x91, 0x5c ^ n, 0x07];
    let mut v = vec![first];
    match payload.len() {
        l if l < 126 => v.push(0x80 | l as u8),
        l if l <= 0xFFFF => {
            v.push(0x80 | 126);
            v.extend_from_slice(&(l as u16).to_be_bytes());
        }
        l => {
            v.push(0x80 | 127);
            v.extend_from_slice(&(l as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

fn payload(len: usize, n: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + n * 7) as u8).collect()
}

/// The wire and, per message, (binary?, payload); plus the offsets worth splitting around.
fn wire() -> (Vec<u8>, Vec<Vec<u8>>, Vec<usize>) {
    let mut wire = Vec::new();
    let mut messages = Vec::new();
    let mut marks = Vec::new();
    for (n, len) in [0usize, 5, 125, 126, 300, 65535, 65536, 70001, 3].into_iter().enumerate() {
        let p = payload(len, n);
        marks.push(wire.len());
        let f = frame(0x82, &p, n as u8);
        marks.push(wire.len() + f.len() - p.len()); // header end
        wire.extend_from_slice(&f);
        if n == 4 {
            // A ping between data frames: control frames are never unmasked on the way in.
            wire.extend_from_slice(&frame(0x89, b"ping", 99));
        }
        messages.push(p);
    }
    // A fragmented message: large first fragment, small continuation.
    let (a, b) = (payload(40_000, 20), payload(77, 21));
    marks.push(wire.len());
    wire.extend_from_slice(&frame(0x02, &a, 20));
    marks.push(wire.len());
    wire.extend_from_slice(&frame(0x80, &b, 21));
    messages.push([a, b].concat());
    marks.push(wire.len());
    (wire, messages, marks)
}

fn received(delivery: Delivery, wire: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let now = Instant::now();
    let config = Config::default().delivery(delivery);
    let mut c = Connection::server_established(config, now);
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        c.handle_input(now, &wire[start..cut]);
        start = cut;
        while let Some(e) = c.poll_event() {
            match e {
                Event::Message(m) => out.push(m.into_payload().to_vec()),
                Event::Chunk(ch) => {
                    current.extend_from_slice(&ch.data);
                    if ch.end_of_message {
                        out.push(std::mem::take(&mut current));
                    }
                }
                Event::Ping(p) => assert_eq!(&p[..], b"ping"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(c.state(), State::Open, "no violation whatever the split");
    out
}

#[test]
fn every_split_around_headers_and_payload_ends_gives_the_same_messages() {
    let (wire, messages, marks) = wire();
    for delivery in [Delivery::Messages, Delivery::Chunks] {
        assert_eq!(received(delivery, &wire, &[]), messages, "{delivery:?}, one read");
        for &m in &marks {
            for d in 0..=16 {
                for cut in [m.saturating_sub(d), (m + d).min(wire.len())] {
                    assert_eq!(received(delivery, &wire, &[cut]), messages, "{delivery:?}, cut at {cut}");
                }
            }
        }
        // Many small reads, and reads of a size that drifts across every boundary.
        for step in [1usize, 7, 4096, 65536 + 3] {
            let cuts: Vec<usize> = (step..wire.len()).step_by(step).collect();
            assert_eq!(received(delivery, &wire, &cuts), messages, "{delivery:?}, reads of {step}");
        }
    }
}

/// A small message is split off the receive buffer, which is kept: once the application has
/// dropped the message, the next one of the same size lands in the same memory (no
/// allocation per small message), and a message still held is never written over.
#[test]
fn small_messages_reuse_the_receive_buffer_without_touching_one_still_held() {
    let now = Instant::now();
    let mut c = Connection::server_established(Config::default(), now);
    let next = |c: &mut Connection, p: &[u8], n: u8| {
        c.handle_input(now, &frame(0x82, p, n));
        match c.poll_event() {
            Some(Event::Message(Message::Binary(b))) => b,
            other => panic!("expected the message, got {other:?}"),
        }
    };
    let first = next(&mut c, b"first message!", 1);
    let at = first.as_ptr();
    drop(first);
    let second = next(&mut c, b"second message", 2);
    assert_eq!(second.as_ptr(), at, "the same memory again");
    let third = next(&mut c, b"third message!", 3);
    assert_ne!(third.as_ptr(), second.as_ptr());
    let larger = next(&mut c, b"a larger fourth message", 4);
    assert_eq!(&second[..], b"second message", "held, untouched");
    assert_eq!(&third[..], b"third message!");
    assert_eq!(&larger[..], b"a larger fourth message");
}
