//! The socket's own rules, over real loopback sockets.

use std::net::TcpListener;

use wsduplex_core::driver::{Opened, goal};
use wsduplex_core::{Event, Outcome, Request};

use super::*;

fn pair(conn: Connection) -> (Arc<Shared<TcpStream>>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let stream = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    (Shared::new(stream, Driver::new(conn), &SocketConfig::default()).expect("socket"), peer)
}

/// A writing thread that takes the end of the input between two writes (the handoff) leaves
/// the core's answer to it, the Disconnect, for the receiver to write. The receiver writes
/// it and must then see that the connection is over, not wait for a wakeup nobody sends.
#[test]
fn recv_ends_as_soon_as_it_writes_the_disconnect_itself() {
    let (shared, _peer) = pair(Connection::server_established(Default::default(), Instant::now()));
    shared.driver().on_read(Instant::now(), Ok(&[])); // the end of the input, as a writer takes it
    let closed = shared.driver().connection_mut().poll_event();
    assert!(matches!(closed, Some(Event::Closed(Outcome::Abnormal))), "{closed:?}; the Disconnect is left queued");
    let start = Instant::now();
    assert!(shared.drive(goal::event).expect("recv").is_none());
    assert!(start.elapsed() < MAX_BLOCK / 2, "recv waited {:?} for nothing", start.elapsed());
}

/// The Disconnect shuts the stream down both ways (the driver's rule): the only way to
/// wake a thread blocked in `read(2)` on a silent peer. A receiver blocked so while
/// another thread aborts returns at once; with the write direction alone shut down it
/// would sleep until its read timeout (10 s here).
#[test]
fn abort_wakes_a_receiver_blocked_in_a_read_on_a_silent_peer() {
    let (shared, _peer) = pair(Connection::server_established(Default::default(), Instant::now()));
    let ws = WebSocket { handle: Handle(shared), opened: Opened::Server(test_request()), polling: () };
    let (tx, rx) = ws.split();
    let receiver = std::thread::spawn(move || {
        let events: Vec<_> = std::iter::from_fn(|| rx.recv().expect("recv")).collect();
        events
    });
    std::thread::sleep(Duration::from_millis(100)); // the receiver is in its read
    let start = Instant::now();
    tx.abort();
    let events = receiver.join().expect("receiver");
    assert!(start.elapsed() < Duration::from_secs(2), "the receiver slept {:?}", start.elapsed());
    assert!(matches!(events.last(), Some(Event::Closed(Outcome::Aborted))), "{events:?}");
}

fn test_request() -> Request {
    let mut c = Connection::server(Default::default(), Instant::now());
    c.handle_input(
        Instant::now(),
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    match c.poll_event() {
        Some(Event::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}
