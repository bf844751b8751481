//! permessage-deflate (RFC 7692) through two connections wired in memory: negotiation in the
//! opening handshake, messages compressed both ways in both delivery modes, the RFC's own
//! bytes received, and every rule on the wire (RSV1 where it may be, corrupt data, limits).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Pair, frames_on_wire_rsv1, received};
use wsduplex_core::*;

/// A frame as a peer writes it; a client's is masked (with a zero key: the bytes stay legible).
fn frame(fin: bool, rsv1: bool, op: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![(if fin { 0x80 } else { 0 }) | (if rsv1 { 0x40 } else { 0 }) | op];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n <= 0xFFFF => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        f.extend_from_slice(&[0; 4]);
    }
    f.extend_from_slice(payload);
    f
}

fn deflate() -> Config {
    Config::default().deflate(DeflateConfig::default())
}

/// Text that compresses the way logs and JSON do.
fn json_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!("{{\"seq\":{i},\"symbol\":\"ABC\",\"price\":{}.{:02},\"side\":\"buy\"}}\n", 100 + i % 7, i % 100)
        })
        .collect()
}

fn drain(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn sent_bytes(c: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit() {
        if let Transmit::Bytes(b) = t {
            out.extend_from_slice(&b);
        }
    }
    out
}

#[test]
fn the_handshake_agrees_on_the_parameters_or_declines() {
    let p = Pair::new(deflate(), deflate());
    let agreed = DeflateParams::default();
    assert_eq!((p.client.conn.deflate(), p.server.conn.deflate()), (Some(agreed), Some(agreed)));
    assert!(p.client.conn.try_clone().is_some(), "nothing compressed yet: a faithful copy");
    assert!(
        p.client.events.iter().any(|(_, e)| matches!(e, Event::Connected(r) if r.deflate == Some(agreed))),
        "the client's Connected event carries the agreement"
    );
    // Limits asked for by the client, and imposed by the server.
    let asking =
        Config::default().deflate(DeflateConfig::default().server_max_window_bits(10).client_no_context_takeover(true));
    let imposing =
        Config::default().deflate(DeflateConfig::default().server_no_context_takeover(true).client_max_window_bits(9));
    let p = Pair::new(asking, imposing);
    let d = p.client.conn.deflate().expect("agreed");
    assert!(d.server_no_context_takeover && d.client_no_context_takeover);
    assert_eq!((d.server_max_window_bits, d.client_max_window_bits), (Some(10), Some(9)));
    assert_eq!(p.server.conn.deflate(), Some(d));
    // A server without deflate declines (leaves it out); a client without it offers nothing.
    let p = Pair::new(deflate(), Config::default());
    assert_eq!((p.client.conn.deflate(), p.server.conn.deflate()), (None, None));
    let p = Pair::new(Config::default(), deflate());
    assert_eq!((p.client.conn.deflate(), p.server.conn.deflate()), (None, None));
}

#[test]
fn messages_arrive_intact_both_ways_in_both_delivery_modes_and_every_parameter() {
    let configs = [
        DeflateConfig::default(),
        DeflateConfig::default().server_no_context_takeover(true).client_no_context_takeover(true),
        DeflateConfig::default().server_max_window_bits(9).client_max_window_bits(9).level(9),
        DeflateConfig::default().server_max_window_bits(8).client_max_window_bits(8),
        DeflateConfig::default().level(0).threshold(0),
    ];
    let big = json_lines(40_000); // ~2 MiB: several frames, chunk boundaries inside
    let noise: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for dc in configs {
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            let config = Config::default()
                .deflate(dc.clone())
                .delivery(delivery)
                .chunk_size(1 << 20)
                .max_send_frame_size(256 << 10);
            let mut p = Pair::new(config.clone(), config);
            p.client.record_wire = true;
            p.server.record_wire = true;
            let messages: Vec<Message> = vec![
                Message::text(""),
                Message::text("Hello"),
                Message::text(json_lines(3)),
                Message::text(big.clone()),
                Message::binary(noise.clone()),
                Message::binary(vec![0u8; 100_000]),
                Message::text("Hello"),
                Message::text("é€𝄞 ".repeat(5000)),
            ];
            for m in &messages {
                p.client.conn.send(m.clone()).expect("send");
                p.server.conn.send(m.clone()).expect("send");
                p.run_until(|p| !p.client.conn.has_transmit() && !p.server.conn.has_transmit());
            }
            // A fragmented message, code points split across fragments.
            let text = "ab€".repeat(10_000);
            let (a, b) = text.as_bytes().split_at(7001);
            for side in [&mut p.client.conn, &mut p.server.conn] {
                side.send_fragment(DataKind::Text, Bytes::copy_from_slice(a), false).expect("fragment");
                side.send_fragment(DataKind::Text, Bytes::copy_from_slice(b), true).expect("fragment");
            }
            p.client.conn.close(p.now, CloseFrame::normal()).expect("close");
            p.run(Duration::from_secs(10));
            let mut expected: Vec<(bool, Bytes)> =
                messages.iter().map(|m| (m.is_text(), m.clone().into_payload())).collect();
            expected.push((true, Bytes::from(text.clone())));
            for (rx, tx) in [(&p.server, &p.client), (&p.client, &p.server)] {
                assert_eq!(received(rx), expected, "{dc:?} {delivery:?}");
                let (sent, got) = (tx.conn.stats().sent, rx.conn.stats().received);
                assert_eq!(sent, got, "accounting is exact both ways");
                let boundaries =
                    rx.events.iter().filter(|(_, e)| matches!(e, Event::ChunkBoundary { .. })).count() as u64;
                assert_eq!(boundaries, got.payload_bytes >> 20, "boundaries count inflated bytes");
                // RSV1 on the first frame of a compressed message only (RFC 7692 §6).
                let frames = frames_on_wire_rsv1(&tx.wire);
                let mut first = true;
                for (op, fin, rsv1, _) in &frames {
                    assert!(!rsv1 || (first && (*op == 1 || *op == 2)), "RSV1 on op {op}");
                    if *op < 8 {
                        first = *fin;
                    }
                }
                // Level 0 still marks messages compressed (stored blocks); an 8-bit window sends
                // them plain.
                let compressing = dc.server_max_window_bits != Some(8);
                assert_eq!(frames.iter().any(|f| f.2), compressing, "{dc:?}");
                if compressing && dc.level > 0 {
                    assert!(sent.wire_bytes * 2 < sent.payload_bytes, "{sent:?}");
                }
            }
            assert!(
                p.client.outcome().is_some_and(Outcome::is_clean) && p.server.outcome().is_some_and(Outcome::is_clean)
            );
        }
    }
}

