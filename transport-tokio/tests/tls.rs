//! `wss://` with the tokio transport, against an independent TLS peer (tokio-tungstenite over
//! tokio-rustls) both ways, a tokio-rustls stream of the user's own handed to us, and TLS
//! input that is wrong: a plain client on the TLS port, a handshake trickled byte by byte,
//! an expired or wrong-host certificate, a record corrupted mid-stream, a peer that never
//! sends close_notify. Certificates are made here (`wsduplex_demo::pki`). Every test has a
//! hard bound. (Every transport's client against every transport's server over TLS:
//! `demo/tests/tls.rs`.)
#![cfg(feature = "rustls")]

mod common;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::Message as TMessage;
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::output::Output;
use wsduplex_demo::pki::{LeafKind, Pki};
use wsduplex_demo::{on_tokio, seed};
use wsduplex_tokio::rustls::pki_types::ServerName;
use wsduplex_tokio::{
    ClientRequest, HandshakeError, Message, Outcome, SocketConfig, SocketError, accept, connect, connect_with,
};

const CHUNK: u64 = 4 << 20;
const LIMIT: Duration = Duration::from_secs(20);

fn pki() -> Pki {
    Pki::new().expect("CA")
}

fn server_config(pki: &Pki, kind: LeafKind) -> SocketConfig {
    let mut config = seed::server_socket_config(CHUNK);
    config.tls_server = Some(pki.server_config(kind).expect("server config"));
    config
}

fn client_config(pki: &Pki) -> SocketConfig {
    SocketConfig::default().tls_client(Some(pki.client_config().expect("client config")))
}

/// Our seed server over TLS for one connection, on an ephemeral port.
async fn our_server(config: SocketConfig) -> (String, tokio::task::JoinHandle<Result<Outcome, SocketError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let ws = accept(stream, config).await?;
        on_tokio::serve(ws, CHUNK, None).await
    });
    (format!("localhost:{port}"), task)
}

/// tokio-tungstenite's client over tokio-rustls, the way their docs put them together, runs
/// the seed against our wss:// server: its sink and stream in two tasks, its close, and our
/// final tally after it; our server's TLS session ends with close_notify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_tungstenite_over_tokio_rustls_runs_the_seed_against_our_server() {
    let pki = pki();
    let (addr, server) = our_server(server_config(&pki, LeafKind::Valid)).await;
    let tcp = TcpStream::connect(&addr).await.expect("connect");
    let connector = TlsConnector::from(pki.client_config().expect("client config"));
    let tls = connector.connect(ServerName::try_from("localhost").expect("name"), tcp).await.expect("TLS");
    let acks = common::tokio_tungstenite_seed_client(format!("wss://{addr}/"), tls).await;
    assert_eq!(acks, vec![CHUNK, 40 * (128 << 10) - CHUNK], "the final tally arrives after tokio-tungstenite's Close");
    let outcome = tokio::time::timeout(LIMIT, server).await.expect("in time").expect("task").expect("server");
    assert!(outcome.is_clean(), "{outcome:?}");
}

/// tokio-tungstenite behind a tokio-rustls acceptor: echoes small messages, acks the seed's
/// chunks; after the close it reads its TLS stream to the end and returns whether that end
/// was our close_notify (`Ok(0)`; tokio-rustls reports a bare TCP FIN as `UnexpectedEof`).
async fn tokio_tungstenite_tls_server(pki: &Pki) -> (String, tokio::task::JoinHandle<(u64, bool)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = TlsAcceptor::from(pki.server_config(LeafKind::Valid).expect("server config"));
    let h = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let tls = acceptor.accept(stream).await.expect("TLS");
        let mut ws = tokio_tungstenite::accept_async(tls).await.expect("handshake");
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
        let mut rest = [0u8; 64];
        let end = tokio::time::timeout(LIMIT, ws.get_mut().read(&mut rest)).await.expect("the client ends its TLS");
        (received, matches!(end, Ok(0)))
    });
    (format!("localhost:{port}"), h)
}

