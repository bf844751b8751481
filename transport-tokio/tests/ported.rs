//! Code written for tokio-tungstenite's `WebSocketStream` with `StreamExt` / `SinkExt`, ported
//! to wsduplex-tokio: the echo server of tokio-tungstenite's `examples/server.rs` and a client
//! in the style of its `examples/client.rs`. The bodies are the same text; what changes is the
//! imports and the handshake call (`accept_async(stream)` becomes `accept(stream, config)`).
//! Both servers then serve the same tokio-tungstenite client. One difference shows in client
//! code: `split()` is inherent on our `WebSocket` (it gives the `Sender` and `Receiver`, which
//! are the `Sink` and the `Stream`), and `Sender::close(code, reason)` is inherent too, so a
//! sink's `close()` is called as `SinkExt::close(&mut write)`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(10);

/// tokio-tungstenite's echo server, as its example writes it.
mod theirs {
    use super::*;
    use tokio_tungstenite::accept_async;

    pub(super) async fn accept_connection(stream: TcpStream) {
        let ws_stream = accept_async(stream).await.expect("Error during the websocket handshake occurred");
        let (write, read) = ws_stream.split();
        // We should not forward messages other than text or binary.
        read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
            .forward(write)
            .await
            .expect("Failed to forward messages")
    }
}

/// The same server on wsduplex-tokio.
mod ours {
    use super::*;
    use wsduplex_tokio::{SocketConfig, accept};

    pub(super) async fn accept_connection(stream: TcpStream) {
        let ws_stream =
            accept(stream, SocketConfig::default()).await.expect("Error during the websocket handshake occurred");
        let (write, read) = ws_stream.split();
        // We should not forward messages other than text or binary.
        read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
            .forward(write)
            .await
            .expect("Failed to forward messages")
    }
}

/// A client in the style of tokio-tungstenite's example, on either library's types.
macro_rules! client {
    ($ws_stream:expr, $message:path) => {{
        let (mut write, mut read) = $ws_stream.split();
        let mut echoed = Vec::new();
        for i in 0..100 {
            write.send(<$message>::text(format!("message {i}"))).await.expect("send");
        }
        write.send(<$message>::binary(vec![1u8, 2, 3])).await.expect("send");
        for _ in 0..101 {
            let msg = read.next().await.expect("an echo").expect("a message");
            echoed.push(msg.into_data().to_vec());
        }
        // `SinkExt::close` by its full name: our `Sender` has an inherent `close(code, reason)`
        // (close-output), which a method call would find first.
        SinkExt::close(&mut write).await.expect("close");
        while let Some(msg) = read.next().await {
            let _ = msg;
        }
        echoed
    }};
}

fn expected() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..100).map(|i| format!("message {i}").into_bytes()).collect();
    v.push(vec![1, 2, 3]);
    v
}

/// Serves one connection with `serve`; a tokio-tungstenite client exchanges 101 messages and
/// closes. Returns how long the close took, measured from the client's Close to the end of
/// the server's stream.
async fn run<F: Future<Output = ()> + Send + 'static>(serve: fn(TcpStream) -> F) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        serve(stream).await;
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream).await.expect("handshake");
    let (mut write, mut read) = ws.split();
    for i in 0..100 {
        write.send(tokio_tungstenite::tungstenite::Message::text(format!("message {i}"))).await.expect("send");
    }
    write.send(tokio_tungstenite::tungstenite::Message::binary(vec![1u8, 2, 3])).await.expect("send");
    let mut echoed = Vec::new();
    for _ in 0..101 {
        let msg = tokio::time::timeout(LIMIT, read.next()).await.expect("in time").expect("an echo").expect("ok");
        echoed.push(msg.into_data().to_vec());
    }
    assert_eq!(echoed, expected());
    let t0 = Instant::now();
    write.close().await.expect("close");
    while let Some(msg) = tokio::time::timeout(LIMIT, read.next()).await.expect("in time") {
        assert!(msg.is_ok_and(|m| m.is_close()));
    }
    tokio::time::timeout(LIMIT, server).await.expect("in time").expect("server");
    t0.elapsed()
}

/// The ported server behaves as the original for the same client, and its close is as prompt:
/// `forward` ends with the sink's close, which replies to the client's Close at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ported_echo_server_serves_a_tokio_tungstenite_client_as_the_original_does() {
    let theirs = run(theirs::accept_connection).await;
    let ours = run(ours::accept_connection).await;
    assert!(ours < Duration::from_millis(500), "our close took {ours:?} (theirs {theirs:?})");
}

/// The client side ported too: the same client text against tokio-tungstenite's server and
/// (as wsduplex-tokio's `WebSocket`) against ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ported_client_gets_the_same_echoes() {
    for ported in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            theirs::accept_connection(stream).await;
        });
        let echoed = if ported {
            let ws_stream =
                wsduplex_tokio::connect(&format!("ws://{addr}/"), Default::default()).await.expect("connect");
            tokio::time::timeout(LIMIT, async { client!(ws_stream, wsduplex_tokio::Message) }).await.expect("in time")
        } else {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let (ws_stream, _) =
                tokio_tungstenite::client_async(format!("ws://{addr}/"), stream).await.expect("handshake");
            tokio::time::timeout(LIMIT, async { client!(ws_stream, tokio_tungstenite::tungstenite::Message) })
                .await
                .expect("in time")
        };
        assert_eq!(echoed, expected(), "ported: {ported}");
        tokio::time::timeout(LIMIT, server).await.expect("in time").expect("server");
    }
}