/// RFC 7692 §7.2.3: the RFC's own frames, as an independent sender wrote them.
#[test]
fn the_rfcs_example_frames_are_read() {
    let mut p = Pair::new(deflate(), deflate());
    let now = p.now;
    let c = &mut p.client.conn;
    let _ = drain(c);
    // §7.2.3.1, §7.2.3.2 (context taken over), §7.2.3.3 (a stored block), §7.2.3.4 (BFINAL),
    // §7.2.3.5 (two blocks), and §7.2.3.1 fragmented.
    let frames = [
        frame(true, true, 1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], false),
        frame(true, true, 1, &[0xf2, 0x00, 0x11, 0x00, 0x00], false),
        frame(true, true, 1, &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00], false),
        frame(true, true, 1, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00], false),
        frame(true, true, 1, &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00], false),
        [frame(false, true, 1, &[0xf2, 0x48, 0xcd], false), frame(true, false, 0, &[0xc9, 0xc9, 0x07, 0x00], false)]
            .concat(),
        // An uncompressed message: RSV1 clear (§6).
        frame(true, false, 1, b"Hello", false),
    ];
    for f in &frames {
        c.handle_input(now, f);
    }
    let texts: Vec<String> = drain(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(Message::Text(t)) => Some(t.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, vec!["Hello"; 7]);
    assert_eq!(c.state(), State::Open);
}

fn fails_with(frames: &[Vec<u8>], config: Config, code: u16) {
    let mut p = Pair::new(config.clone(), config);
    let now = p.now;
    let s = &mut p.server.conn;
    for f in frames {
        s.handle_input(now, f);
    }
    let _ = drain(s);
    let wire = sent_bytes(s);
    let closes: Vec<_> = common::frames_on_wire(&wire).into_iter().filter(|f| f.0 == 8).collect();
    assert_eq!(closes.len(), 1, "one Close: {closes:?}");
    assert_eq!(u16::from_be_bytes([closes[0].2[0], closes[0].2[1]]), code, "{frames:?}");
}

