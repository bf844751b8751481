//! Interop over real loopback sockets: tungstenite (the field's reference implementation) and
//! the blocking adapter against the async transport, the seed's concurrency case,
//! and cancellation. (One `async-server` serving 1 000 concurrent clients: the demo crate's tests.)

use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use async_net::TcpListener;
use tungstenite::Message as TMessage;
use wsduplex_demo::cli::{ClientFlags, CloseMode};
use wsduplex_demo::output::Output;
use wsduplex_demo::seed;
use wsduplex_demo::{on_smol, on_std};
use wsduplex_smol::{Event, Message, Outcome, SocketConfig, accept, connect};

const CHUNK: u64 = 4 << 20;

/// Runs a future on a fresh executor with two threads.
fn run<T: Send + 'static>(f: impl FnOnce(Arc<smol::Executor<'static>>) -> smol::Task<T>) -> T {
    on_smol::block_on_all_cores(f)
}

/// Our async demo server for one connection, on an ephemeral port.
async fn our_server(
    ex: &smol::Executor<'static>,
    chunk: u64,
) -> (String, smol::Task<Result<Outcome, wsduplex_smol::SocketError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = ex.spawn(async move {
        let (stream, _) = listener.accept().await?;
        let ws = accept(stream, seed::server_socket_config(chunk)).await?;
        on_smol::serve(ws, chunk, None).await
    });
    (addr, task)
}

#[test]
fn tungstenite_client_runs_the_seed_against_the_async_server() {
    let outcome = run(|ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let (addr, server) = our_server(&inner, CHUNK).await;
            let client = thread::spawn(move || {
                let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/")).expect("connect");
                for _ in 0..40 {
                    ws.send(TMessage::Binary(seed::payload(0, 128 << 10))).expect("send");
                }
                ws.close(None).expect("close-output from the tungstenite side");
                let mut acks = Vec::new();
                loop {
                    match ws.read() {
                        Ok(TMessage::Text(t)) => acks.push(seed::parse_ack(&t).expect("ack")),
                        Ok(_) => {}
                        Err(tungstenite::Error::ConnectionClosed) => return acks,
                        Err(e) => panic!("{e}"),
                    }
                }
            });
            let outcome = server.await;
            (outcome, client.join().expect("client"))
        })
    });
    let (server, acks) = outcome;
    assert_eq!(acks, vec![CHUNK, 40 * (128 << 10) - CHUNK], "the final tally arrives after tungstenite's Close");
    assert!(server.expect("server").is_clean());
}

/// tungstenite seed/echo server in a thread (it replies to a Close at once, so no tally).
fn tungstenite_server() -> (String, thread::JoinHandle<u64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let h = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(stream).expect("handshake");
        let mut received = 0u64;
        loop {
            match ws.read() {
                Ok(TMessage::Binary(b)) if b.len() == 3 => ws.send(TMessage::Binary(b)).expect("echo"),
                Ok(TMessage::Binary(b)) => {
                    let before = received / CHUNK;
                    received += b.len() as u64;
                    for _ in before..received / CHUNK {
                        ws.send(TMessage::text(seed::ack(CHUNK))).expect("ack");
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return received,
                Err(e) => panic!("tungstenite server: {e}"),
            }
        }
    });
    (addr, h)
}

#[test]
fn async_client_runs_the_seed_against_tungstenite() {
    let (addr, server) = tungstenite_server();
    let summary = run(move |ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let flags = ClientFlags { messages: 64, ..ClientFlags::default() };
            on_smol::run_client(|f| inner.spawn(f), &format!("ws://{addr}/"), &flags, &Output::quiet(), None).await
        })
    })
    .expect("client");
    assert_eq!((summary.bytes_acked, summary.acks, summary.close.as_str()), (64 * (128 << 10), 2, "clean"));
    assert_eq!(server.join().expect("server"), 64 * (128 << 10));
}

