//! A split socket's sends, coalesced: while the `Receiver` waits in `recv`, a `Sender`'s small
//! messages are left to it, and it writes them many to a write (`Sent::Delegated` in the
//! driver). Over real sockets against tungstenite, with a stream that counts its writes.
//!
//! The runtime is current-thread, so what runs when is decided by the test: a task runs only
//! when the one before it waits.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tungstenite::Message as TMessage;
use wsduplex_tokio::{ClientRequest, Message, connect_with};

/// A TCP stream that counts the writes made to it.
struct Counting {
    inner: TcpStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counting {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// tungstenite's server on a thread: on `go`, sends `greeting` in one write; counts binary
/// messages and reports the count each time it reaches `report_at`; returns every payload.
struct Server {
    addr: SocketAddr,
    go: mpsc::Sender<()>,
    reached: mpsc::Receiver<()>,
    done: thread::JoinHandle<Vec<Vec<u8>>>,
}

fn server(greeting: &'static [&'static str], report_at: usize) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (go, go_rx) = mpsc::channel();
    let (reached_tx, reached) = mpsc::channel();
    let done = thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(s).expect("handshake");
        if go_rx.recv().is_err() {
            // Told nothing: a peer that reads nothing, until the test drops it.
            return Vec::new();
        }
        for text in greeting {
            ws.write(TMessage::text(*text)).expect("write");
        }
        ws.flush().expect("flush");
        let mut got = Vec::new();
        loop {
            match ws.read() {
                Ok(TMessage::Binary(b)) => {
                    got.push(b.to_vec());
                    if got.len() == report_at {
                        let _ = reached_tx.send(());
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return got,
                Err(e) => panic!("server: {e}"),
            }
        }
    });
    Server { addr, go, reached, done }
}

/// Waits (without holding the runtime's thread) for the server to report.
async fn reached(server: &mut Server) -> bool {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reached = std::mem::replace(&mut server.reached, mpsc::channel().1);
    thread::spawn(move || {
        let _ = tx.send(reached.recv_timeout(Duration::from_secs(5)).is_ok());
    });
    rx.await.unwrap_or(false)
}

async fn counted_connect(addr: SocketAddr) -> (wsduplex_tokio::WebSocket<Counting>, Arc<AtomicUsize>) {
    let writes = Arc::new(AtomicUsize::new(0));
    let inner = TcpStream::connect(addr).await.expect("connect");
    let stream = Counting { inner, writes: writes.clone() };
    let ws = connect_with(stream, ClientRequest::new(addr.to_string(), "/"), Default::default()).await.expect("ws");
    (ws, writes)
}

#[tokio::test(flavor = "current_thread")]
async fn a_burst_of_sends_is_written_in_a_few_writes_by_the_waiting_receiver() {
    const N: usize = 500;
    let mut server = server(&[], N);
    let (ws, writes) = counted_connect(server.addr).await;
    let (tx, rx) = ws.split();
    let receiver = tokio::spawn(async move { while let Ok(Some(_)) = rx.recv().await {} });
    tokio::task::yield_now().await; // the receiver now waits in `recv`
    server.go.send(()).expect("go");
    let before = writes.load(Ordering::Relaxed);
    for i in 0..N as u32 {
        tx.send(Message::binary(i.to_be_bytes().repeat(16))).await.expect("send");
    }
    // Every send returned without a write of its own (35 KB queued, under DELEGATE_MAX) ...
    assert_eq!(writes.load(Ordering::Relaxed), before, "a send wrote");
    // ... and the receiver, once it ran, wrote them all, not one write each.
    assert!(reached(&mut server).await, "the server did not get all {N} messages");
    let made = writes.load(Ordering::Relaxed) - before;
    assert!((1..=3).contains(&made), "{made} writes for {N} messages");
    tx.close(1000, "").await.expect("close");
    tokio::time::timeout(Duration::from_secs(5), receiver).await.expect("receiver ends").expect("receiver");
    let got = server.done.join().expect("server");
    let expected: Vec<Vec<u8>> = (0..N as u32).map(|i| i.to_be_bytes().repeat(16)).collect();
    assert!(got == expected, "messages lost or reordered: {} received", got.len());
}