/// Our seed client (split halves in two tasks) over wss:// against tokio-tungstenite over
/// tokio-rustls: every byte acked, a clean close, and our close_notify seen by the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_runs_the_seed_over_tls_against_tokio_tungstenite() {
    let pki = pki();
    let (addr, server) = tokio_tungstenite_tls_server(&pki).await;
    let dir = std::env::temp_dir().join(format!("wsduplex-tokio-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("ca.pem"), pki.ca_pem()).expect("CA file");
    let flags = ClientFlags { messages: 64, tls_ca: Some(dir.join("ca.pem")), ..ClientFlags::default() };
    let spawn = |f| {
        let task = tokio::spawn(f);
        async move { task.await.expect("reader task") }
    };
    let (url, quiet) = (format!("wss://{addr}/"), Output::quiet());
    let run = on_tokio::run_client(spawn, &url, &flags, &quiet, None);
    let summary = tokio::time::timeout(LIMIT, run).await.expect("in time").expect("client");
    assert_eq!((summary.bytes_acked, summary.acks, summary.close.as_str()), (64 * (128 << 10), 2, "clean"));
    let (received, close_notify) = server.await.expect("server");
    assert_eq!(received, 64 * (128 << 10));
    assert!(close_notify, "the peer's TLS ended with our close_notify, not a bare FIN");
    let _ = std::fs::remove_dir_all(dir);
}

/// Echo through tokio-tungstenite over TLS, single owner: whole and fragmented messages.
#[tokio::test]
async fn echo_over_tls_through_tokio_tungstenite() {
    let pki = pki();
    let (addr, server) = tokio_tungstenite_tls_server(&pki).await;
    let mut ws = connect(&format!("wss://{addr}/"), client_config(&pki)).await.expect("connect");
    for i in 0..100u32 {
        ws.send_text(format!("message {i}")).await.expect("send");
        let echo = tokio::time::timeout(LIMIT, ws.recv_message()).await.expect("in time").expect("recv");
        assert_eq!(echo, Some(Message::text(format!("message {i}"))));
    }
    let outcome = ws.close_and_wait(1000, "").await.expect("close");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert!(server.await.expect("server").1, "close_notify");
}

/// A TLS stream the application made itself with tokio-rustls goes to `connect_with` as any
/// stream does (no TLS of ours on top): the seed against our wss:// server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokio_rustls_stream_of_the_users_own_goes_to_connect_with() {
    let pki = pki();
    let (addr, server) = our_server(server_config(&pki, LeafKind::Valid)).await;
    let tcp = TcpStream::connect(&addr).await.expect("connect");
    let connector = TlsConnector::from(pki.client_config().expect("client config"));
    let tls = connector.connect(ServerName::try_from("localhost").expect("name"), tcp).await.expect("TLS");
    let ws = connect_with(tls, ClientRequest::new(addr.clone(), "/"), SocketConfig::default()).await.expect("upgrade");
    let (tx, rx) = ws.split();
    let reader = tokio::spawn(async move {
        let mut acks = Vec::new();
        while let Some(m) = rx.recv_message().await.expect("recv") {
            let Message::Text(t) = m else { panic!("an ack is text: {m:?}") };
            acks.push(seed::parse_ack(t.as_str()).expect("ack"));
        }
        acks
    });
    for _ in 0..40 {
        tx.send_binary(seed::payload(0, 128 << 10)).await.expect("send");
    }
    tx.close(1000, "").await.expect("close");
    let acks = tokio::time::timeout(LIMIT, reader).await.expect("in time").expect("reader");
    assert_eq!(acks, vec![CHUNK, 40 * (128 << 10) - CHUNK]);
    let outcome = tokio::time::timeout(LIMIT, server).await.expect("in time").expect("task").expect("server");
    assert!(outcome.is_clean(), "{outcome:?}");
}

