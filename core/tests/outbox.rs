//! `transport::Outbox`, the write queue both transports share: partial writes resume at the
//! same byte, and a shutdown or disconnect waits for the bytes queued before it. Also
//! `transport::read_ends_input`, how both read a read's result.

use std::io::IoSlice;
use std::time::Instant;

use bytes::Bytes;
use wsduplex_core::transport::Outbox;
use wsduplex_core::{CloseReply, Config, Connection, Transmit};

/// A server with five 5000-byte messages queued (inline frames and `Bytes` of their own).
fn loaded(config: Config, now: Instant) -> Connection {
    let mut c = Connection::server_established(config, now);
    for i in 0..5u8 {
        assert!(c.send_binary(Bytes::from(vec![i; 5000])).is_ok());
    }
    c
}

/// Drains the outbox as a socket taking at most `step` bytes per write would.
fn written(outbox: &mut Outbox, step: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while outbox.has_bytes() {
        let mut s = [IoSlice::new(&[]); Outbox::MAX_SLICES];
        let n = outbox.slices(&mut s);
        let all: Vec<u8> = s[..n].iter().flat_map(|s| s.iter().copied()).collect();
        let k = step.min(all.len());
        out.extend_from_slice(&all[..k]);
        outbox.advance(k);
    }
    out
}

#[test]
fn partial_writes_resume_at_the_same_byte_and_shutdown_waits() {
    let now = Instant::now();
    let mut whole = loaded(Config::default(), now);
    let mut expected = Vec::new();
    while let Some(Transmit::Bytes(b)) = whole.poll_transmit() {
        expected.extend_from_slice(&b);
    }
    for step in [1, 7, 4096, usize::MAX] {
        let mut outbox = Outbox::default();
        outbox.refill(&mut loaded(Config::default(), now));
        assert_eq!(written(&mut outbox, step), expected, "step {step}");
        assert!(outbox.take_then().is_none() && outbox.is_empty());
    }

    let mut conn = loaded(Config { close_reply: CloseReply::Immediate, ..Config::default() }, now);
    // The client's Close (masked with a zero key): the server echoes it and disconnects.
    conn.handle_input(now, &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    let mut outbox = Outbox::default();
    outbox.refill(&mut conn);
    assert!(outbox.take_then().is_none(), "the disconnect waits for the bytes before it");
    let bytes = written(&mut outbox, 3000);
    assert_eq!(&bytes[..expected.len()], &expected[..]);
    assert_eq!(&bytes[expected.len()..], &[0x88, 2, 0x03, 0xe8], "then our Close");
    assert_eq!(outbox.take_then(), Some(Transmit::Disconnect));
}

#[test]
fn a_read_ends_the_input_at_eof_and_on_failures_but_not_on_waits() {
    use std::io::{Error, ErrorKind};
    use wsduplex_core::transport::read_ends_input;
    assert!(read_ends_input(&Ok(0)));
    assert!(!read_ends_input(&Ok(1)));
    for quiet in [ErrorKind::WouldBlock, ErrorKind::TimedOut, ErrorKind::Interrupted] {
        assert!(!read_ends_input(&Err(Error::from(quiet))), "{quiet:?}");
    }
    for fatal in [ErrorKind::ConnectionReset, ErrorKind::ConnectionAborted, ErrorKind::BrokenPipe] {
        assert!(read_ends_input(&Err(Error::from(fatal))), "{fatal:?}");
    }
}
