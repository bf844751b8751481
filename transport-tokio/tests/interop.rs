//! wsduplex-tokio against an independent peer, tokio-tungstenite, both ways, over loopback:
//! the seed with its final tally after close-output, an echo, fragmented messages; on the
//! current-thread and the multi-threaded runtime. (Every demo client against every demo
//! server — blocking, smol and tokio — is `demo/tests/binaries.rs`.)

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as TMessage;
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::output::Output;
use wsduplex_demo::{on_tokio, seed};
use wsduplex_tokio::bytes::Bytes;
use wsduplex_tokio::{DataKind, Event, Message, Outcome, SocketConfig, SocketError, accept, connect};

const CHUNK: u64 = 4 << 20;
const LIMIT: Duration = Duration::from_secs(20);

/// Our tokio seed server for one connection, on an ephemeral port.
async fn our_server() -> (String, tokio::task::JoinHandle<Result<Outcome, SocketError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let ws = accept(stream, seed::server_socket_config(CHUNK)).await?;
        on_tokio::serve(ws, CHUNK, None).await
    });
    (addr, task)
}

/// tokio-tungstenite's client, written the way its docs show: the stream split into a sink
/// and a stream, one task reading while this one sends, then its close.
#[tokio::test]
async fn tokio_tungstenite_client_runs_the_seed_against_our_server() {
    let (addr, server) = our_server().await;
    let stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let acks = common::tokio_tungstenite_seed_client(format!("ws://{addr}/"), stream).await;
    assert_eq!(acks, vec![CHUNK, 40 * (128 << 10) - CHUNK], "the final tally arrives after tokio-tungstenite's Close");
    let outcome = tokio::time::timeout(LIMIT, server).await.expect("in time").expect("task").expect("server");
    assert!(outcome.is_clean(), "{outcome:?}");
}

/// A tokio-tungstenite seed server (it answers a Close at once, so it sends no tally) that
/// echoes small messages.
async fn tokio_tungstenite_server() -> (String, tokio::task::JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let h = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(stream).await.expect("handshake");
        let mut received = 0u64;
        while let Some(m) = ws.next().await {
            match m {
                Ok(TMessage::Binary(b)) if b.len() < 1024 => ws.send(TMessage::Binary(b)).await.expect("echo"),
                Ok(TMessage::Text(t)) => ws.send(TMessage::Text(t)).await.expect("echo"),
                Ok(TMessage::Binary(b)) => {
                    let before = received / CHUNK;
                    received += b.len() as u64;
                    for _ in before..received / CHUNK {
                        ws.send(TMessage::text(seed::ack(CHUNK))).await.expect("ack");
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("tokio-tungstenite server: {e}"),
            }
        }
        received
    });
    (addr, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_runs_the_seed_against_tokio_tungstenite() {
    let (addr, server) = tokio_tungstenite_server().await;
    let flags = ClientFlags { messages: 64, ..ClientFlags::default() };
    let spawn = |f| {
        let task = tokio::spawn(f);
        async move { task.await.expect("reader task") }
    };
    let (url, quiet) = (format!("ws://{addr}/"), Output::quiet());
    let run = on_tokio::run_client(spawn, &url, &flags, &quiet, None);
    let summary = tokio::time::timeout(LIMIT, run).await.expect("in time").expect("client");
    assert_eq!((summary.bytes_acked, summary.acks, summary.close.as_str()), (64 * (128 << 10), 2, "clean"));
    assert_eq!(server.await.expect("server"), 64 * (128 << 10));
}

/// Small messages, whole and fragmented (text split inside a code point), echoed by
/// tokio-tungstenite, which reassembles the fragments; then a clean close.
#[tokio::test]
async fn echo_and_fragments_through_tokio_tungstenite() {
    let (addr, server) = tokio_tungstenite_server().await;
    let mut ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect");
    ws.send_binary(vec![1u8, 2, 3]).await.expect("send");
    let text = "fragmented: é, 漢字, 🦀";
    let bytes = Bytes::from(text);
    let cut = text.find('🦀').expect("crab") + 2; // inside the crab's four bytes
    ws.send_fragment(DataKind::Text, bytes.slice(..cut), false).await.expect("first fragment");
    ws.send_fragment(DataKind::Text, bytes.slice(cut..), true).await.expect("last fragment");
    let echo = tokio::time::timeout(LIMIT, ws.recv_message()).await.expect("in time").expect("recv");
    assert_eq!(echo, Some(Message::Binary(Bytes::from_static(&[1, 2, 3]))));
    let echo = tokio::time::timeout(LIMIT, ws.recv_message()).await.expect("in time").expect("recv");
    assert_eq!(echo, Some(Message::Text(text.into())));
    let outcome = tokio::time::timeout(LIMIT, ws.close_and_wait(1000, "")).await.expect("in time").expect("close");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(server.await.expect("server"), 0);
}

/// A `WebSocket` whose `Stream` has a receive in flight (its future holds a second handle)
/// is not its connection's only handle any more: its `&mut self` methods take the locked path
/// beside that future, and once the future completed they run alone again. Both paths, one
/// socket, against tokio-tungstenite's echo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_beside_a_stream_operation_in_flight_take_the_shared_path() {
    let (addr, server) = tokio_tungstenite_server().await;
    let mut ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect");
    // Polled once and left pending: nothing has been sent, so nothing can have come back.
    {
        let mut next = std::pin::pin!(ws.next());
        assert!(futures_util::poll!(next.as_mut()).is_pending());
    }
    // The stream's receive is still in flight (kept by the socket for its next poll).
    ws.send_text("beside").await.expect("send beside the stream's receive");
    let echo = tokio::time::timeout(LIMIT, ws.next()).await.expect("in time").expect("an item").expect("echo");
    assert_eq!(echo, Message::Text("beside".into()));
    // Nothing in flight now: alone again.
    ws.send_text("alone").await.expect("send alone");
    let echo = tokio::time::timeout(LIMIT, ws.recv_message()).await.expect("in time").expect("recv");
    assert_eq!(echo, Some(Message::Text("alone".into())));
    let outcome = tokio::time::timeout(LIMIT, ws.close_and_wait(1000, "")).await.expect("in time").expect("close");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(server.await.expect("server"), 0);
}

/// tokio-tungstenite's client against our echo path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_tungstenite_echo_client_against_our_server() {
    let (addr, server) = our_server().await;
    let stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/echo"), stream).await.expect("handshake");
    for i in 0..100u32 {
        ws.send(TMessage::Binary(i.to_be_bytes().to_vec().into())).await.expect("send");
    }
    for i in 0..100u32 {
        match tokio::time::timeout(LIMIT, ws.next()).await.expect("in time") {
            Some(Ok(TMessage::Binary(b))) => assert_eq!(&b[..], &i.to_be_bytes()),
            other => panic!("echo {i}: {other:?}"),
        }
    }
    ws.close(None).await.expect("close");
    while let Some(m) = tokio::time::timeout(LIMIT, ws.next()).await.expect("in time") {
        assert!(matches!(m, Ok(TMessage::Close(_))), "{m:?}");
    }
    let outcome = server.await.expect("task").expect("server");
    assert!(outcome.is_clean(), "{outcome:?}");
}

