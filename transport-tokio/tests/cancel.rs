//! Calls given up (their futures dropped) while other tasks wait on the same socket: whatever
//! the dropped call held is handed on. Over a real socket against tungstenite; the runtime is
//! current-thread, so what runs when is decided by the test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tungstenite::Message as TMessage;
use wsduplex_tokio::{Message, connect};

/// tungstenite's server on a thread: on `go`, sends "hello", then reads until the end.
fn server() -> (SocketAddr, mpsc::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (go, go_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(s).expect("handshake");
        if go_rx.recv().is_ok() {
            ws.send(TMessage::text("hello")).expect("send");
        }
        while ws.read().is_ok() {}
    });
    (addr, go)
}

/// A `recv` waits in `drive` holding the read side; a second `recv` on the same socket finds
/// it taken and waits for a change. The first is given up (a timeout drops its future): its
/// release of the read side must wake the second, which has no timer of its own to wake it
/// and would otherwise never read the message that then arrives.
#[tokio::test(flavor = "current_thread")]
async fn a_receive_given_up_hands_the_read_side_to_the_receive_waiting_beside_it() {
    let (addr, go) = server();
    // Two receives at once: a `Receiver` shared by two tasks (a `WebSocket` has one owner).
    let (_tx, rx) = connect(&format!("ws://{addr}/"), Default::default()).await.expect("connect").split();
    let ws = Arc::new(rx);
    let first = {
        let ws = ws.clone();
        tokio::spawn(async move { tokio::time::timeout(Duration::from_millis(100), ws.recv_message()).await.is_err() })
    };
    tokio::task::yield_now().await; // the first now holds the read side
    let second = {
        let ws = ws.clone();
        tokio::spawn(async move { ws.recv_message().await })
    };
    tokio::task::yield_now().await; // the second waits for it
    assert!(first.await.expect("first task"), "the first receive was given up");
    go.send(()).expect("go");
    let got = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the second receive never took the read side")
        .expect("second task");
    assert!(matches!(got, Ok(Some(Message::Text(ref t))) if t.as_str() == "hello"), "{got:?}");
}
