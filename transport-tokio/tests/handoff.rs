//! The handoff from an HTTP server: the router of `examples/axum.rs` (axum on hyper) serves an
//! ordinary route and the seed endpoint; the seed client streams through it and gets every
//! acknowledgement and the final tally; a bad upgrade gets its status from our checks. And
//! `accept_parsed`: a request an HTTP parser read, with the client's first frame already read
//! past the head, is answered by us and that frame is not lost.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::on_tokio;
use wsduplex_demo::output::Output;
use wsduplex_tokio::{Accept, Event, Message, SocketConfig, accept_parsed, http};

#[allow(dead_code)] // its `main` is the example's
#[path = "../examples/axum.rs"]
mod example;

const LIMIT: Duration = Duration::from_secs(20);

async fn serve_the_router() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, example::app()).await });
    addr
}

/// One HTTP/1.1 exchange on a fresh connection: the response's head.
async fn http_head(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("request");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).await.expect("read") == 1 {
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_client_through_an_axum_router_beside_an_ordinary_route() {
    let addr = serve_the_router().await;
    let health = http_head(&addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    let flags = ClientFlags { messages: 64, ..ClientFlags::default() };
    let (url, quiet) = (format!("ws://{addr}/"), Output::quiet());
    let spawn = |f| {
        let task = tokio::spawn(f);
        async move { task.await.expect("reader task") }
    };
    let run = on_tokio::run_client(spawn, &url, &flags, &quiet, None);
    let summary = tokio::time::timeout(LIMIT, run).await.expect("in time").expect("client");
    // 64 x 128 KiB = 8 MiB: two acks at 4 MiB, then the final tally (0) after our Close.
    assert_eq!((summary.bytes_acked, summary.acks, summary.close.as_str()), (64 << 17, 3, "clean"), "{summary:?}");

    let (url, echo) = (format!("ws://{addr}/echo"), ClientFlags { messages: 100, echo: true, ..flags });
    let run = on_tokio::run_client(spawn, &url, &echo, &quiet, None);
    let summary = tokio::time::timeout(LIMIT, run).await.expect("in time").expect("echo client");
    assert_eq!((summary.bytes_acked, summary.close.as_str()), (100 << 17, "clean"), "{summary:?}");

    // Our checks answer a bad upgrade through the router: no key is 400, version 8 is 426.
    let bad = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Version: 13\r\n\r\n";
    assert!(http_head(&addr, bad).await.starts_with("HTTP/1.1 400"));
    let old = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let head = http_head(&addr, old).await;
    assert!(
        head.starts_with("HTTP/1.1 426") && head.to_ascii_lowercase().contains("sec-websocket-version: 13"),
        "{head}"
    );
}

/// A server that parsed the head itself (here with httparse, as any HTTP stack would) and
/// read the client's first frame along with it: `accept_parsed` answers the request and the
/// frame is the first message.
#[tokio::test]
async fn accept_parsed_answers_and_keeps_the_bytes_read_past_the_head() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let mut bytes = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            .to_vec();
        bytes.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']); // "hi", zero mask key
        s.write_all(&bytes).await.expect("request and first frame");
        let mut response = vec![0u8; 256];
        let n = s.read(&mut response).await.expect("response");
        String::from_utf8_lossy(&response[..n]).into_owned()
    });
    let (mut stream, _) = listener.accept().await.expect("accept");
    let mut buf = vec![0u8; 1024];
    let mut n = 0;
    let (head_len, request) = loop {
        n += stream.read(&mut buf[n..]).await.expect("read");
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(len) = parsed.parse(&buf[..n]).expect("a request") {
            let mut req =
                http::Request::builder().method(parsed.method.unwrap_or("GET")).uri(parsed.path.unwrap_or("/"));
            for h in parsed.headers.iter() {
                req = req.header(h.name, h.value);
            }
            break (len, req.body(()).expect("http request"));
        }
    };
    let request = wsduplex_tokio::Request::try_from(&request).expect("a valid upgrade");
    let mut ws = accept_parsed(stream, request, &buf[head_len..n], SocketConfig::default(), |r| {
        assert_eq!(r.path, "/chat");
        Ok(Accept::default())
    })
    .await
    .expect("accepted");
    let first = tokio::time::timeout(LIMIT, ws.recv()).await.expect("in time").expect("recv");
    assert_eq!(first, Some(Event::Message(Message::text("hi"))));
    let response = client.await.expect("client");
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
}
