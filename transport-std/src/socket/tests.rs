//! The socket's own rules, over real loopback sockets.

use std::net::TcpListener;

use wsduplex_core::driver::{Opened, goal};
use wsduplex_core::{Event, Message, Outcome, Request};

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
        Some(Event::Request(r)) => *r,
        other => panic!("{other:?}"),
    }
}

/// A TCP stream that records which thread made each write.
struct Recording {
    stream: TcpStream,
    writers: Arc<Mutex<Vec<std::thread::ThreadId>>>,
}

impl Recording {
    fn record(&self) {
        lock(&self.writers).push(std::thread::current().id());
    }
}

impl io::Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl io::Write for Recording {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.record();
        self.stream.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.record();
        self.stream.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for Recording {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(Recording { stream: self.stream.try_clone()?, writers: self.writers.clone() })
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_write_timeout(timeout)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }
    fn wait_readable(&self, timeout: Duration) -> io::Result<Option<bool>> {
        self.stream.wait_readable(timeout)
    }
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Stream::try_read(&mut self.stream, buf)
    }
    fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.record();
        self.stream.try_write_vectored(bufs)
    }
    fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.stream.poll_fd()
    }
}

/// On a split socket the receiver waits in `poll` as the flusher: a sender's small messages
/// are left to it (woken through the eventfd) and none is written on the sender's thread; the
/// peer gets them all, in order.
#[cfg(target_os = "linux")]
#[test]
fn a_senders_messages_are_written_by_the_receiver_polling_as_the_flusher() {
    use std::io::Read;
    const N: usize = 200;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let stream = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (mut peer, _) = listener.accept().expect("accept");
    let writers = Arc::new(Mutex::new(Vec::new()));
    let stream = Recording { stream, writers: writers.clone() };
    let conn = Connection::server_established(Default::default(), Instant::now());
    let shared = Shared::new(stream, Driver::new(conn), &SocketConfig::default()).expect("socket");
    let ws = WebSocket { handle: Handle(shared), opened: Opened::Server(test_request()), polling: () };
    let (tx, rx) = ws.split();
    let receiver = std::thread::spawn(move || {
        let events: Vec<_> = std::iter::from_fn(|| rx.recv().expect("recv")).collect();
        events
    });
    std::thread::sleep(Duration::from_millis(100)); // the receiver polls
    for i in 0..N as u32 {
        tx.send(Message::binary(i.to_be_bytes().repeat(16))).expect("send");
    }
    // Server frames: a 2-byte header, then the 64 bytes.
    let mut got = vec![0u8; N * 66];
    peer.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    peer.read_exact(&mut got).expect("every message reaches the peer");
    for (i, frame) in got.chunks(66).enumerate() {
        assert_eq!(frame[..2], [0x82, 64]);
        assert_eq!(frame[2..], (i as u32).to_be_bytes().repeat(16), "message {i}");
    }
    let me = std::thread::current().id();
    let by_sender = lock(&writers).iter().filter(|t| **t == me).count();
    assert_eq!(by_sender, 0, "{by_sender} writes on the sender's thread");
    tx.abort();
    let events = receiver.join().expect("receiver");
    assert!(matches!(events.last(), Some(Event::Closed(Outcome::Aborted))), "{events:?}");
}

/// What a sender left to the receiver is bounded like the sender's own write: a peer that reads
/// nothing makes the receiver's `recv` fail at the write timeout (the connection is aborted),
/// where it would otherwise wait for that write, and so for any event, forever.
#[cfg(target_os = "linux")]
#[test]
fn a_receiver_that_cannot_write_what_was_left_to_it_gives_up_at_the_write_timeout() {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let stream = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    // Fill the way to the peer, which reads nothing, until the kernel takes no more even after
    // a pause (loopback moves what it can into the peer's buffer meanwhile); small buffers, so
    // that there is little room to open up again.
    socket2::SockRef::from(&stream).set_send_buffer_size(4096).expect("sndbuf");
    socket2::SockRef::from(&peer).set_recv_buffer_size(4096).expect("rcvbuf");
    let mut filler = stream.try_clone().expect("clone");
    filler.set_nonblocking(true).expect("nonblocking");
    loop {
        let mut wrote = 0;
        while let Ok(n) = filler.write(&[0u8; 64 << 10]) {
            wrote += n;
        }
        if wrote == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    filler.set_nonblocking(false).expect("blocking");
    let config = SocketConfig::default().write_timeout(Duration::from_millis(300));
    let conn = Connection::server_established(Default::default(), Instant::now());
    let shared = Shared::new(stream, Driver::new(conn), &config).expect("socket");
    let ws = WebSocket { handle: Handle(shared), opened: Opened::Server(test_request()), polling: () };
    let (tx, rx) = ws.split();
    let receiver = std::thread::spawn(move || {
        let start = Instant::now();
        let result = rx.recv();
        (result, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100)); // the receiver polls
    tx.send(Message::binary(vec![7u8; 60 << 10])).expect("left to the receiver");
    let (result, waited) = receiver.join().expect("receiver");
    match result {
        Err(SocketError::Io(e)) => assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}"),
        other => panic!("recv: {other:?}"),
    }
    assert!(waited < Duration::from_secs(3), "recv took {waited:?}");
    assert_eq!(tx.outcome(), Some(Outcome::Aborted));
    drop(peer);
}