/// The seed between our own ends on a current-thread runtime: a sending and a receiving
/// task on one thread with the server, and close from the sending task while the receiving
/// task awaits.
#[tokio::test(flavor = "current_thread")]
async fn the_seed_on_a_current_thread_runtime() {
    let (addr, server) = our_server().await;
    let (tx, rx) = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect").split();
    let reader = tokio::spawn(async move {
        let mut tallies = Vec::new();
        while let Some(event) = rx.recv().await.expect("recv") {
            if let Event::Message(Message::Text(t)) = event {
                tallies.push(seed::parse_ack(&t).expect("ack"));
            }
        }
        (tallies, rx.outcome())
    });
    for _ in 0..40 {
        tx.send_binary(seed::payload(0, 128 << 10)).await.expect("send");
    }
    tx.close(1000, "").await.expect("close-output");
    let (tallies, outcome) = tokio::time::timeout(LIMIT, reader).await.expect("in time").expect("reader");
    assert_eq!(tallies, vec![CHUNK, 40 * (128 << 10) - CHUNK]);
    assert!(outcome.is_some_and(|o| o.is_clean()));
    assert!(server.await.expect("task").expect("server").is_clean());
}

/// A stream that is not one of tokio's sockets (as TLS or hyper's upgraded connection are):
/// the transport shares it behind its lock.
struct Wrapped(tokio::net::TcpStream);

impl tokio::io::AsyncRead for Wrapped {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Wrapped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The seed and the pipelined echo through the lock, both directions busy at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_any_other_type_works_through_the_lock() {
    for echo in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let config = seed::server_socket_config(CHUNK);
            let ws = wsduplex_tokio::accept_with(Wrapped(stream), config, |_| Ok(Default::default())).await?;
            on_tokio::serve(ws, CHUNK, None).await
        });
        let flags = ClientFlags { messages: 100, echo, ..ClientFlags::default() };
        let (url, quiet) = (format!("ws://{addr}/{}", if echo { "echo" } else { "" }), Output::quiet());
        let spawn = |f| {
            let task = tokio::spawn(f);
            async move { task.await.expect("reader task") }
        };
        let run = on_tokio::run_client(spawn, &url, &flags, &quiet, None);
        let summary = tokio::time::timeout(LIMIT, run).await.expect("in time").expect("client");
        assert_eq!((summary.bytes_acked, summary.close.as_str()), (100 << 17, "clean"), "echo {echo}: {summary:?}");
        assert!(server.await.expect("task").expect("server").is_clean());
    }
}

/// Cancel safety, the way tokio code cancels: `tokio::select!` against a timer that often wins
/// in the middle of a `recv`, and a `send` dropped after its first poll. Every echo arrives
/// intact and in order, and the connection closes cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_futures_lose_no_data() {
    let (addr, _server) = tokio_tungstenite_server().await;
    let mut ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect");
    let message = |i: u64| Bytes::from(i.to_be_bytes().repeat(100)); // 800 B: echoed by the peer
    let mut received = Vec::new();
    for i in 0..200u64 {
        // A send polled once, then dropped: the message is queued whole or not at all.
        let sent = {
            let send = ws.send_binary(message(i));
            tokio::pin!(send);
            futures_util::poll!(send.as_mut()).is_ready()
        };
        if !sent {
            // It may have been queued: a ping flushes whatever was.
            ws.ping(Bytes::new()).await.expect("ping");
        }
        loop {
            let got = tokio::select! {
                r = ws.recv() => Some(r),
                () = tokio::time::sleep(Duration::from_micros(50)) => None,
            };
            match got {
                Some(Ok(Some(Event::Message(m)))) => {
                    received.push(m.into_payload());
                    break;
                }
                Some(Ok(Some(_))) | None => {
                    // Not queued after all? Then no echo comes: send it again.
                    if !sent && received.len() as u64 == i && ws.stats().sent.messages == i {
                        ws.send_binary(message(i)).await.expect("resend");
                    }
                }
                Some(other) => panic!("{other:?}"),
            }
        }
    }
    let outcome = tokio::time::timeout(LIMIT, ws.close_and_wait(1000, "")).await.expect("in time").expect("close");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(received.len(), 200);
    for (i, r) in received.iter().enumerate() {
        assert_eq!(r, &message(i as u64), "message {i} intact and in order");
    }
}