#[test]
fn async_and_blocking_transports_interoperate_both_ways() {
    // Blocking server, async client: seed and echo.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || on_std::serve_forever(listener, seed::server_socket_config(CHUNK)));
    for (path, echo) in [("/", false), ("/echo", true)] {
        let url = format!("ws://{addr}{path}");
        let summary = run(move |ex| {
            let inner = ex.clone();
            ex.spawn(async move {
                let flags = ClientFlags { messages: 100, echo, ..ClientFlags::default() };
                on_smol::run_client(|f| inner.spawn(f), &url, &flags, &Output::quiet(), None).await
            })
        })
        .expect("async client");
        assert!(summary.passed(), "{path}: {summary:?}");
    }
    // Async server (on its own thread and executor), blocking client: seed and echo, with
    // --close wait.
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let ex = Arc::new(smol::Executor::new());
        smol::block_on(ex.run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr").to_string()).expect("send address");
            on_smol::serve_forever(ex.clone(), listener, seed::server_socket_config(CHUNK)).await
        }))
    });
    let addr = rx.recv().expect("server address");
    for (path, echo) in [("/", false), ("/echo", true)] {
        let flags = ClientFlags { messages: 100, echo, close: CloseMode::Wait, ..ClientFlags::default() };
        let url = format!("ws://{addr}{path}");
        let summary = on_std::run_client(&url, &flags, &Output::quiet(), None).expect("blocking client");
        assert!(summary.passed(), "{path}: {summary:?}");
    }
}

/// The seed's exact pattern in tasks: the receiving task awaits a read when the sending task
/// closes; it still gets the final tally, then end-of-stream, without waiting on a timer.
#[test]
fn close_from_the_sending_task_while_the_receiving_task_awaits() {
    let (texts, outcome, took, server) = run(|ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let (addr, server) = our_server(&inner, 1 << 20).await;
            let ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect");
            let (tx, rx) = ws.split();
            let reader = inner.spawn(async move {
                let mut texts = Vec::new();
                while let Some(e) = rx.recv().await.expect("recv") {
                    if let Event::Message(Message::Text(t)) = e {
                        texts.push(t.to_string());
                    }
                }
                (texts, rx.outcome())
            });
            tx.send_binary(vec![7u8; 1_500_000]).await.expect("send");
            async_io::Timer::after(Duration::from_millis(200)).await;
            let t0 = Instant::now();
            tx.close(1000, "").await.expect("close-output");
            let (texts, outcome) = reader.await;
            (texts, outcome, t0.elapsed(), server.await)
        })
    });
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(texts, vec![seed::ack(1 << 20), seed::ack(1_500_000 - (1 << 20))]);
    assert!(outcome.is_some_and(|o| o.is_clean()));
    assert!(server.expect("server").is_clean());
}

/// The receiving half as a `futures_core::Stream` of events, ending at the release.
#[test]
fn the_receiver_is_a_stream_of_events() {
    let (events, server) = run(|ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            use futures_lite::StreamExt;
            let (addr, server) = our_server(&inner, 1 << 20).await;
            let ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect");
            let (tx, rx) = ws.split();
            tx.send_binary(vec![1u8; 1_200_000]).await.expect("send");
            tx.close(1000, "").await.expect("close");
            let events: Vec<Event> = rx.into_stream().map(|e| e.expect("event")).collect().await;
            (events, server.await)
        })
    });
    let texts: Vec<String> = events
        .iter()
        .filter_map(|e| if let Event::Message(Message::Text(t)) = e { Some(t.to_string()) } else { None })
        .collect();
    assert_eq!(texts, vec![seed::ack(1 << 20), seed::ack(1_200_000 - (1 << 20))]);
    assert!(matches!(events.last(), Some(Event::Closed(o)) if o.is_clean()));
    assert!(server.expect("server").is_clean());
}

/// Dropping `recv` and `send` futures part-way loses nothing and leaves the socket usable.
#[test]
fn cancelled_futures_lose_no_data() {
    // An echo server on the blocking transport.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let echo_addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || on_std::serve_forever(listener, seed::server_socket_config(CHUNK)));
    let (received, outcome) = run(move |ex| {
        ex.spawn(async move {
            let mut ws = connect(&format!("ws://{echo_addr}/echo"), SocketConfig::default()).await.expect("connect");
            let mut received = Vec::new();
            for i in 0..200u64 {
                let msg = seed::stamped(&seed::payload(0, 300_000), i);
                // A send cancelled almost at once: the message is queued whole or not at all.
                let sent = future_poll_once(ws.send_binary(msg.clone())).await;
                if sent.is_none() {
                    // It may have been queued: finishing with a ping flushes whatever was.
                    ws.ping(bytes::Bytes::new()).await.expect("ping");
                }
                // Receive with a timeout that often cancels the recv mid-way.
                loop {
                    let r = futures_lite::future::or(async { Some(ws.recv().await) }, async {
                        async_io::Timer::after(Duration::from_micros(50)).await;
                        None
                    })
                    .await;
                    match r {
                        Some(Ok(Some(Event::Message(m)))) => {
                            received.push(m.into_payload());
                            break;
                        }
                        Some(Ok(Some(_))) | None => {
                            if sent.is_none() && received.len() as u64 == i {
                                // Not queued after all? Then the echo never comes: send again.
                                if ws.stats().sent.messages == i {
                                    ws.send_binary(msg.clone()).await.expect("resend");
                                }
                            }
                        }
                        Some(other) => panic!("{other:?}"),
                    }
                }
            }
            (received, ws.close_and_wait(1000, "").await)
        })
    });
    assert_eq!(received.len(), 200);
    for (i, r) in received.iter().enumerate() {
        assert_eq!(r, &seed::stamped(&seed::payload(0, 300_000), i as u64), "message {i} intact and in order");
    }
    assert!(outcome.expect("close").is_clean());
}

