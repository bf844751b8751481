//! Interop over real loopback sockets: tungstenite (the field's reference implementation) as
//! client and as server against our blocking transport, and the seed's concurrency case.

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::Message as TMessage;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::output::Output;
use wsduplex_demo::{on_std, seed};
use wsduplex_std::{Event, Message, Outcome, Rejection, SocketConfig, State, accept_with, connect};

const CHUNK: u64 = 4 << 20;

/// Our demo server on an ephemeral loopback port; returns its address and the join handle of
/// the one connection it serves.
fn our_server(chunk: u64) -> (String, thread::JoinHandle<Result<Outcome, wsduplex_std::SocketError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let h = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        let ws = accept_with(stream, seed::server_socket_config(chunk), |_| Ok(Default::default()))?;
        on_std::serve(ws, chunk, None)
    });
    (addr, h)
}

fn tungstenite_client(url: &str) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>> {
    let (ws, _) = tungstenite::connect(url).expect("tungstenite connects");
    ws
}

#[test]
fn tungstenite_client_runs_the_seed_against_our_server() {
    let (addr, server) = our_server(CHUNK);
    let mut ws = tungstenite_client(&format!("ws://{addr}/"));
    let payload = seed::payload(0, 128 << 10);
    // 40 x 128 KiB = 5 MiB: one ack, then a final tally of 1 MiB.
    for _ in 0..40 {
        ws.send(TMessage::Binary(payload.clone())).expect("send");
    }
    ws.close(None).expect("close-output from the tungstenite side");
    let mut acks = Vec::new();
    loop {
        match ws.read() {
            Ok(TMessage::Text(t)) => acks.push(seed::parse_ack(&t).expect("ack")),
            Ok(TMessage::Close(c)) => assert_eq!(c.map(|c| u16::from(c.code)), Some(1000)),
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        acks,
        vec![CHUNK, 40 * (128 << 10) - CHUNK],
        "one ack, then the final tally sent after tungstenite's Close"
    );
    let outcome = server.join().expect("server thread").expect("server");
    assert!(outcome.is_clean(), "{outcome:?}");
}

/// A minimal seed server on tungstenite: acks every CHUNK bytes (tungstenite answers a Close
/// at once, so it cannot send a final tally: the client sends whole chunks).
// tungstenite's header callback returns its own large error type.
#[allow(clippy::result_large_err)]
fn tungstenite_seed_server() -> (String, thread::JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let h = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut path = String::new();
        let mut ws = tungstenite::accept_hdr(stream, |req: &tungstenite::handshake::server::Request, resp| {
            path = req.uri().path().to_owned();
            Ok(resp)
        })
        .expect("handshake");
        let mut received = 0u64;
        loop {
            match ws.read() {
                Ok(TMessage::Binary(b)) if path == "/echo" => ws.send(TMessage::Binary(b)).expect("echo"),
                Ok(TMessage::Text(t)) if path == "/echo" => ws.send(TMessage::Text(t)).expect("echo"),
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
fn our_client_runs_the_seed_against_tungstenite() {
    let (addr, server) = tungstenite_seed_server();
    let flags = ClientFlags { messages: 64, ..ClientFlags::default() };
    let summary = on_std::run_client(&format!("ws://{addr}/"), &flags, &Output::quiet(), None).expect("client");
    assert_eq!(summary.bytes_sent, 64 * (128 << 10));
    assert_eq!(summary.bytes_acked, summary.bytes_sent);
    assert_eq!(summary.acks, 2);
    assert_eq!(summary.close, "clean");
    assert_eq!(server.join().expect("server"), 64 * (128 << 10));
}

#[test]
fn echo_with_fragmented_and_large_messages_against_tungstenite_server() {
    let (addr, server) = tungstenite_seed_server();
    let mut config = SocketConfig::default();
    config.core.max_frame_size = 64 << 20;
    let mut ws = connect(&format!("ws://{addr}/echo"), config).expect("connect");
    let big = seed::payload(3, 20 << 20);
    ws.send_binary(big.clone()).expect("20 MiB");
    ws.send_fragment(wsduplex_std::DataKind::Text, "κό".into(), false).expect("fragment");
    ws.send_fragment(wsduplex_std::DataKind::Text, "σμε".into(), true).expect("fragment");
    ws.send_fragment(wsduplex_std::DataKind::Binary, big.slice(..1000), false).expect("fragment");
    ws.send_fragment(wsduplex_std::DataKind::Binary, big.slice(1000..3000), true).expect("fragment");
    assert_eq!(ws.recv_message().expect("echo"), Some(Message::Binary(big.clone())));
    assert_eq!(ws.recv_message().expect("echo"), Some(Message::Text("κόσμε".into())));
    assert_eq!(ws.recv_message().expect("echo"), Some(Message::Binary(big.slice(..3000))));
    let outcome = ws.close_and_wait(1000, "done").expect("close");
    assert!(outcome.is_clean());
    server.join().expect("server");
}

#[test]
fn echo_with_fragmented_and_large_messages_from_tungstenite_client() {
    let (addr, server) = our_server(CHUNK);
    let mut ws = tungstenite_client(&format!("ws://{addr}/echo"));
    let big = seed::payload(5, 20 << 20);
    ws.send(TMessage::Binary(big.clone())).expect("send");
    ws.send(TMessage::Frame(Frame::message(&b"frag"[..], OpCode::Data(Data::Binary), false))).expect("frame");
    ws.send(TMessage::Frame(Frame::message(&b"mented"[..], OpCode::Data(Data::Continue), true))).expect("frame");
    ws.send(TMessage::text("é")).expect("text");
    let mut got = Vec::new();
    while got.len() < 3 {
        match ws.read().expect("read") {
            TMessage::Binary(b) => got.push(b.to_vec()),
            TMessage::Text(t) => got.push(t.as_bytes().to_vec()),
            _ => {}
        }
    }
    assert_eq!(got, vec![big.to_vec(), b"fragmented".to_vec(), "é".as_bytes().to_vec()]);
    ws.close(None).expect("close");
    while ws.read().is_ok() {}
    assert!(server.join().expect("server").expect("serve").is_clean());
}

/// The seed's exact pattern: the receiving thread is blocked in `recv` when the sending
/// thread closes. The receiver still gets the final tally, then end-of-stream; nobody blocks.
#[test]
fn close_from_the_sending_half_while_the_receiving_half_is_blocked() {
    let (addr, server) = our_server(1 << 20);
    let ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).expect("connect");
    let (tx, rx) = ws.split();
    let reader = thread::spawn(move || {
        let mut texts = Vec::new();
        while let Some(e) = rx.recv().expect("recv") {
            if let Event::Message(Message::Text(t)) = e {
                texts.push((t.to_string(), rx.state()));
            }
        }
        (texts, rx.outcome())
    });
    tx.send_binary(vec![7u8; 1_500_000]).expect("send");
    // Let the reader block in recv with nothing more to read.
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    tx.close(1000, "").expect("close-output");
    let (texts, outcome) = reader.join().expect("reader");
    assert!(t0.elapsed() < Duration::from_secs(1), "no wait on a timer: {:?}", t0.elapsed());
    assert_eq!(texts[0].0, seed::ack(1 << 20));
    assert_eq!(texts[1].0, seed::ack(1_500_000 - (1 << 20)));
    assert_ne!(texts[1].1, State::Open, "the final tally arrives after our Close");
    assert!(outcome.is_some_and(|o| o.is_clean()));
    assert!(server.join().expect("server").expect("serve").is_clean());
}

/// A peer that never answers our Close: the close ends at the close timeout, bounded.
#[test]
fn a_peer_that_never_answers_close_cannot_hang_us() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let silent = thread::spawn(move || {
        // Completes the handshake with a real implementation, then reads and never answers.
        let (stream, _) = listener.accept().expect("accept");
        let ws = tungstenite::accept(stream).expect("handshake");
        let mut raw = ws.into_inner();
        raw.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut buf = [0u8; 1024];
        while let Ok(n) = std::io::Read::read(&mut raw, &mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let mut config = SocketConfig::default();
    config.core.close_timeout = Duration::from_millis(300);
    let ws = connect(&format!("ws://{addr}/"), config).expect("connect");
    let (tx, rx) = ws.split();
    let reader = thread::spawn(move || {
        while rx.recv().expect("recv").is_some() {}
        rx.outcome()
    });
    let t0 = Instant::now();
    let outcome = tx.close_and_wait(1000, "").expect("close and wait");
    let took = t0.elapsed();
    assert_eq!(outcome, Outcome::TimedOut(wsduplex_std::Timer::Close));
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(800), "{took:?}");
    assert_eq!(reader.join().expect("reader"), Some(Outcome::TimedOut(wsduplex_std::Timer::Close)));
    silent.join().expect("silent peer");
}

#[test]
fn clear_errors_for_refused_and_rejected_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    match connect(&format!("ws://{addr}/"), SocketConfig::default()) {
        Err(wsduplex_std::SocketError::Io(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        accept_with(stream, SocketConfig::default(), |req| {
            if req.path == "/private" {
                // A rejection with a header and a body: the client keeps all of it.
                Err(Rejection::new(401).header("WWW-Authenticate", "Bearer").body("log in first"))
            } else {
                Ok(Default::default())
            }
        })
        .map(|_| ())
    });
    match connect(&format!("ws://{addr}/private"), SocketConfig::default()) {
        Err(wsduplex_std::SocketError::Handshake(wsduplex_std::HandshakeError::Rejected(r))) => {
            assert_eq!((r.status, &r.body[..]), (401, &b"log in first"[..]));
            assert!(r.headers.iter().any(|(k, v)| k == "WWW-Authenticate" && v == "Bearer"), "{:?}", r.headers);
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(matches!(server.join().expect("server"), Err(wsduplex_std::SocketError::Handshake(_))));
}

/// Stress of the split halves under full-duplex load: both ends stream 48 MiB at each other
/// with a ping per message, so the reading threads answer pings while the sending threads
/// keep the socket buffers full. Everything arrives and both close cleanly, well inside the
/// 5 s write timeout. (Readers only ever write without blocking, so two readers can never
/// both wait on full buffers; this test exercises the load, it cannot force that interleaving.)
#[test]
fn heavy_two_way_traffic_with_pings_never_stalls() {
    const N: usize = 192;
    const SIZE: usize = 256 << 10;
    let mut config = SocketConfig::default().write_timeout(Duration::from_secs(5));
    config.core.max_send_frame_size = 16 << 10;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let run = |ws: wsduplex_std::WebSocket| {
        let (tx, rx) = ws.split();
        let reader = thread::spawn(move || {
            let mut bytes = 0usize;
            while let Some(e) = rx.recv().expect("recv") {
                if let Event::Message(m) = e {
                    bytes += m.len();
                }
            }
            (bytes, rx.outcome())
        });
        let payload = bytes::Bytes::from(vec![0x5Au8; SIZE]);
        for _ in 0..N {
            tx.send_binary(payload.clone()).expect("send");
            tx.ping(bytes::Bytes::from_static(b"p")).expect("ping");
        }
        // Whichever finishes first closes first; the other's close is then its reply.
        tx.close(1000, "").expect("close");
        reader.join().expect("reader")
    };
    let server_config = config.clone();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let ws = accept_with(stream, server_config, |_| Ok(Default::default())).expect("accept");
        run(ws)
    });
    let t0 = Instant::now();
    let (client_bytes, client_outcome) = run(connect(&format!("ws://{addr}/"), config).expect("connect"));
    let (server_bytes, server_outcome) = server.join().expect("server");
    assert_eq!((client_bytes, server_bytes), (N * SIZE, N * SIZE));
    assert!(client_outcome.is_some_and(|o| o.is_clean()));
    assert!(server_outcome.is_some_and(|o| o.is_clean()));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

/// `feed` queues replies; `recv` writes them when it has handed out every event already
/// received. A lone request still gets its reply (nothing strands while the server waits for
/// input), and a pipelined burst gets every reply, in order.
#[test]
fn fed_replies_go_out_when_the_batch_is_handed_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = thread::spawn(move || -> Result<Outcome, wsduplex_std::SocketError> {
        let (stream, _) = listener.accept()?;
        let mut ws = wsduplex_std::accept(stream, SocketConfig::default())?;
        while let Some(event) = ws.recv()? {
            match event {
                Event::Message(m) => ws.feed(m)?,
                Event::CloseReceived { frame, .. } => ws.close(frame.code, "")?,
                _ => {}
            }
        }
        Ok(ws.outcome().unwrap_or(Outcome::Abnormal))
    });
    let stream = TcpStream::connect(addr).expect("connect");
    // A stranded reply would leave this read waiting: bounded, it fails the test instead.
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
    assert!(server.join().expect("server").expect("serve").is_clean());
}
