//! The prompt close rule (`wsduplex_core::driver::Driver::receiving_alone`), in every
//! transport, over loopback, with the default configuration (`CloseReply::Deadline(5 s)`):
//!
//! - the obvious echo server — a loop on `recv_message` that echoes and never looks at
//!   `CloseReceived` — answers the client's Close at once, single owner and split (its
//!   `Sender` dropped when it has nothing more to send; the async ones also through
//!   `Stream::forward` into the `Sink`);
//! - the seed server still sends its final tally from `CloseReceived`, after the client's
//!   Close, and then closes.
//!
//! Each client's `close_and_wait` is timed: well under the 5 s deadline (the bound here is
//! 1 s, for a loaded machine; a few milliseconds are typical, printed with `--nocapture`).

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, future};
use wsduplex_demo::{on_std, seed};

const PROMPT: Duration = Duration::from_secs(1);

/// The client: a few messages, each echoed, then `close_and_wait`, timed.
fn std_client(url: &str) -> Duration {
    let mut ws = wsduplex_std::connect(url, wsduplex_std::SocketConfig::default()).expect("connect");
    for i in 0..3 {
        ws.send_text(format!("hello {i}")).expect("send");
        let echo = ws.recv_message().expect("recv").expect("an echo");
        assert_eq!(echo, wsduplex_std::Message::text(format!("hello {i}")));
    }
    let t0 = Instant::now();
    let outcome = ws.close_and_wait(wsduplex_std::CloseCode::GOING_AWAY, "").expect("close");
    let took = t0.elapsed();
    assert!(outcome.is_clean(), "{outcome:?}");
    took
}

fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("addr"));
    (listener, url)
}

fn check(what: &str, took: Duration) {
    eprintln!("{what}: the client's close completed in {took:?}");
    assert!(took < PROMPT, "{what}: {took:?} (the reply deadline is 5 s)");
}

#[test]
fn blocking_echo_servers_close_at_once() {
    // Single owner.
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut ws = wsduplex_std::accept(stream, wsduplex_std::SocketConfig::default()).expect("accept");
        while let Some(m) = ws.recv_message().expect("recv") {
            ws.send(m).expect("echo");
        }
        ws.outcome()
    });
    check("blocking, single owner", std_client(&url));
    assert!(server.join().expect("server").is_some_and(|o| o.is_clean()));
    // Split: a reader thread hands messages to a sender thread, which drops its Sender when
    // the channel ends — here, when the reader has seen the client's Close.
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let (tx, rx) = wsduplex_std::accept(stream, wsduplex_std::SocketConfig::default()).expect("accept").split();
        let (send, receive) = std::sync::mpsc::channel();
        let echo = thread::spawn(move || {
            for m in receive {
                tx.send(m).expect("echo");
            }
        });
        while let Some(event) = rx.recv().expect("recv") {
            match event {
                wsduplex_std::Event::Message(m) => send.send(m).expect("to the sender"),
                wsduplex_std::Event::CloseReceived { .. } => break,
                _ => {}
            }
        }
        drop(send);
        echo.join().expect("sender thread");
        while rx.recv().expect("recv").is_some() {}
        rx.outcome()
    });
    check("blocking, split", std_client(&url));
    assert!(server.join().expect("server").is_some_and(|o| o.is_clean()));
}

#[test]
fn smol_echo_servers_close_at_once() {
    for split in [false, true] {
        let (listener, url) = listen();
        let server = thread::spawn(move || {
            smol::block_on(async move {
                let listener = async_net::TcpListener::try_from(listener).expect("listener");
                let (stream, _) = listener.accept().await.expect("accept");
                let mut ws = wsduplex_smol::accept(stream, Default::default()).await.expect("accept");
                if split {
                    // tokio-tungstenite's example echo, over our Stream and Sink.
                    let (write, read) = ws.split();
                    let echo = read.try_filter(|m| future::ready(m.is_text() || m.is_binary())).forward(write);
                    echo.await.expect("forward");
                    None
                } else {
                    while let Some(m) = ws.recv_message().await.expect("recv") {
                        ws.send(m).await.expect("echo");
                    }
                    ws.outcome()
                }
            })
        });
        check(if split { "smol, split (forward)" } else { "smol, single owner" }, std_client(&url));
        let outcome = server.join().expect("server");
        assert!(split || outcome.is_some_and(|o| o.is_clean()));
    }
}

#[test]
fn tokio_echo_servers_close_at_once() {
    for split in [false, true] {
        let (listener, url) = listen();
        let server = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                listener.set_nonblocking(true).expect("nonblocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let (stream, _) = listener.accept().await.expect("accept");
                let mut ws = wsduplex_tokio::accept(stream, Default::default()).await.expect("accept");
                if split {
                    // The Stream of messages ends at the peer's Close; the Sender, dropped then,
                    // has nothing more to send: the Close is answered at once.
                    let (tx, mut rx) = ws.split();
                    while let Some(m) = rx.next().await {
                        tx.send(m.expect("recv")).await.expect("echo");
                    }
                    drop(tx);
                    while rx.recv().await.expect("recv").is_some() {}
                    rx.outcome()
                } else {
                    while let Some(m) = ws.recv_message().await.expect("recv") {
                        ws.send(m).await.expect("echo");
                    }
                    ws.outcome()
                }
            })
        });
        check(if split { "tokio, split (Sender dropped)" } else { "tokio, single owner" }, std_client(&url));
        assert!(server.join().expect("server").is_some_and(|o| o.is_clean()));
    }
}

/// The seed server, which does want to speak after the client's Close, still does: the tally
/// arrives after our Close, then the server's Close, promptly.
#[test]
fn the_seed_server_still_sends_its_final_tally() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let ws = wsduplex_std::accept(stream, seed::server_socket_config(1 << 20)).expect("accept");
        on_std::serve(ws, 1 << 20, None)
    });
    let (tx, rx) = wsduplex_std::connect(&url, Default::default()).expect("connect").split();
    for _ in 0..3 {
        tx.send_binary(vec![0u8; 1 << 19]).expect("send");
    }
    let t0 = Instant::now();
    tx.close(1000, "").expect("close-output");
    let mut acks = Vec::new();
    while let Some(m) = rx.recv_message().expect("recv") {
        let wsduplex_std::Message::Text(t) = m else { panic!("an ack is text") };
        acks.push(seed::parse_ack(t.as_str()).expect("ack"));
    }
    let took = t0.elapsed();
    assert_eq!(acks, vec![1 << 20, 1 << 19], "one ack, then the final tally after our Close");
    assert!(rx.outcome().is_some_and(|o| o.is_clean()));
    check("the seed server", took);
    assert!(server.join().expect("server").expect("served").is_clean());
}
