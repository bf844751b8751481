//! TLS in the driver, sans-IO: two drivers wired in memory, no socket, no clock (time is
//! passed in). The TLS handshake and the opening handshake, messages both ways, the close
//! handshake with close_notify before each shutdown, and a corrupted record: what came before
//! it is delivered, then the connection ends abnormally (1006) and our alert goes out. (Here
//! and not in the core's tests: the certificates come from `wsduplex_demo::pki`, and the core's
//! own tests also run under Miri, which cannot run the TLS provider's C code.)

use std::io::IoSlice;
use std::time::{Duration, Instant};

use wsduplex_core::driver::{Driver, Outbox, SocketConfig, WriteStep, goal};
use wsduplex_core::{
    Accept, ClientRequest, CloseFrame, Config, Connection, Event, Message, Outcome, SeededKeys, State,
};
use wsduplex_demo::pki::{LeafKind, Pki};

struct End {
    driver: Driver,
    outbox: Outbox,
    /// Our write side was shut down (after a close_notify, if TLS).
    shut: bool,
}

impl End {
    fn new(driver: Driver) -> Self {
        End { driver, outbox: Outbox::default(), shut: false }
    }

    /// Everything this end writes now, as the peer would read it; `None` once it shut down.
    fn written(&mut self) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        loop {
            let driver = &mut self.driver;
            match self.outbox.next(|o| driver.refill(o)) {
                WriteStep::Write => {
                    let mut slices = [IoSlice::new(&[]); Outbox::MAX_SLICES];
                    let n = self.outbox.slices(&mut slices);
                    let len: usize = slices[..n].iter().map(|s| s.len()).sum();
                    for s in &slices[..n] {
                        bytes.extend_from_slice(s);
                    }
                    self.outbox.advance(len);
                }
                WriteStep::Shutdown(_) => self.shut = true,
                WriteStep::Idle => return (!bytes.is_empty() || !self.shut).then_some(bytes),
            }
        }
    }
}

fn configs() -> (SocketConfig, SocketConfig) {
    let pki = Pki::new().expect("CA");
    let server = SocketConfig::default().tls_server(Some(pki.server_config(LeafKind::Valid).expect("server config")));
    let client = SocketConfig::default().tls_client(Some(pki.client_config().expect("client config")));
    (client, server)
}

/// Moves bytes both ways until neither end writes any more; returns the bytes that went
/// from the server to the client, for the test to look at.
fn exchange(client: &mut End, server: &mut End, now: Instant) -> usize {
    let mut to_client = 0;
    loop {
        let (a, b) = (client.written(), server.written());
        let moved = a.as_ref().is_some_and(|v| !v.is_empty()) || b.as_ref().is_some_and(|v| !v.is_empty());
        match a {
            Some(bytes) if !bytes.is_empty() => server.driver.on_read(now, Ok(&bytes)),
            Some(_) => {}
            None => server.driver.on_read(now, Ok(&[])),
        }
        match b {
            Some(bytes) if !bytes.is_empty() => {
                to_client += bytes.len();
                client.driver.on_read(now, Ok(&bytes));
            }
            Some(_) => {}
            None => client.driver.on_read(now, Ok(&[])),
        }
        if !moved {
            return to_client;
        }
    }
}

fn opened(t0: Instant) -> (End, End) {
    let (client_config, server_config) = configs();
    let request = ClientRequest::new("localhost", "/");
    let conn = Connection::client(Config::default(), request, SeededKeys::new(1), t0).expect("client");
    let mut client = End::new(Driver::client(conn, Some("localhost"), &client_config).expect("TLS client"));
    let conn = Connection::server(Config::default(), t0);
    let mut server = End::new(Driver::server(conn, &server_config).expect("TLS server"));
    assert!(client.driver.is_secure() && server.driver.is_secure());
    exchange(&mut client, &mut server, t0);
    let request = goal::request(server.driver.connection_mut()).expect("the request arrived over TLS").expect("valid");
    assert_eq!(request.path, "/");
    server.driver.answer(t0, Ok(Accept::default())).expect("accept");
    exchange(&mut client, &mut server, t0);
    goal::connected(client.driver.connection_mut()).expect("the 101 arrived over TLS").expect("accepted");
    (client, server)
}