async fn future_poll_once<F: std::future::Future>(f: F) -> Option<F::Output> {
    futures_lite::future::poll_once(f).await
}

/// A peer that never answers our Close: the close ends at the close timeout, bounded.
#[test]
fn a_peer_that_never_answers_close_cannot_hang_us() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let silent = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut raw = tungstenite::accept(stream).expect("handshake").into_inner();
        raw.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut buf = [0u8; 1024];
        while let Ok(n) = std::io::Read::read(&mut raw, &mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let (outcome, took) = run(move |ex| {
        ex.spawn(async move {
            let mut config = SocketConfig::default();
            config.core.close_timeout = Duration::from_millis(300);
            let mut ws = connect(&format!("ws://{addr}/"), config).await.expect("connect");
            let t0 = Instant::now();
            let outcome = ws.close_and_wait(1000, "").await.expect("close and wait");
            (outcome, t0.elapsed())
        })
    });
    assert_eq!(outcome, Outcome::TimedOut(wsduplex_smol::Timer::Close));
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(800), "{took:?}");
    silent.join().expect("silent peer");
}

/// `feed` queues replies; `recv` writes them when it has handed out every event already
/// received. A lone request still gets its reply (nothing strands while the server waits for
/// input), and a pipelined burst gets every reply, in order.
#[test]
fn fed_replies_go_out_when_the_batch_is_handed_out() {
    let outcome = run(|ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let client = inner.spawn(smol::unblock(move || {
                let stream = TcpStream::connect(addr).expect("connect");
                // A stranded reply would leave this read waiting: bounded, it fails instead.
                stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
                let (mut ws, _) = tungstenite::client(format!("ws://{addr}/"), stream).expect("handshake");
                for i in 0..3 {
                    ws.send(TMessage::text(format!("request {i}"))).expect("send");
                    assert_eq!(ws.read().expect("the reply, not a timeout"), TMessage::text(format!("request {i}")));
                }
                for i in 0..1000u32 {
                    ws.write(TMessage::Binary(i.to_be_bytes().to_vec().into())).expect("write");
                }
                ws.flush().expect("flush");
                for i in 0..1000u32 {
                    assert_eq!(ws.read().expect("echo"), TMessage::Binary(i.to_be_bytes().to_vec().into()));
                }
                ws.close(None).expect("close");
                while ws.read().is_ok() {}
            }));
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = accept(stream, SocketConfig::default()).await.expect("handshake");
            while let Some(event) = ws.recv().await.expect("recv") {
                match event {
                    Event::Message(m) => ws.feed(m).await.expect("feed"),
                    Event::CloseReceived { frame, .. } => ws.close(frame.code, "").await.expect("close"),
                    _ => {}
                }
            }
            client.await;
            ws.outcome()
        })
    });
    assert!(outcome.is_some_and(|o| o.is_clean()));
}

/// A stream that is neither TCP nor Unix (as a TLS stream would be): the transport shares it
/// between its read and write sides behind a lock instead of cloning it. The seed runs over it
/// against tungstenite, final tally included.
struct Wrapped(async_net::TcpStream);

impl futures_lite::AsyncRead for Wrapped {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl futures_lite::AsyncWrite for Wrapped {
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
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_close(cx)
    }
}

