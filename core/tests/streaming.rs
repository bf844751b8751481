//! Streaming delivery (`Delivery::Chunks`): bounded memory whatever the message size, text
//! chunks that never split a code point, chunk boundaries at exact byte positions.

use std::time::Instant;

use bytes::Bytes;
use wsduplex_core::*;

fn masked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [9, 8, 7, 6];
    let mut v = vec![first, 0xFF];
    v.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

fn streaming(chunk_size: Option<u64>) -> Connection {
    let config = Config::default()
        .delivery(Delivery::Chunks)
        .chunk_size(chunk_size)
        .max_frame_size(u64::MAX >> 1)
        .max_message_size(u64::MAX);
    Connection::server_established(config, Instant::now())
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

#[test]
fn a_huge_frame_streams_in_pieces_no_bigger_than_the_reads() {
    // The header claims 1 TiB; we feed 8 MiB of it in 64 KiB reads. Nothing of the claimed
    // size is allocated, and every chunk is handed out as soon as it arrives.
    let mut s = streaming(None);
    let now = Instant::now();
    let mut header = vec![0x82, 0xFF];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    s.handle_input(now, &header);
    let read = vec![0xABu8; 64 << 10];
    let mut total = 0;
    for _ in 0..128 {
        s.handle_input(now, &read);
        for e in events(&mut s) {
            let Event::Chunk(c) = e else { panic!("{e:?}") };
            assert!(c.data.len() <= read.len());
            assert!(!c.end_of_message);
            assert!(c.data.iter().all(|&b| b == 0xAB));
            total += c.data.len();
        }
    }
    assert_eq!(total, 8 << 20);
    assert_eq!(s.stats().received.payload_bytes, 8 << 20);
    assert_eq!(s.outcome(), None);
}

#[test]
fn boundaries_split_binary_chunks_exactly() {
    let mut s = streaming(Some(10));
    let payload: Vec<u8> = (0..25u8).collect();
    s.handle_input(Instant::now(), &masked_frame(0x82, &payload));
    let evs = events(&mut s);
    let chunk = |a: u8, b: u8, end| {
        Event::Chunk(Chunk {
            kind: DataKind::Binary,
            data: Bytes::from((a..b).collect::<Vec<u8>>()),
            end_of_message: end,
        })
    };
    assert_eq!(
        evs,
        vec![
            chunk(0, 10, false),
            Event::ChunkBoundary { index: 1, received: 10 },
            chunk(10, 20, false),
            Event::ChunkBoundary { index: 2, received: 20 },
            chunk(20, 25, true),
        ]
    );
}

#[test]
fn a_boundary_inside_a_code_point_is_reported_after_it() {
    // "aa€b": the 4th byte is the middle of the euro sign; the boundary at 4 bytes is
    // reported once the code point is complete, and no chunk splits it.
    let text = "aa€b".as_bytes();
    for read in 1..=text.len() + 14 {
        let mut s = streaming(Some(3));
        let wire = masked_frame(0x81, text);
        for piece in wire.chunks(read) {
            s.handle_input(Instant::now(), piece);
        }
        let evs = events(&mut s);
        let mut seen = Vec::new();
        for e in &evs {
            match e {
                Event::Chunk(c) => {
                    assert!(std::str::from_utf8(&c.data).is_ok(), "read {read}: {evs:?}");
                    seen.extend_from_slice(&c.data);
                }
                Event::ChunkBoundary { index: 1, received: 3 } => {
                    assert_eq!(seen.len(), 5, "read {read}: after the euro sign")
                }
                Event::ChunkBoundary { index: 2, received: 6 } => assert_eq!(seen.len(), 6, "read {read}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, text);
    }
}

#[test]
fn a_code_point_split_across_frames_is_delivered_whole() {
    let mut s = streaming(None);
    let now = Instant::now();
    let mut wire = masked_frame(0x01, b"x\xe2");
    wire.extend(masked_frame(0x00, b"\x82"));
    wire.extend(masked_frame(0x89, b"ping"));
    wire.extend(masked_frame(0x80, b"\xacy"));
    s.handle_input(now, &wire);
    let chunks: Vec<Bytes> =
        events(&mut s).into_iter().filter_map(|e| if let Event::Chunk(c) = e { Some(c.data) } else { None }).collect();
    assert_eq!(chunks, vec![Bytes::from_static(b"x"), Bytes::from_static("€y".as_bytes())]);
}

#[test]
fn chunks_are_slices_of_the_receive_buffer() {
    // No copy beyond the read: consecutive chunks of one read share its allocation.
    let mut s = streaming(Some(100));
    s.handle_input(Instant::now(), &masked_frame(0x82, &[1u8; 300]));
    let datas: Vec<Bytes> =
        events(&mut s).into_iter().filter_map(|e| if let Event::Chunk(c) = e { Some(c.data) } else { None }).collect();
    assert_eq!(datas.len(), 3);
    assert_eq!(datas[0].as_ptr().wrapping_add(100), datas[1].as_ptr());
}

#[test]
fn switching_delivery_applies_from_the_next_message() {
    let mut s = streaming(None);
    let now = Instant::now();
    let mut first = masked_frame(0x02, b"ab");
    first.extend(masked_frame(0x80, b"cd"));
    s.handle_input(now, &first[..first.len() - 2]);
    s.set_delivery(Delivery::Messages);
    s.handle_input(now, &first[first.len() - 2..]);
    s.handle_input(now, &masked_frame(0x82, b"whole"));
    let evs = events(&mut s);
    let chunks = evs.iter().filter(|e| matches!(e, Event::Chunk(_))).count();
    assert!(chunks >= 2, "the message in progress stays streamed: {evs:?}");
    assert_eq!(evs.last(), Some(&Event::Message(Message::Binary(Bytes::from_static(b"whole")))));
}
