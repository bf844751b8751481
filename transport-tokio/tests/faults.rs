//! Fault injection over real loopback sockets against the tokio transport: peers that
//! misbehave on purpose. Each test has a hard bound. (The blocking and smol transports have
//! the twins.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use wsduplex_tokio::{Event, HandshakeError, Outcome, SocketConfig, accept_with, connect};

/// Runs `f` on a current-thread runtime of its own.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// A std listener as tokio's.
fn tokio_listener(listener: TcpListener) -> tokio::net::TcpListener {
    listener.set_nonblocking(true).expect("nonblocking");
    tokio::net::TcpListener::from_std(listener).expect("tokio listener")
}

fn raw_client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("request");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("response");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    s
}

fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    v.extend_from_slice(payload);
    v
}

fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).expect("frame header");
    let len = match h[1] & 0x7F {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).expect("len");
            u16::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).expect("payload");
    (h[0] & 0x0F, p)
}

type Served = (Result<Outcome, wsduplex_tokio::SocketError>, Vec<Event>);

/// Our tokio server for one connection, on its own thread and runtime.
fn our_server(config: SocketConfig) -> (String, thread::JoinHandle<Served>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let h = thread::spawn(move || {
        block_on(async move {
            let listener = tokio_listener(listener);
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = match accept_with(stream, config, |_| Ok(Default::default())).await {
                Ok(ws) => ws,
                Err(e) => return (Err(e), vec![]),
            };
            let mut events = Vec::new();
            loop {
                match ws.recv().await {
                    Ok(Some(e)) => {
                        if let Event::CloseReceived { frame, .. } = &e {
                            let _ = ws.close(frame.code, "").await;
                        }
                        events.push(e);
                    }
                    Ok(None) => {
                        return (ws.outcome().ok_or(wsduplex_tokio::SocketError::Closed(Outcome::Abnormal)), events);
                    }
                    Err(e) => return (Err(e), events),
                }
            }
        })
    });
    (addr, h)
}

fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).expect("linger");
    drop(stream);
}

#[test]
fn a_server_that_answers_close_but_keeps_tcp_open() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(stream).expect("handshake");
        while !matches!(ws.read(), Ok(tungstenite::Message::Close(_)) | Err(_)) {}
        let _ = ws.flush();
        thread::sleep(Duration::from_secs(1));
    });
    let (outcome, took) = block_on(async {
        let mut config = SocketConfig::default();
        config.core.eof_timeout = Duration::from_millis(300);
        let mut ws = connect(&format!("ws://{addr}/"), config).await.expect("connect");
        let t0 = Instant::now();
        (ws.close_and_wait(1000, "").await.expect("close and wait"), t0.elapsed())
    });
    assert!(outcome.is_clean(), "{outcome:?}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(900), "released after {took:?}");
    server.join().expect("server");
}

#[test]
fn a_peer_that_resets_mid_stream_and_mid_close() {
    let (addr, server) = our_server(SocketConfig::default());
    let mut peer = raw_client(&addr);
    peer.write_all(&frame(0x82, b"some data")).expect("frame");
    thread::sleep(Duration::from_millis(50));
    reset(peer);
    let (outcome, events) = server.join().expect("server");
    assert_eq!(outcome.expect("outcome"), Outcome::Abnormal);
    assert!(events.iter().any(|e| matches!(e, Event::Message(_))));

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut raw = tungstenite::accept(stream).expect("handshake").into_inner();
        let mut b = [0u8; 64];
        let _ = raw.read(&mut b);
        reset(raw);
    });
    let (outcome, took) = block_on(async {
        let mut ws = connect(&format!("ws://{addr}/"), SocketConfig::default()).await.expect("connect");
        let t0 = Instant::now();
        (ws.close_and_wait(1000, "").await, t0.elapsed())
    });
    assert!(took < Duration::from_secs(1));
    assert!(matches!(outcome, Ok(Outcome::Abnormal) | Err(wsduplex_tokio::SocketError::Io(_))), "{outcome:?}");
    peer.join().expect("peer");
}