/// A certificate that expired, or that is for another host: the handshake fails at once
/// with rustls' reason, which names the cause.
#[tokio::test]
async fn a_bad_certificate_is_a_clear_handshake_error() {
    let pki = pki();
    for (kind, cause) in [(LeafKind::Expired, "expired"), (LeafKind::WrongHost, "not valid for name")] {
        let (addr, server) = our_server(server_config(&pki, kind)).await;
        let t0 = Instant::now();
        let result = tokio::time::timeout(LIMIT, connect(&format!("wss://{addr}/"), client_config(&pki))).await;
        let error = match result.expect("no hang") {
            Err(SocketError::Handshake(HandshakeError::Tls(why))) => why,
            other => panic!("{kind:?}: {:?}", other.map(|_| "connected")),
        };
        assert!(error.contains(cause), "{kind:?}: {error}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{kind:?}: {:?}", t0.elapsed());
        // The server learns it from our alert.
        let server = tokio::time::timeout(LIMIT, server).await.expect("in time").expect("task");
        assert!(matches!(server, Err(SocketError::Handshake(HandshakeError::Tls(_)))), "{kind:?}: {server:?}");
    }
}

/// A plain-HTTP (or plain `ws://`) client on the TLS port: the server's handshake fails with
/// a TLS error at once and the connection is dropped; the client sees the end of the stream.
#[tokio::test]
async fn a_plain_client_on_the_tls_port_is_dropped() {
    let pki = pki();
    let (addr, server) = our_server(server_config(&pki, LeafKind::Valid)).await;
    let mut tcp = TcpStream::connect(&addr).await.expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    // An alert or nothing, then the end (a reset counts): no hang either way.
    let _ = tokio::time::timeout(LIMIT, tcp.read_to_end(&mut rest)).await.expect("dropped in time");
    assert!(!rest.starts_with(b"HTTP"), "no plaintext answer on a TLS port: {rest:?}");
    let server = tokio::time::timeout(LIMIT, server).await.expect("in time").expect("task");
    assert!(matches!(&server, Err(SocketError::Handshake(HandshakeError::Tls(_)))), "{server:?}");
    // And our plain client on it: its handshake fails too, quickly.
    let (addr, _server) = our_server(server_config(&pki, LeafKind::Valid)).await;
    let result = tokio::time::timeout(LIMIT, connect(&format!("ws://{addr}/"), SocketConfig::default())).await;
    assert!(result.expect("no hang").is_err());
}