fn messages(end: &mut End) -> Vec<Message> {
    std::iter::from_fn(|| end.driver.connection_mut().poll_event())
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn messages_and_the_close_handshake_over_tls() {
    let t0 = Instant::now();
    let (mut client, mut server) = opened(t0);
    for i in 0..10 {
        client.driver.connection_mut().send_text(format!("ping {i}")).expect("send");
        server.driver.connection_mut().send_binary(vec![i as u8; 100_000]).expect("send");
    }
    exchange(&mut client, &mut server, t0);
    let got = messages(&mut server);
    assert_eq!(got, (0..10).map(|i| Message::text(format!("ping {i}"))).collect::<Vec<_>>());
    let got = messages(&mut client);
    assert_eq!(got, (0..10u8).map(|i| Message::binary(vec![i; 100_000])).collect::<Vec<_>>());
    // §7: the client closes, the server answers and closes TCP first (after its
    // close_notify), the client's input ends at that close_notify, both clean.
    let t1 = t0 + Duration::from_millis(1);
    client.driver.connection_mut().close(t1, CloseFrame::new(1000, "")).expect("close");
    exchange(&mut client, &mut server, t1);
    assert_eq!(server.driver.connection().state(), State::CloseReceived);
    server.driver.connection_mut().close(t1, CloseFrame::new(1000, "")).expect("the server's reply");
    let last = server.written().expect("the server's Close, then its close_notify");
    assert!(server.shut, "then the server shut its write side down");
    client.driver.on_read(t1, Ok(&last));
    assert!(!client.driver.may_read(), "the client's input ended at the close_notify, before any FIN");
    exchange(&mut client, &mut server, t1);
    assert!(server.shut && client.shut, "both write sides shut down");
    for end in [&client, &server] {
        let outcome = end.driver.connection().outcome().cloned();
        assert!(outcome.as_ref().is_some_and(Outcome::is_clean), "{outcome:?}");
        assert!(!end.driver.may_read(), "the input ended at the peer's close_notify or FIN");
    }
}

#[test]
fn a_corrupted_record_ends_the_input_after_what_came_before() {
    let t0 = Instant::now();
    let (mut client, mut server) = opened(t0);
    server.driver.connection_mut().send_text("intact").expect("send");
    exchange(&mut client, &mut server, t0);
    server.driver.connection_mut().send_text("tampered").expect("send");
    let mut bytes = server.written().expect("a record");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    client.driver.on_read(t0, Ok(&bytes));
    assert_eq!(messages(&mut client), vec![Message::text("intact")]);
    assert_eq!(client.driver.connection().outcome(), Some(&Outcome::Abnormal));
    assert!(!client.driver.may_read(), "nothing more is read after a TLS failure");
    // Our alert (bad_record_mac) goes out before the disconnect.
    let alert = client.written().unwrap_or_default();
    assert!(!alert.is_empty() && client.shut, "an alert, then the disconnect: {alert:?}");
}

#[test]
fn a_certificate_for_another_host_fails_the_handshake_with_the_reason() {
    let t0 = Instant::now();
    let (client_config, server_config) = configs();
    let request = ClientRequest::new("elsewhere", "/");
    let conn = Connection::client(Config::default(), request, SeededKeys::new(1), t0).expect("client");
    let mut client = End::new(Driver::client(conn, Some("elsewhere.example"), &client_config).expect("TLS client"));
    let conn = Connection::server(Config::default(), t0);
    let mut server = End::new(Driver::server(conn, &server_config).expect("TLS server"));
    exchange(&mut client, &mut server, t0);
    let error = goal::connected(client.driver.connection_mut()).expect("decided").expect_err("refused");
    assert!(error.to_string().contains("not valid for name"), "{error}");
    let error = goal::request(server.driver.connection_mut()).expect("decided").expect_err("refused");
    assert!(error.to_string().contains("TLS"), "the server learns it from our alert: {error}");
}