/// A message left to the receiver is written although the receiver returns an event (the
/// first of two that came in one read) and never calls `recv` again: the sender was told the
/// receiver would write it. Whichever its round sees first, the input or the wakeup, the
/// driver writes what was left before it lets a goal be reached (the order in which the input
/// comes first is `output_left_to_the_receiver_is_written_before_any_goal_is_reached` in the
/// driver's tests: this runtime delivers the wakeup first).
#[tokio::test(flavor = "current_thread")]
async fn a_receiver_writes_what_was_left_to_it_before_it_returns_an_event() {
    let mut server = server(&["one", "two"], 1);
    let (ws, writes) = counted_connect(server.addr).await;
    let (tx, rx) = ws.split();
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let receiver = tokio::spawn(async move {
        let first = rx.recv_message().await;
        let _ = first_tx.send(first);
        // Holds the receiver and never receives again.
        std::future::pending::<()>().await;
    });
    tokio::task::yield_now().await; // the receiver now waits in `recv`
    server.go.send(()).expect("go");
    // The greeting arrives while the receiver's task cannot run (this thread is its only one).
    thread::sleep(Duration::from_millis(200));
    let before = writes.load(Ordering::Relaxed);
    tx.send(Message::binary(vec![9u8; 64])).await.expect("send");
    assert_eq!(writes.load(Ordering::Relaxed), before, "left to the receiver");
    let first = first_rx.await.expect("receiver");
    assert!(matches!(first, Ok(Some(Message::Text(ref t))) if t.as_str() == "one"), "{first:?}");
    assert!(reached(&mut server).await, "the message left to the receiver was never written");
    receiver.abort();
    drop(tx);
}

/// What a sender left to the receiver is bounded like the sender's own write: a peer that reads
/// nothing makes the receiver's `recv` fail at the write timeout (the connection is aborted),
/// where it would otherwise wait for that write, and so for any event, forever.
#[tokio::test(flavor = "current_thread")]
async fn a_receiver_that_cannot_write_what_was_left_to_it_gives_up_at_the_write_timeout() {
    // A peer that answers the handshake and then reads nothing, with a small receive buffer
    // (set before it listens: the window is offered in the handshake).
    let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    listener.set_recv_buffer_size(4096).expect("rcvbuf");
    listener.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).expect("bind");
    listener.listen(1).expect("listen");
    let addr = listener.local_addr().expect("address").as_socket().expect("inet");
    let (done, until_done) = mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let ws = tungstenite::accept(std::net::TcpStream::from(s)).expect("handshake");
        let _ = until_done.recv();
        drop(ws);
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let config = wsduplex_tokio::SocketConfig::default().write_timeout(Duration::from_millis(300));
    let filler = socket2::SockRef::from(&stream).try_clone().expect("dup");
    let ws = connect_with(stream, ClientRequest::new(addr.to_string(), "/"), config).await.expect("ws");
    // Fill the way to the peer until the kernel takes no more even after a pause.
    filler.set_send_buffer_size(4096).expect("sndbuf");
    loop {
        let mut wrote = 0;
        while let Ok(n) = std::io::Write::write(&mut &filler, &[0u8; 64 << 10]) {
            wrote += n;
        }
        if wrote == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (tx, rx) = ws.split();
    let receiver = tokio::spawn(async move {
        let start = std::time::Instant::now();
        let result = rx.recv().await;
        (result, start.elapsed())
    });
    tokio::task::yield_now().await; // the receiver now waits in `recv`
    tx.send(Message::binary(vec![7u8; 60 << 10])).await.expect("left to the receiver");
    let (result, waited) =
        tokio::time::timeout(Duration::from_secs(10), receiver).await.expect("bounded").expect("task");
    match result {
        Err(wsduplex_tokio::SocketError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}"),
        other => panic!("recv: {other:?}"),
    }
    assert!(waited < Duration::from_secs(3), "recv took {waited:?}");
    assert_eq!(tx.outcome(), Some(wsduplex_tokio::Outcome::Aborted));
    drop(done);
    peer.join().expect("peer");
}