#[test]
fn a_peer_that_stops_reading_cannot_hold_us_past_the_write_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let ws = tungstenite::accept(stream).expect("handshake");
        thread::sleep(Duration::from_secs(2));
        drop(ws);
    });
    block_on(async {
        let mut config = SocketConfig::default().write_timeout(Duration::from_millis(400));
        config.core.close_timeout = Duration::from_millis(400);
        let mut ws = connect(&format!("ws://{addr}/"), config).await.expect("connect");
        let t0 = Instant::now();
        let chunk = vec![0u8; 1 << 20];
        let err = loop {
            if let Err(e) = ws.send_binary(chunk.clone()).await {
                break e;
            }
            assert!(t0.elapsed() < Duration::from_secs(3), "sends never waited");
        };
        assert!(
            matches!(&err, wsduplex_tokio::SocketError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut),
            "{err:?}"
        );
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        let t1 = Instant::now();
        let close = ws.close_and_wait(1000, "").await;
        assert!(t1.elapsed() < Duration::from_millis(500));
        assert!(close.is_err() || close.is_ok_and(|o| !o.is_clean()));
        assert_eq!(ws.outcome(), Some(Outcome::Aborted));
    });
    peer.join().expect("peer");
}

#[test]
fn a_handshake_that_trickles_in_times_out() {
    let mut config = SocketConfig::default();
    config.core.handshake_timeout = Duration::from_millis(500);
    let (addr, server) = our_server(config);
    let trickle = thread::spawn(move || {
        let mut s = TcpStream::connect(&addr).expect("connect");
        for b in b"GET / HTTP/1.1\r\nHost: x\r\n".iter() {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let t0 = Instant::now();
    let (outcome, _) = server.join().expect("server");
    assert!(matches!(outcome, Err(wsduplex_tokio::SocketError::Handshake(HandshakeError::TimedOut))), "{outcome:?}");
    assert!(t0.elapsed() < Duration::from_millis(900), "{:?}", t0.elapsed());
    trickle.join().expect("trickle");
}

#[test]
fn garbage_enormous_lengths_and_data_after_close() {
    // Garbage: the first byte is enough to fail with 1002.
    let (addr, server) = our_server(SocketConfig::default());
    let mut peer = raw_client(&addr);
    peer.write_all(&[0xFF, 0xFF]).expect("garbage");
    assert_eq!(read_frame(&mut peer), (0x8, 1002u16.to_be_bytes().to_vec()));
    drop(peer);
    assert!(matches!(server.join().expect("server").0, Ok(Outcome::Failed(_))));
    // 2^63 - 1 bytes claimed: 1009; 2^63: the MSB must be 0, 1002 (RFC 6455 §5.2).
    for (len, code) in [((1u64 << 63) - 1, 1009u16), (1u64 << 63, 1002)] {
        let (addr, server) = our_server(SocketConfig::default());
        let mut peer = raw_client(&addr);
        let mut header = vec![0x82, 0xFF];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        peer.write_all(&header).expect("header");
        assert_eq!(read_frame(&mut peer), (0x8, code.to_be_bytes().to_vec()));
        drop(peer);
        assert!(matches!(server.join().expect("server").0, Ok(Outcome::Failed(e)) if e.close_code() == code));
    }
    // Data after the peer's own Close: discarded, the Close answered normally.
    let (addr, server) = our_server(SocketConfig::default());
    let mut peer = raw_client(&addr);
    let mut bytes = frame(0x88, &1000u16.to_be_bytes());
    bytes.extend(frame(0x82, b"late data"));
    peer.write_all(&bytes).expect("close then data");
    assert_eq!(read_frame(&mut peer), (0x8, 1000u16.to_be_bytes().to_vec()));
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).expect("the server closes");
    assert!(rest.is_empty());
    let (outcome, events) = server.join().expect("server");
    assert!(outcome.expect("outcome").is_clean());
    assert!(!events.iter().any(|e| matches!(e, Event::Message(_))));
}

/// A peer that reads nothing until it has written everything: our sending task is stuck in a
/// write while input piles up. A reader that left the input to the writing task (it does,
/// between writes: see "Reading while writing" in the crate docs) must take it back, or both
/// ends wait on full buffers until the write timeout. Sender and receiver share one thread
/// here, the tightest interleaving.
#[test]
fn a_peer_that_reads_only_after_writing_everything_still_gets_through() {
    const THEIRS: usize = 256; // x 60 000 bytes from the peer
    const OURS: usize = 512; // x 32 KiB from us
    const LEN: u16 = 60_000;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let config = SocketConfig::default().write_timeout(Duration::from_secs(5));
    let server = thread::spawn(move || {
        block_on(async move {
            let listener = tokio_listener(listener);
            let (stream, _) = listener.accept().await.expect("accept");
            let ws = accept_with(stream, config, |_| Ok(Default::default())).await.expect("accept");
            let (tx, rx) = ws.split();
            let receiving = async {
                let mut received = 0;
                while let Some(e) = rx.recv().await.expect("recv") {
                    if let Event::Message(m) = e {
                        received += m.len();
                    }
                }
                (received, rx.outcome())
            };
            let sending = async {
                let payload = wsduplex_tokio::bytes::Bytes::from(vec![7u8; 32 << 10]);
                for _ in 0..OURS {
                    tx.send_binary(payload.clone()).await.expect("send: the reading task kept the peer moving");
                }
                tx.close(1000, "").await.expect("close");
            };
            tokio::join!(receiving, sending).0
        })
    });
    let t0 = Instant::now();
    let mut s = raw_client(&addr);
    let mut theirs = vec![0x82, 0x80 | 126];
    theirs.extend_from_slice(&LEN.to_be_bytes());
    theirs.extend_from_slice(&[0; 4]); // mask key
    theirs.resize(theirs.len() + LEN as usize, 3);
    for _ in 0..THEIRS {
        s.write_all(&theirs).expect("peer write");
    }
    let mut got = 0;
    loop {
        match read_frame(&mut s) {
            (0x2, p) => got += p.len(),
            (0x8, _) => break,
            (op, _) => panic!("unexpected opcode {op}"),
        }
    }
    s.write_all(&frame(0x88, &1000u16.to_be_bytes())).expect("peer close");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let (received, outcome) = server.join().expect("server");
    assert_eq!((received, got), (THEIRS * LEN as usize, OURS << 15));
    assert!(outcome.is_some_and(|o| o.is_clean()));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

/// A silent peer: it completes the handshake, then never answers our Close and never closes
/// TCP. `close_and_wait` returns at the close timeout, and a receiver parked in `recv` on the
/// other half wakes with the end, not at some later timer.
#[test]
fn a_peer_that_never_answers_close_cannot_hang_us() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let silent = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut raw = tungstenite::accept(stream).expect("handshake").into_inner();
        raw.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut buf = [0u8; 1024];
        while let Ok(n) = raw.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let (outcome, received, took) = block_on(async move {
        let mut config = SocketConfig::default();
        config.core.close_timeout = Duration::from_millis(300);
        let (tx, rx) = connect(&format!("ws://{addr}/"), config).await.expect("connect").split();
        let receiver = tokio::spawn(async move {
            let mut events = Vec::new();
            while let Ok(Some(e)) = rx.recv().await {
                events.push(e);
            }
            events
        });
        let t0 = Instant::now();
        let outcome = tx.close_and_wait(1000, "").await.expect("close and wait");
        (outcome, receiver.await.expect("receiver"), t0.elapsed())
    });
    assert_eq!(outcome, Outcome::TimedOut(wsduplex_tokio::Timer::Close));
    assert_eq!(received, vec![Event::Closed(Outcome::TimedOut(wsduplex_tokio::Timer::Close))]);
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(800), "{took:?}");
    silent.join().expect("silent peer");
}
