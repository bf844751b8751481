//! `wss://` with the blocking transport against an independent TLS peer: tungstenite over
//! rustls' `StreamOwned` (the way a blocking tungstenite user adds TLS), as client and as
//! server, with our split halves on two threads. Certificates are made here
//! (`wsduplex_demo::pki`). (Bad TLS input is tested in `transport-tokio/tests/tls.rs` and
//! `demo/tests/tls_sans_io.rs`: the TLS layer is the driver's, the same in every transport.)
#![cfg(feature = "rustls")]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use tungstenite::Message as TMessage;
use wsduplex_demo::pki::{LeafKind, Pki};
use wsduplex_demo::{on_std, seed};
use wsduplex_std::rustls::pki_types::ServerName;
use wsduplex_std::rustls::{ClientConnection, ServerConnection, StreamOwned};
use wsduplex_std::{Message, SocketConfig, accept, connect};

const CHUNK: u64 = 4 << 20;

/// tungstenite's blocking client over `StreamOwned` runs the seed against our wss:// server
/// (40 x 128 KiB, its close, our final tally after it); our server's session ends with
/// close_notify, which rustls reports as a clean end (`Ok(0)`), not `UnexpectedEof`.
#[test]
fn tungstenite_over_rustls_runs_the_seed_against_our_server() {
    let pki = Pki::new().expect("CA");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut config = seed::server_socket_config(CHUNK);
    config.tls_server = Some(pki.server_config(LeafKind::Valid).expect("server config"));
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        on_std::serve(accept(stream, config)?, CHUNK, None)
    });
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let name = ServerName::try_from("localhost").expect("name");
    let session = ClientConnection::new(pki.client_config().expect("client config"), name).expect("session");
    let tls = StreamOwned::new(session, tcp);
    let (mut ws, _) = tungstenite::client(format!("wss://localhost:{port}/"), tls).expect("handshake");
    for _ in 0..40 {
        ws.send(TMessage::Binary(seed::payload(0, 128 << 10))).expect("send");
    }
    ws.close(None).expect("close-output from the tungstenite side");
    let mut acks = Vec::new();
    loop {
        match ws.read() {
            Ok(TMessage::Text(t)) => acks.push(seed::parse_ack(&t).expect("ack")),
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(acks, vec![CHUNK, 40 * (128 << 10) - CHUNK], "the final tally arrives after tungstenite's Close");
    let mut rest = [0u8; 16];
    assert_eq!(ws.get_mut().read(&mut rest).map_err(|e| e.kind()), Ok(0), "our close_notify ended the session");
    let outcome = server.join().expect("server thread").expect("server");
    assert!(outcome.is_clean(), "{outcome:?}");
}

/// Our blocking client, split (a sender thread, a reader thread), over wss:// against
/// tungstenite's blocking server over `StreamOwned`, which echoes: every message back in order,
/// then a clean close.
#[test]
fn our_split_client_over_tls_against_tungstenite() {
    const N: usize = 200;
    let pki = Pki::new().expect("CA");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server_config = pki.server_config(LeafKind::Valid).expect("server config");
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let tls = StreamOwned::new(ServerConnection::new(server_config).expect("session"), tcp);
        let mut ws = tungstenite::accept(tls).expect("handshake");
        let mut echoed = 0;
        loop {
            match ws.read() {
                Ok(m @ (TMessage::Binary(_) | TMessage::Text(_))) => {
                    ws.send(m).expect("echo");
                    echoed += 1;
                }
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return echoed,
                Err(e) => panic!("tungstenite server: {e}"),
            }
        }
    });
    let config = SocketConfig::default().tls_client(Some(pki.client_config().expect("client config")));
    let (tx, rx) = connect(&format!("wss://localhost:{port}/"), config).expect("connect").split();
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(m) = rx.recv_message().expect("recv") {
            got.push(m);
        }
        (got, rx.outcome())
    });
    for i in 0..N {
        tx.send_binary(vec![i as u8; 1000 + i]).expect("send");
    }
    tx.close(1000, "").expect("close-output");
    let (got, outcome) = reader.join().expect("reader thread");
    assert_eq!(got, (0..N).map(|i| Message::binary(vec![i as u8; 1000 + i])).collect::<Vec<_>>());
    assert!(outcome.is_some_and(|o| o.is_clean()));
    assert_eq!(server.join().expect("server thread"), N);
}
