//! Arbitrary frames, decoded by wsduplex and by tungstenite (a server reading a client's
//! stream): both accept or both reject, and they deliver the same messages.
#![no_main]

use std::io::{self, Cursor, Read, Write};
use std::time::Instant;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tungstenite::protocol::{Role, WebSocket};
use wsduplex_core::*;

struct Io(Cursor<Vec<u8>>);

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The stream was rejected.
    Error,
    /// A Close arrived (anything after it is ignored by both).
    Close,
    /// The input ran out without a Close (possibly in the middle of a frame).
    Eof,
}

fn tungstenite_reads(wire: &[u8]) -> (Vec<(bool, Bytes)>, End) {
    let mut ws = WebSocket::from_raw_socket(Io(Cursor::new(wire.to_vec())), Role::Server, None);
    let mut msgs = Vec::new();
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => msgs.push((true, Bytes::copy_from_slice(t.as_bytes()))),
            Ok(tungstenite::Message::Binary(b)) => msgs.push((false, b)),
            // tungstenite answers an invalid close code with 1002, as we do, but still hands a
            // Close to its application: its own 1002 "Protocol violation". On the wire that is
            // a rejection.
            Ok(tungstenite::Message::Close(Some(c)))
                if u16::from(c.code) == 1002 && c.reason.as_str() == "Protocol violation" =>
            {
                return (msgs, End::Error);
            }
            Ok(tungstenite::Message::Close(_)) => return (msgs, End::Close),
            Ok(_) => {}
            Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake))
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return (msgs, End::Eof),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return (msgs, End::Eof),
            Err(_) => return (msgs, End::Error),
        }
    }
}

/// `wire` with its last frame's payload completed (zeros), if it ends inside one.
fn complete_last_frame(wire: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    let mut wire = wire.to_vec();
    while at < wire.len() {
        // An unfinished header (we may fail on its first two bytes) is finished with zeros.
        while wire.len() - at < 14
            && matches!(tungstenite::protocol::frame::FrameHeader::parse(&mut Cursor::new(&wire[at..])), Ok(None))
        {
            wire.push(0);
        }
        let mut cur = Cursor::new(&wire[at..]);
        let len = match tungstenite::protocol::frame::FrameHeader::parse(&mut cur) {
            Ok(Some((_, len))) => len,
            Ok(None) => return None,
            // The completed header is refused outright: that is tungstenite's rejection.
            Err(_) => return Some(wire),
        };
        let end = (at + cur.position() as usize).saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        if end > wire.len() {
            if end - wire.len() > 16 << 20 {
                // Over tungstenite's frame limit: it refuses at the header already.
                return Some(wire);
            }
            wire.resize(end, 0);
            return Some(wire);
        }
        at = end;
    }
    // The header was all that was missing.
    Some(wire)
}

fn we_read(wire: &[u8]) -> (Vec<(bool, Bytes)>, End, bool) {
    let now = Instant::now();
    let mut conn = Connection::server_established(Config::default(), now);
    conn.handle_input(now, wire);
    let mut msgs = Vec::new();
    let mut end = End::Eof;
    let mut close_1014 = false;
    while let Some(e) = conn.poll_event() {
        match e {
            Event::Message(m) => msgs.push((m.kind() == DataKind::Text, m.into_payload())),
            Event::CloseReceived { frame, .. } => {
                close_1014 = frame.code == 1014;
                end = End::Close;
            }
            Event::Closed(Outcome::Failed(_)) => end = End::Error,
            _ => {}
        }
    }
    (msgs, end, close_1014)
}

fuzz_target!(|wire: &[u8]| {
    let (ours, our_end, close_1014) = we_read(wire);
    // Close code 1014 (Bad Gateway) was registered with IANA after tungstenite was written: it
    // refuses it, we accept it. Not comparable.
    if close_1014 {
        return;
    }
    let (theirs, their_end) = tungstenite_reads(wire);
    assert_eq!(ours, theirs, "the same messages");
    if our_end == End::Error && their_end == End::Eof {
        // We reject at the first bad byte (an unmasked header, invalid UTF-8); tungstenite
        // checks a frame once it is complete, so on input cut inside it, it is still waiting.
        // Given the rest of the frame, it must reject too.
        let padded = complete_last_frame(wire).expect("we rejected inside an incomplete last frame");
        assert_eq!(tungstenite_reads(&padded).1, End::Error, "tungstenite accepts the completed frame");
    } else {
        assert_eq!(our_end, their_end);
    }
});
