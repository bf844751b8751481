//! Compressed messages (permessage-deflate, RFC 7692) from a client, into a server that
//! negotiated the extension: arbitrary DEFLATE data (garbage, or real data compressed here so
//! that the inflater reaches deep states), fragmentation, context takeover, delivery mode and
//! limit, input split anywhere. Never a panic; nothing delivered exceeds `max_message_size`;
//! streaming delivery never queues more than its bound; a failure closes with 1002 (a rule of
//! the framing), 1007 (data that does not inflate, or invalid UTF-8) or 1009 (too large).
#![no_main]

use std::time::Instant;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsduplex_core::*;

#[derive(Debug, Arbitrary)]
struct Fragment {
    /// Compress `data` here (a valid stream) instead of sending it as it is.
    valid: bool,
    rsv1: bool,
    data: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    streaming: bool,
    no_context_takeover: bool,
    /// The limit, in units of 64 bytes.
    limit: u16,
    split: u8,
    messages: Vec<(bool, Vec<Fragment>)>,
}

fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![(if fin { 0x80 } else { 0 }) | (if rsv1 { 0x40 } else { 0 }) | opcode];
    if payload.len() < 126 {
        v.push(0x80 | payload.len() as u8);
    } else {
        v.push(0x80 | 127);
        v.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    v.extend_from_slice(&[7, 0, 0, 9]);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ [7, 0, 0, 9][i % 4]));
    v
}

fuzz_target!(|input: Input| {
    let now = Instant::now();
    let limit = u64::from(input.limit) * 64;
    let delivery = if input.streaming { Delivery::Chunks } else { Delivery::Messages };
    let config = Config::default().deflate(DeflateConfig::default()).max_message_size(limit).delivery(delivery);
    let mut server = Connection::server(config, now);
    let offer = if input.no_context_takeover { "; client_no_context_takeover" } else { "" };
    let head = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate{offer}\r\n\r\n"
    );
    server.handle_input(now, head.as_bytes());
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.accept(now, Accept::default()).expect("accept");
    assert!(server.deflate().is_some());
    while server.poll_transmit().is_some() {}

    // The client's side of the stream, compressed here with its own context.
    let mut deflater = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut wire = Vec::new();
    for (text, fragments) in &input.messages {
        let n = fragments.len();
        for (i, f) in fragments.iter().enumerate() {
            let last = i + 1 == n;
            let payload = if f.valid {
                let mut out = Vec::with_capacity(f.data.len() + 64);
                let _ = deflater.compress_vec(&f.data, &mut out, flate2::FlushCompress::Sync);
                if last && out.ends_with(&[0, 0, 0xff, 0xff]) {
                    out.truncate(out.len() - 4);
                }
                out
            } else {
                f.data.clone()
            };
            let opcode = match (i, text) {
                (0, true) => 1,
                (0, false) => 2,
                _ => 0,
            };
            wire.extend_from_slice(&frame(last, f.rsv1, opcode, &payload));
        }
        if input.no_context_takeover {
            deflater.reset();
        }
    }

    let (mut message, mut batch) = (0u64, 0u64);
    for piece in wire.chunks(usize::from(input.split) + 1) {
        server.handle_input(now, piece);
        while let Some(event) = server.poll_event() {
            match event {
                Event::Message(m) => assert!(m.len() as u64 <= limit, "{} > {limit}", m.len()),
                Event::Chunk(c) => {
                    message += c.data.len() as u64;
                    batch += c.data.len() as u64;
                    assert!(message <= limit, "{message} > {limit}");
                    if c.end_of_message {
                        message = 0;
                    }
                }
                _ => {}
            }
            if !server.has_event() {
                assert!(batch <= 512 << 10, "{batch} bytes of chunks queued at once");
                batch = 0;
            }
        }
    }
    let mut out = Vec::new();
    while let Some(t) = server.poll_transmit() {
        if let Transmit::Bytes(b) = t {
            out.extend_from_slice(&b);
        }
    }
    // Our Close, if the input failed us: its code names the rule.
    if let [0x88, len, hi, lo, ..] = out[..] {
        let code = u16::from_be_bytes([hi, lo]);
        assert!(len >= 2 && matches!(code, 1002 | 1007 | 1009), "close code {code}");
    }
});
