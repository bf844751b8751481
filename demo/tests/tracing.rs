//! The `tracing` feature as a production user turns it on: a server binary started with
//! `RUST_LOG=wsduplex=debug` says on stderr, for each connection, that it opened, the
//! Close it received and sent with their codes, how it ended — and, for a peer that breaks the
//! protocol, a warning with the peer's address, the error and the close code we answered with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_server_logs_each_connections_life_and_the_peer_that_broke_the_protocol() {
    for bin in [env!("CARGO_BIN_EXE_blocking-server"), env!("CARGO_BIN_EXE_tokio-server")] {
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "wsduplex=debug")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while !line.contains("listening on") {
            line.clear();
            stderr.read_line(&mut line).expect("listening line");
        }
        let addr = line.split("ws://").nth(1).and_then(|s| s.split('/').next()).expect("address").to_owned();

        // A clean client.
        let mut ws = wsduplex_std::connect(&format!("ws://{addr}/echo"), Default::default()).expect("connect");
        ws.send_text("hi").expect("send");
        assert!(ws.recv_message().expect("echo").is_some());
        assert!(ws.close_and_wait(1000, "bye").expect("close").is_clean());

        // A client that sends an unmasked frame (RFC 6455 §5.1: the server fails it with 1002).
        let mut raw = TcpStream::connect(&addr).expect("connect");
        let local = raw.local_addr().expect("local").to_string();
        raw.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("request");
        raw.write_all(&[0x82, 0x01, 0x00]).expect("an unmasked frame");
        raw.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut answer = Vec::new();
        let _ = raw.read_to_end(&mut answer);
        std::thread::sleep(Duration::from_millis(200));
        let _ = child.kill();
        let _ = child.wait();
        let mut log = String::new();
        let _ = stderr.read_to_string(&mut log);
        for expected in ["websocket open", "close received", "code=1000", "close sent", "closed"] {
            assert!(log.contains(expected), "{bin}: no {expected:?} in\n{log}");
        }
        let warning = log.lines().find(|l| l.contains("peer broke the protocol")).unwrap_or_else(|| panic!("{log}"));
        assert!(warning.contains("WARN") && warning.contains(&local), "{bin}: {warning}");
        assert!(warning.contains("close_code=1002") && warning.contains("not masked"), "{bin}: {warning}");
    }
}