#[test]
fn every_rule_on_the_wire_fails_with_the_right_code() {
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    // RSV1 without the extension (RFC 6455 §5.2), on a continuation or a control frame
    // (RFC 7692 §6), RSV2 and RSV3 always.
    fails_with(&[frame(true, true, 1, &hello, true)], Config::default(), 1002);
    fails_with(&[frame(false, true, 1, &hello[..3], true), frame(true, true, 0, &hello[3..], true)], deflate(), 1002);
    fails_with(&[frame(true, true, 9, b"", true)], deflate(), 1002);
    fails_with(&[vec![0xA1, 0x80, 0, 0, 0, 0]], deflate(), 1002);
    // Data that does not inflate: 1007.
    fails_with(&[frame(true, true, 2, &[0xff, 0xff, 0xff, 0xff], true)], deflate(), 1007);
    // Text that inflates to invalid UTF-8: 1007, in both delivery modes.
    let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::fast(), false, 15);
    let mut bad = Vec::with_capacity(64);
    c.compress_vec(&[b'o', b'k', 0xff], &mut bad, flate2::FlushCompress::Sync).expect("compress");
    bad.truncate(bad.len() - 4);
    fails_with(&[frame(true, true, 1, &bad, true)], deflate(), 1007);
    fails_with(&[frame(true, true, 1, &bad, true)], deflate().delivery(Delivery::Chunks), 1007);
    // A message that inflates past max_message_size: 1009, in both delivery modes.
    let zeros = compress_zeros(1 << 20);
    fails_with(&[frame(true, true, 2, &zeros, true)], deflate().max_message_size(100_000), 1009);
    fails_with(
        &[frame(true, true, 2, &zeros, true)],
        deflate().max_message_size(100_000).delivery(Delivery::Chunks),
        1009,
    );
    // A truncated text message: the last code point unfinished.
    let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::fast(), false, 15);
    let mut cut = Vec::with_capacity(64);
    c.compress_vec("ab€".as_bytes().split_at(4).0, &mut cut, flate2::FlushCompress::Sync).expect("compress");
    cut.truncate(cut.len() - 4);
    fails_with(&[frame(true, true, 1, &cut, true)], deflate(), 1007);
}

/// `n` zero bytes as one compressed message (trailer removed).
fn compress_zeros(n: usize) -> Vec<u8> {
    let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::best(), false, 15);
    let mut out = Vec::with_capacity(n / 500 + 1024);
    c.compress_vec(&vec![0u8; n], &mut out, flate2::FlushCompress::Sync).expect("compress");
    out.truncate(out.len() - 4);
    out
}

#[test]
fn streaming_inflation_waits_for_the_application_to_drain() {
    // 64 MiB of zeros in a frame of 64 KiB: the chunks waiting in the queue stay bounded,
    // however far the application lags, and every byte arrives.
    let n = 64 << 20;
    let zeros = compress_zeros(n);
    assert!(zeros.len() < 128 << 10, "{}", zeros.len());
    let config = deflate().delivery(Delivery::Chunks).max_message_size(u64::MAX);
    let mut p = Pair::new(config.clone(), config);
    let now = p.now;
    let s = &mut p.server.conn;
    s.handle_input(now, &frame(true, true, 2, &zeros, true));
    // The application takes one event at a time. Inflation goes on only when the queue is
    // empty, so what was queued at once is what is taken between two empty queues.
    let (mut total, mut batch, mut most_queued, mut ended) = (0usize, 0usize, 0usize, false);
    while let Some(e) = s.poll_event() {
        if let Event::Chunk(c) = e {
            total += c.data.len();
            batch += c.data.len();
            ended = c.end_of_message;
        }
        if !s.has_event() {
            most_queued = most_queued.max(std::mem::take(&mut batch));
        }
    }
    assert_eq!((total, ended), (n, true));
    assert!(most_queued <= 512 << 10, "{most_queued} bytes of chunks queued at once");
    assert_eq!(s.stats().received.payload_bytes, n as u64);
}

#[test]
fn compression_takes_effect_only_after_the_threshold_and_is_visible_in_the_stats() {
    let mut p = Pair::new(deflate(), deflate());
    p.client.record_wire = true;
    p.client.conn.send(Message::text("short")).expect("send");
    p.client.conn.send(Message::text(json_lines(100))).expect("send");
    p.run_until(|p| !p.client.conn.has_transmit() && p.server.messages().len() == 2);
    let frames = frames_on_wire_rsv1(&p.client.wire);
    assert_eq!(frames.iter().map(|f| f.2).collect::<Vec<_>>(), [false, true]);
    let s = p.client.conn.stats().sent;
    assert_eq!(s.payload_bytes, 5 + json_lines(100).len() as u64);
    // A compressor with a window cannot be copied: no copy rather than a wrong one.
    assert!(p.client.conn.try_clone().is_none());
    assert!(s.wire_bytes * 4 < s.payload_bytes, "{s:?}");
}
