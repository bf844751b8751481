//! Differential tests with tungstenite, the field's reference implementation: frames built by
//! tungstenite decode identically here (and in tungstenite itself), and what we send decodes
//! in tungstenite as the messages we sent, in both roles.

use std::io::{self, Cursor, Read, Write};
use std::time::Instant;

use bytes::Bytes;
use proptest::prelude::*;
use tungstenite::Message as TMessage;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode as TOp};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use tungstenite::protocol::{Role as TRole, WebSocket};
use wsduplex_core::*;

/// A byte source for tungstenite: reads the given input, swallows what it writes.
struct Io {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What tungstenite reads from `wire` in `role`: data messages, then the close code if any.
fn tungstenite_reads(wire: Vec<u8>, role: TRole) -> (Vec<(bool, Bytes)>, Option<u16>) {
    let mut ws = WebSocket::from_raw_socket(Io { input: Cursor::new(wire), output: Vec::new() }, role, None);
    let mut msgs = Vec::new();
    loop {
        match ws.read() {
            Ok(TMessage::Text(t)) => msgs.push((true, Bytes::copy_from_slice(t.as_bytes()))),
            Ok(TMessage::Binary(b)) => msgs.push((false, b)),
            Ok(TMessage::Close(c)) => return (msgs, Some(c.map_or(1005, |c| u16::from(c.code)))),
            Ok(_) => {}
            Err(_) => return (msgs, None),
        }
    }
}

/// What our connection reads from `wire`, fed in pieces of `split` bytes.
fn we_read(conn: &mut Connection, wire: &[u8], split: usize) -> (Vec<(bool, Bytes)>, Option<u16>) {
    let now = Instant::now();
    let (mut msgs, mut close) = (Vec::new(), None);
    for piece in wire.chunks(split.max(1)) {
        conn.handle_input(now, piece);
        while let Some(e) = conn.poll_event() {
            match e {
                Event::Message(m) => msgs.push((m.kind() == DataKind::Text, m.into_payload())),
                Event::CloseReceived { frame, .. } => close = Some(frame.code),
                _ => {}
            }
        }
    }
    (msgs, close)
}

#[derive(Debug, Clone)]
enum Item {
    /// A message as fragments cut at these positions, with a ping after fragment `ping_after`.
    Message {
        text: bool,
        data: Vec<u8>,
        cuts: Vec<usize>,
        ping_after: Option<usize>,
    },
    Ping(Vec<u8>),
}

fn text_or_binary() -> impl Strategy<Value = (bool, Vec<u8>)> {
    prop_oneof![
        ".{0,200}".prop_map(|s: String| (true, s.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..70_000).prop_map(|v| (false, v)),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (text_or_binary(), prop::collection::vec(0usize..70_000, 0..4), prop::option::of(0usize..4))
            .prop_map(|((text, data), cuts, ping_after)| Item::Message { text, data, cuts, ping_after }),
        1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Ping),
    ]
}

/// Builds the wire with tungstenite's own frame encoder (masked when `mask` is set).
fn tungstenite_wire(items: &[Item], close: Option<u16>, mask: Option<[u8; 4]>) -> (Vec<u8>, Vec<(bool, Bytes)>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut put = |mut f: Frame| {
        f.header_mut().mask = mask;
        f.format(&mut wire).expect("format into a Vec");
    };
    for it in items {
        match it {
            Item::Ping(p) => put(Frame::ping(p.clone())),
            Item::Message { text, data, cuts, ping_after } => {
                let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
                cuts.push(data.len());
                cuts.sort_unstable();
                cuts.dedup();
                let mut start = 0;
                for (i, &c) in cuts.iter().enumerate() {
                    let op = match (i, text) {
                        (0, true) => TOp::Data(Data::Text),
                        (0, false) => TOp::Data(Data::Binary),
                        _ => TOp::Data(Data::Continue),
                    };
                    put(Frame::message(data[start..c].to_vec(), op, i == cuts.len() - 1));
                    if *ping_after == Some(i) && i != cuts.len() - 1 {
                        put(Frame::ping(b"mid".to_vec()));
                    }
                    start = c;
                }
                expected.push((*text, Bytes::copy_from_slice(data)));
            }
        }
    }
    if let Some(code) = close {
        let header = FrameHeader { opcode: TOp::Control(Control::Close), ..FrameHeader::default() };
        put(Frame::from_payload(header, Bytes::copy_from_slice(&code.to_be_bytes())));
    }
    (wire, expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A tungstenite client's frames: we decode what tungstenite decodes.
    #[test]
    fn tungstenite_client_frames_decode_identically(
        items in prop::collection::vec(item(), 0..6),
        key in any::<[u8; 4]>(),
        split in 1usize..5000,
        close in prop::option::of(prop_oneof![Just(1000u16), Just(1001), Just(4000)]),
    ) {
        let (wire, expected) = tungstenite_wire(&items, close, Some(key));
        let mut server = Connection::server_established(Config::default(), Instant::now());
        let ours = we_read(&mut server, &wire, split);
        let theirs = tungstenite_reads(wire, TRole::Server);
        prop_assert_eq!(&ours.0, &expected);
        prop_assert_eq!(&ours, &theirs);
        prop_assert!(server.outcome().is_none_or(|o| !matches!(o, Outcome::Failed(_))));
    }

    /// A tungstenite server's frames (unmasked), decoded by our client.
    #[test]
    fn tungstenite_server_frames_decode_identically(items in prop::collection::vec(item(), 0..6), split in 1usize..5000) {
        let (wire, expected) = tungstenite_wire(&items, Some(1000), None);
        let mut client = Connection::client_established(Config::default(), SeededKeys::new(1), Instant::now());
        let ours = we_read(&mut client, &wire, split);
        prop_assert_eq!(&ours.0, &expected);
        prop_assert_eq!(ours, tungstenite_reads(wire, TRole::Client));
    }

    /// What we send, in either role and with any frame size, tungstenite reads as sent.
    #[test]
    fn our_frames_decode_in_tungstenite(
        msgs in prop::collection::vec((text_or_binary(), prop::collection::vec(0usize..70_000, 0..3)), 0..6),
        frame_size in prop_oneof![Just(1usize << 20), 1usize..3000],
        client in any::<bool>(),
    ) {
        let now = Instant::now();
        let config = Config::default().max_send_frame_size(frame_size).send_buffer_limit(usize::MAX);
        let mut conn = if client {
            Connection::client_established(config, SeededKeys::new(7), now)
        } else {
            Connection::server_established(config, now)
        };
        let mut sent = Vec::new();
        for ((text, data), cuts) in msgs {
            let data = Bytes::from(data);
            let kind = if text { DataKind::Text } else { DataKind::Binary };
            if cuts.is_empty() {
                if text {
                    conn.send(Message::Text(Text::from_utf8(data.clone()).expect("utf-8"))).expect("send");
                } else {
                    conn.send_binary(data.clone()).expect("send");
                }
            } else {
                // Fragments cut anywhere, even inside a code point.
                let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
                cuts.sort_unstable();
                let mut start = 0;
                for c in cuts {
                    conn.send_fragment(kind, data.slice(start..c), false).expect("fragment");
                    start = c;
                }
                conn.send_fragment(kind, data.slice(start..), true).expect("last fragment");
            }
            conn.ping(Bytes::from_static(b"between")).expect("ping");
            sent.push((text, data));
        }
        conn.close(now, CloseFrame::new(4001, "bye")).expect("close");
        let mut wire = Vec::new();
        while let Some(t) = conn.poll_transmit() {
            if let Transmit::Bytes(b) = t {
                wire.extend_from_slice(&b);
            }
        }
        let role = if client { TRole::Server } else { TRole::Client };
        prop_assert_eq!(tungstenite_reads(wire, role), (sent, Some(4001)));
    }
}

/// A frame claiming more than the limit is refused by both before any payload arrives.
#[test]
fn both_refuse_oversized_frames_at_the_header() {
    let mut wire = vec![0x82, 0xFF];
    wire.extend_from_slice(&(64u64 << 20).to_be_bytes());
    wire.extend_from_slice(&[0, 0, 0, 0]);
    let mut server = Connection::server_established(Config::default(), Instant::now());
    we_read(&mut server, &wire, 1);
    assert!(matches!(server.outcome(), Some(Outcome::Failed(PeerError::FrameTooLarge { .. }))));
    assert_eq!(tungstenite_reads(wire, TRole::Server), (vec![], None));
}