#[test]
fn a_stream_of_any_other_type_works_through_the_lock() {
    let outcome = run(|ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let server = inner.spawn(async move {
                let (stream, _) = listener.accept().await?;
                let ws = wsduplex_smol::accept_with(Wrapped(stream), seed::server_socket_config(CHUNK), |_| {
                    Ok(Default::default())
                })
                .await?;
                on_smol::serve(ws, CHUNK, None).await
            });
            let client = thread::spawn(move || {
                let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/")).expect("connect");
                for _ in 0..40 {
                    ws.send(TMessage::Binary(seed::payload(0, 128 << 10))).expect("send");
                }
                ws.close(None).expect("close");
                let mut acks = Vec::new();
                while let Ok(m) = ws.read() {
                    if let TMessage::Text(t) = m {
                        acks.push(seed::parse_ack(&t).expect("ack"));
                    }
                }
                acks
            });
            (server.await, client.join().expect("client"))
        })
    });
    let (server, acks) = outcome;
    assert_eq!(acks, vec![CHUNK, 40 * (128 << 10) - CHUNK]);
    assert!(server.expect("server").is_clean());
}

/// Stress of the split halves under full-duplex load (the twin of the blocking transport's):
/// both ends stream 48 MiB at each other with a ping per message, so reading tasks answer
/// pings while sending tasks keep the socket buffers full and input is handed between them.
/// Everything arrives and both close cleanly, well inside the 5 s write timeout.
#[test]
fn heavy_two_way_traffic_with_pings_never_stalls() {
    const N: usize = 192;
    const SIZE: usize = 256 << 10;
    let mut config = SocketConfig::default().write_timeout(Duration::from_secs(5));
    config.core.max_send_frame_size = 16 << 10;
    let t0 = Instant::now();
    let ((client_bytes, client_outcome), (server_bytes, server_outcome)) = run(move |ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            async fn stream(ex: &smol::Executor<'static>, ws: wsduplex_smol::WebSocket) -> (usize, Option<Outcome>) {
                let (tx, rx) = ws.split();
                let reader = ex.spawn(async move {
                    let mut bytes = 0usize;
                    while let Some(e) = rx.recv().await.expect("recv") {
                        if let Event::Message(m) = e {
                            bytes += m.len();
                        }
                    }
                    (bytes, rx.outcome())
                });
                let payload = bytes::Bytes::from(vec![0x5Au8; SIZE]);
                for _ in 0..N {
                    tx.send_binary(payload.clone()).await.expect("send");
                    tx.ping(bytes::Bytes::from_static(b"p")).await.expect("ping");
                }
                // Whichever finishes first closes first; the other's close is then its reply.
                tx.close(1000, "").await.expect("close");
                reader.await
            }
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr").to_string();
            let server_config = config.clone();
            let ex2 = inner.clone();
            let server = inner.spawn(async move {
                let (s, _) = listener.accept().await.expect("accept");
                let ws =
                    wsduplex_smol::accept_with(s, server_config, |_| Ok(Default::default())).await.expect("accept");
                stream(&ex2, ws).await
            });
            let ws = connect(&format!("ws://{addr}/"), config).await.expect("connect");
            let client = stream(&inner, ws).await;
            (client, server.await)
        })
    });
    assert_eq!((client_bytes, server_bytes), (N * SIZE, N * SIZE));
    assert!(client_outcome.is_some_and(|o| o.is_clean()));
    assert!(server_outcome.is_some_and(|o| o.is_clean()));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

/// The `futures` traits on smol too: the echo of tokio-tungstenite's examples (`split`, then
/// the stream of text and binary messages forwarded into the sink), served to a tungstenite
/// client; the server's stream ends at the client's Close and `forward` closes the sink,
/// so the close is prompt.
#[test]
fn stream_and_sink_forward_an_echo() {
    use futures_util::{StreamExt, TryStreamExt, future};
    let (echoed, close_took) = run(|ex| {
        ex.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let client = thread::spawn(move || {
                let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/")).expect("connect");
                for i in 0..50u8 {
                    ws.send(TMessage::binary(vec![i; 10])).expect("send");
                }
                let echoed: Vec<_> = (0..50).map(|_| ws.read().expect("echo").into_data()).collect();
                let t0 = Instant::now();
                ws.close(None).expect("close");
                while ws.read().is_ok() {}
                (echoed, t0.elapsed())
            });
            let (stream, _) = listener.accept().await.expect("accept");
            let ws = accept(stream, SocketConfig::default()).await.expect("handshake");
            let (write, read) = ws.split();
            read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
                .forward(write)
                .await
                .expect("forward");
            client.join().expect("client")
        })
    });
    assert_eq!(echoed, (0..50u8).map(|i| vec![i; 10].into()).collect::<Vec<bytes::Bytes>>());
    assert!(close_took < Duration::from_millis(500), "{close_took:?}");
}
