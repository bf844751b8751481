//! Arbitrary request and response bytes to both handshake sides, through the parsers and
//! through connections. No panic; a server always answers a bad request with a 4xx status.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use wsduplex_core::*;

fuzz_target!(|data: &[u8]| {
    let _ = handshake::parse_request(data, 4096);
    let offered = ["chat".to_owned()];
    let _ = handshake::parse_response(data, "dGhlIHNhbXBsZSBub25jZQ==", &offered, None, 4096);
    // The permessage-deflate answer parser, too (RFC 7692 §7.1).
    let deflate = wsduplex_core::DeflateConfig::default().server_max_window_bits(10);
    let _ = handshake::parse_response(data, "dGhlIHNhbXBsZSBub25jZQ==", &offered, Some(&deflate), 4096);
    // ... and the server's choice among offers, on the input as one header value.
    let _ = wsduplex_core::deflate::negotiate(&[String::from_utf8_lossy(data).into_owned()], &deflate);

    let now = Instant::now();
    let config = Config::default().max_handshake_size(4096).deflate(DeflateConfig::default());
    let mut server = Connection::server(config.clone(), now);
    server.handle_input(now, data);
    let mut request = false;
    while let Some(e) = server.poll_event() {
        if matches!(e, Event::Request(_)) {
            request = true;
        }
    }
    if request {
        server.accept(now, Accept::default()).expect("accept a parsed request");
        assert_ne!(server.state(), State::Connecting, "frames after the request may already have moved it on");
    } else if let Some(Outcome::Failed(PeerError::Handshake(e))) = server.outcome().cloned() {
        let Some(Transmit::Bytes(resp)) = server.poll_transmit() else { panic!("no answer to a bad request") };
        let status = e.status();
        assert!((400..500).contains(&status));
        assert!(resp.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
    }

    let req = ClientRequest::new("h", "/").subprotocol("chat");
    let mut client = Connection::client(config, req, SeededKeys::new(2), now).expect("valid request");
    while client.poll_transmit().is_some() {}
    client.handle_input(now, data);
    while client.poll_event().is_some() {}
    if let Some(Outcome::Failed(e)) = client.outcome() {
        assert!(matches!(e, PeerError::Handshake(_)) || matches!(e.close_code(), 1002 | 1007 | 1009));
    }
});