/// A TLS handshake trickled one byte every 50 ms: dropped at the handshake timeout.
#[tokio::test]
async fn a_trickled_tls_handshake_is_dropped_at_the_handshake_timeout() {
    let pki = pki();
    let mut config = server_config(&pki, LeafKind::Valid);
    config.core = config.core.clone().handshake_timeout(Duration::from_millis(500));
    let (addr, server) = our_server(config).await;
    let t0 = Instant::now();
    let mut tcp = TcpStream::connect(&addr).await.expect("connect");
    // A handshake record of 512 bytes, a ClientHello, then its random bytes, one by one:
    // valid so far, and it would take 25 s to finish.
    let hello = [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    let trickle = async {
        for b in hello.iter().chain(std::iter::repeat(&0)).take(512) {
            if tcp.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let server = tokio::select! {
        s = server => s,
        () = trickle => panic!("never dropped"),
    };
    let server = server.expect("task");
    assert!(
        matches!(server, Err(SocketError::Handshake(HandshakeError::TimedOut))),
        "{server:?} after {:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

/// A proxy that flips one bit inside the 6th application record from the server: the client
/// gets every message before the bad record, in order, then an abnormal end (1006) — nothing
/// after it, no hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_record_ends_the_connection_after_everything_before_it() {
    const N: usize = 20;
    const SIZE: usize = 3000;
    // A 3 000-byte binary frame from the server: 4 bytes of header; in a TLS 1.3 record, 5 of
    // header, 1 of content type, 16 of tag.
    const RECORD: usize = SIZE + 4 + 5 + 1 + 16;
    let pki = pki();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = server_config(&pki, LeafKind::Valid);
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut ws = accept(stream, config).await?;
        for i in 0..N {
            ws.send_binary(vec![i as u8; SIZE]).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<_, SocketError>(())
    });
    // The proxy: client <-> proxy <-> server.
    let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let front_port = front.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let (client, _) = front.accept().await.expect("accept");
        let upstream = TcpStream::connect(("127.0.0.1", port)).await.expect("upstream");
        let (mut cr, mut cw) = client.into_split();
        let (mut ur, mut uw) = upstream.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut cr, &mut uw).await;
        });
        let mut records = 0;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if n % RECORD == 0 {
                records += n / RECORD;
                if records >= 6 && records - n / RECORD < 6 {
                    buf[n - RECORD / 2] ^= 0x20;
                }
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut ws = connect(&format!("wss://localhost:{front_port}/"), client_config(&pki)).await.expect("connect");
    let mut got = Vec::new();
    let end = tokio::time::timeout(LIMIT, async {
        loop {
            match ws.recv_message().await {
                Ok(Some(m)) => got.push(m.into_data()),
                other => return other,
            }
        }
    })
    .await
    .expect("no hang");
    assert!(matches!(end, Err(SocketError::Closed(Outcome::Abnormal))), "{end:?}");
    assert!((5..N).contains(&got.len()), "{} messages before the bad record", got.len());
    for (i, m) in got.iter().enumerate() {
        assert!(m.len() == SIZE && m.iter().all(|b| *b == i as u8), "message {i} intact and in order");
    }
    let _ = tokio::time::timeout(LIMIT, server).await.expect("server ends");
}

/// A TLS peer that answers our Close and then neither sends close_notify nor closes TCP:
/// `close_and_wait` returns clean at the EOF wait, not later.
#[tokio::test]
async fn a_peer_that_never_ends_its_tls_does_not_hang_our_close() {
    let pki = pki();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = TlsAcceptor::from(pki.server_config(LeafKind::Valid).expect("server config"));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let tls = acceptor.accept(stream).await.expect("TLS");
        let mut ws = tokio_tungstenite::accept_async(tls).await.expect("handshake");
        // Reading our Close makes tungstenite queue its reply and write it on the next call.
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
        let _ = ws.flush().await;
        // Neither close_notify nor FIN until the test is over.
        let _ = done_rx.await;
        drop(ws);
    });
    let mut config = client_config(&pki);
    config.core = config.core.clone().eof_timeout(Duration::from_millis(300));
    let mut ws = connect(&format!("wss://localhost:{port}/"), config).await.expect("connect");
    let t0 = Instant::now();
    let outcome = tokio::time::timeout(LIMIT, ws.close_and_wait(1000, "")).await.expect("no hang").expect("close");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "bounded by the EOF wait: {:?}", t0.elapsed());
    let _ = done_tx.send(());
}

/// The default trust: `wss://` with no configuration verifies against Mozilla's roots, so
/// our test CA is refused ("UnknownIssuer") — the roots are in use, not "accept anything".
#[tokio::test]
async fn the_default_roots_do_not_trust_a_private_ca() {
    let pki = pki();
    let (addr, _server) = our_server(server_config(&pki, LeafKind::Valid)).await;
    let result = tokio::time::timeout(LIMIT, connect(&format!("wss://{addr}/"), SocketConfig::default())).await;
    match result.expect("no hang") {
        Err(SocketError::Handshake(HandshakeError::Tls(why))) => assert!(why.contains("UnknownIssuer"), "{why}"),
        other => panic!("{:?}", other.map(|_| "connected")),
    }
}
