//! An arbitrary, structured sequence of peer bytes, application commands and timeouts against
//! one connection. After every step: the state never moves backwards; our output holds at most
//! one Close and nothing after it; the accounting matches what went out on the wire.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wsduplex_core::*;

#[derive(Debug, Arbitrary)]
enum Op {
    Input(Vec<u8>),
    /// A well-formed frame from the peer (masked for a server): reaches deeper states.
    Frame {
        opcode: u8,
        fin: bool,
        payload: Vec<u8>,
    },
    Eof,
    Advance(u16),
    Send {
        text: bool,
        data: Vec<u8>,
    },
    Fragment {
        text: bool,
        data: Vec<u8>,
        end: bool,
    },
    Ping(Vec<u8>),
    Close(u16, String),
    Abort,
    Drain,
    Streaming(bool),
}

#[derive(Debug, Arbitrary)]
struct Session {
    client: bool,
    immediate_reply: bool,
    ops: Vec<Op>,
}

fn peer_frame(opcode: u8, fin: bool, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut v = vec![(if fin { 0x80 } else { 0 }) | (opcode & 0x0F)];
    let m = if masked { 0x80 } else { 0 };
    if payload.len() < 126 {
        v.push(m | payload.len() as u8);
    } else {
        v.push(m | 126);
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    if masked {
        v.extend_from_slice(&[1, 2, 3, 4]);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

/// Data payload bytes and Close frames in our output, read with tungstenite's header parser.
fn audit(wire: &[u8]) -> (u64, usize, bool) {
    let (mut data, mut closes, mut after_close) = (0u64, 0usize, false);
    let mut rest = wire;
    while !rest.is_empty() {
        let mut cur = std::io::Cursor::new(rest);
        let Ok(Some((h, len))) = tungstenite::protocol::frame::FrameHeader::parse(&mut cur) else { break };
        let end = cur.position() as usize + len as usize;
        if end > rest.len() {
            break;
        }
        after_close |= closes > 0;
        match u8::from(h.opcode) {
            0..=2 => data += len,
            8 => closes += 1,
            _ => {}
        }
        rest = &rest[end..];
    }
    (data, closes, after_close)
}

fuzz_target!(|s: Session| {
    let t0 = Instant::now();
    let mut now = t0;
    let config = Config::default()
        .close_reply(if s.immediate_reply {
            CloseReply::Immediate
        } else {
            CloseReply::Deadline(Duration::from_secs(1))
        })
        .chunk_size(Some(5))
        .max_frame_size(4096)
        .max_message_size(8192)
        .max_send_frame_size(64);
    let mut conn = if s.client {
        Connection::client_established(config, SeededKeys::new(9), now)
    } else {
        Connection::server_established(config, now)
    };
    let mut wire = Vec::new();
    let mut last = conn.state();
    for op in s.ops {
        match op {
            Op::Input(b) => conn.handle_input(now, &b),
            Op::Frame { opcode, fin, payload } => {
                let payload = &payload[..payload.len().min(300)];
                conn.handle_input(now, &peer_frame(opcode, fin, payload, !s.client));
            }
            Op::Eof => conn.handle_eof(now),
            Op::Advance(ms) => {
                now += Duration::from_millis(ms as u64 * 10);
                conn.handle_timeout(now);
            }
            Op::Send { text, data } => {
                let _ = match (text, String::from_utf8(data.clone())) {
                    (true, Ok(t)) => conn.send_text(t),
                    _ => conn.send_binary(data),
                };
            }
            Op::Fragment { text, data, end } => {
                let kind = if text { DataKind::Text } else { DataKind::Binary };
                let _ = conn.send_fragment(kind, Bytes::from(data), end);
            }
            Op::Ping(p) => {
                let _ = conn.ping(Bytes::from(p));
            }
            Op::Close(code, reason) => {
                let _ = conn.close(now, CloseFrame::new(code, reason));
            }
            Op::Abort => conn.abort(),
            Op::Drain => while conn.poll_event().is_some() {},
            Op::Streaming(on) => conn.set_delivery(if on { Delivery::Chunks } else { Delivery::Messages }),
        }
        while let Some(t) = conn.poll_transmit() {
            if let Transmit::Bytes(b) = t {
                wire.extend_from_slice(&b);
            }
        }
        let state = conn.state();
        assert!(state.stage() >= last.stage(), "{last:?} -> {state:?}");
        last = state;
        let (data, closes, after_close) = audit(&wire);
        assert!(closes <= 1 && !after_close, "our output: {closes} Close frames, frame after Close: {after_close}");
        // Everything queued was handed out, except after an abort (queued output is dropped).
        if !matches!(conn.outcome(), Some(Outcome::Aborted | Outcome::TimedOut(_) | Outcome::Abnormal)) {
            assert_eq!(data, conn.stats().sent.payload_bytes, "accounting matches the wire");
        }
    }
});
