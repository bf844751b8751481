//! The small-message echo end to end, as a user sees it: both ends from one library, each
//! written the way its docs show (issue 17, item 1). The client is the seed client's `--echo`
//! shape: one thread (or task) sends [`MESSAGES`] × [`SIZE`] B, pipelined, while a second
//! one reads and counts the echoes; then it closes and reads until the server's Close. The
//! server is the obvious echo loop: receive a message, send it back.
//!
//! - tungstenite (blocking): `read` then `send` per message on the server, as its README's
//!   server does. Its socket cannot be read and written from two threads at once, so the
//!   client's reading thread has a second `WebSocket` over a clone of the TCP stream
//!   (`WebSocket::from_raw_socket`), the way full duplex is done with it.
//! - wsduplex-std and wsduplex-smol, three ways: the client `send`s each message and the
//!   server answers with `feed` (written when `recv` has handed out every event received), as
//!   our docs recommend for a server; `-send`: `send` on both ends, the code of someone who has
//!   not read about `feed`; `-feed`: `feed` on both ends, the client with a `flush` per
//!   [`FEED_BATCH`] (the batching a client can ask for).
//!
//! - fastwebsockets 0.10 (tokio, multi-threaded runtime): its `echo_server` example on the
//!   server (`FragmentCollector`, `read_frame` then `write_frame`, the handler
//!   `unconstrained`), its split halves (`unstable-split`) on the client, a `write_frame` per
//!   message. It leaves the HTTP upgrade to hyper; here a few lines of our own do it, which
//!   costs nothing per message.
//!
//! Every run counts the echoes and checks their size; the close handshake must end cleanly.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use bytes::Bytes;

use crate::{Failure, fail, runtime};

/// Messages per run.
pub const MESSAGES: usize = 100_000;
/// Payload bytes per message.
pub const SIZE: usize = 64;
/// Messages per `flush` for the clients that `feed`.
pub const FEED_BATCH: usize = 100;

/// How each end of a wsduplex pair sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// The client `send`s, the server `feed`s its replies (our docs' echo server).
    Documented,
    /// `send` on both ends.
    Send,
    /// `feed` on both ends, the client with a `flush` per [`FEED_BATCH`].
    Feed,
}

impl Sending {
    fn client_feeds(self) -> bool {
        self == Sending::Feed
    }

    fn server_feeds(self) -> bool {
        self != Sending::Send
    }
}

/// The pairs compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// tungstenite 0.30, blocking, both ends.
    Tungstenite,
    /// wsduplex-std both ends (threads).
    Std(Sending),
    /// wsduplex-smol both ends, on one executor.
    Smol(Sending),
    /// fastwebsockets 0.10 on tokio, both ends.
    Fastwebsockets,
}

impl Pair {
    /// Every pair, the baseline first.
    pub const ALL: [Pair; 8] = [
        Pair::Tungstenite,
        Pair::Fastwebsockets,
        Pair::Std(Sending::Documented),
        Pair::Std(Sending::Send),
        Pair::Std(Sending::Feed),
        Pair::Smol(Sending::Documented),
        Pair::Smol(Sending::Send),
        Pair::Smol(Sending::Feed),
    ];

    /// Name in benchmark ids and on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Pair::Tungstenite => "tungstenite",
            Pair::Std(Sending::Documented) => "wsduplex-std",
            Pair::Std(Sending::Send) => "wsduplex-std-send",
            Pair::Std(Sending::Feed) => "wsduplex-std-feed",
            Pair::Smol(Sending::Documented) => "wsduplex-smol",
            Pair::Smol(Sending::Send) => "wsduplex-smol-send",
            Pair::Smol(Sending::Feed) => "wsduplex-smol-feed",
            Pair::Fastwebsockets => "fastwebsockets",
        }
    }

    /// The pair called `name`.
    pub fn named(name: &str) -> Option<Pair> {
        Pair::ALL.into_iter().find(|p| p.name() == name)
    }

    /// One run; the echoes counted, which must be [`MESSAGES`].
    pub fn run(self) -> Result<usize, Failure> {
        let echoed = match self {
            Pair::Tungstenite => threads(tungstenite_server, tungstenite_client)?,
            Pair::Std(how) => {
                threads(move |l| std_server(l, how.server_feeds()), |a| std_client(a, how.client_feeds()))?
            }
            Pair::Smol(how) => smol_pair(how)?,
            Pair::Fastwebsockets => fastwebsockets_pair()?,
        };
        if echoed != MESSAGES {
            return Err(format!("{}: {echoed} of {MESSAGES} echoed", self.name()));
        }
        Ok(echoed)
    }
}

fn payload() -> Bytes {
    Bytes::from(vec![7u8; SIZE])
}

/// The server on a thread of its own, the client on this one.
fn threads(
    server: impl FnOnce(TcpListener) -> Result<(), Failure> + Send + 'static,
    client: impl FnOnce(SocketAddr) -> Result<usize, Failure>,
) -> Result<usize, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
    let addr = listener.local_addr().map_err(fail("local_addr"))?;
    let served = thread::spawn(move || server(listener));
    let echoed = client(addr);
    served.join().map_err(|_| Failure::from("server panicked"))??;
    echoed
}

fn tungstenite_server(listener: TcpListener) -> Result<(), Failure> {
    let (s, _) = listener.accept().map_err(fail("accept"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let mut ws = tungstenite::accept(s).map_err(fail("tungstenite accept"))?;
    loop {
        match ws.read() {
            Ok(m) if m.is_binary() || m.is_text() => ws.send(m).map_err(fail("server send"))?,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(format!("server read: {e}")),
        }
    }
}

fn tungstenite_client(addr: SocketAddr) -> Result<usize, Failure> {
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Error, Message};
    let s = TcpStream::connect(addr).map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let clone = s.try_clone().map_err(fail("clone"))?;
    let (mut tx, _) = tungstenite::client(format!("ws://{addr}/"), clone).map_err(fail("handshake"))?;
    // The server sends nothing before our first message: no byte of it sits in `tx`'s buffer.
    let mut rx = WebSocket::from_raw_socket(s, Role::Client, None);
    let reader = thread::spawn(move || -> Result<usize, Failure> {
        let mut echoed = 0;
        loop {
            match rx.read() {
                Ok(Message::Binary(b)) if b.len() == SIZE => echoed += 1,
                // The server's answer to our Close, after every echo.
                Ok(Message::Close(_)) | Err(Error::ConnectionClosed) => return Ok(echoed),
                other => return Err(format!("echo {echoed}: {other:?}")),
            }
        }
    });
    let payload = payload();
    for _ in 0..MESSAGES {
        tx.send(Message::Binary(payload.clone())).map_err(fail("client send"))?;
    }
    tx.close(None).map_err(fail("client close"))?;
    tx.flush().map_err(fail("client close"))?;
    reader.join().map_err(|_| Failure::from("reader panicked"))?
}

fn std_server(listener: TcpListener, feed: bool) -> Result<(), Failure> {
    let (s, _) = listener.accept().map_err(fail("accept"))?;
    let mut ws = wsduplex_std::accept(s, Default::default()).map_err(fail("accept"))?;
    while let Some(m) = ws.recv_message().map_err(fail("server recv"))? {
        if feed { ws.feed(m) } else { ws.send(m) }.map_err(fail("server send"))?;
    }
    clean(ws.outcome())
}

fn std_client(addr: SocketAddr, feed: bool) -> Result<usize, Failure> {
    let ws = wsduplex_std::connect(&format!("ws://{addr}/"), Default::default()).map_err(fail("connect"))?;
    let (tx, rx) = ws.split();
    let reader = thread::spawn(move || -> Result<usize, Failure> {
        let mut echoed = 0;
        while let Some(m) = rx.recv_message().map_err(fail("client recv"))? {
            if m.len() != SIZE {
                return Err(format!("echo {echoed} has {} bytes", m.len()));
            }
            echoed += 1;
        }
        clean(rx.outcome())?;
        Ok(echoed)
    });
    let payload = payload();
    for i in 0..MESSAGES {
        let m = wsduplex_std::Message::binary(payload.clone());
        if !feed {
            tx.send(m)
        } else if (i + 1) % FEED_BATCH == 0 {
            tx.feed(m).and_then(|()| tx.flush())
        } else {
            tx.feed(m)
        }
        .map_err(fail("client send"))?;
    }
    tx.close(1000, "").map_err(fail("client close"))?;
    reader.join().map_err(|_| Failure::from("reader panicked"))?
}

fn smol_pair(how: Sending) -> Result<usize, Failure> {
    let (client_feeds, server_feeds) = (how.client_feeds(), how.server_feeds());
    runtime::block_on(async move {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await.map_err(fail("bind"))?;
        let addr = listener.local_addr().map_err(fail("local_addr"))?;
        let server = runtime::executor().spawn(async move {
            let (s, _) = listener.accept().await.map_err(fail("accept"))?;
            let mut ws = wsduplex_smol::accept(s, Default::default()).await.map_err(fail("accept"))?;
            while let Some(m) = ws.recv_message().await.map_err(fail("server recv"))? {
                if server_feeds { ws.feed(m).await } else { ws.send(m).await }.map_err(fail("server send"))?;
            }
            clean(ws.outcome())
        });
        let ws = wsduplex_smol::connect(&format!("ws://{addr}/"), Default::default()).await.map_err(fail("connect"))?;
        let (tx, rx) = ws.split();
        let reader = runtime::executor().spawn(async move {
            let mut echoed = 0;
            while let Some(m) = rx.recv_message().await.map_err(fail("client recv"))? {
                if m.len() != SIZE {
                    return Err(format!("echo {echoed} has {} bytes", m.len()));
                }
                echoed += 1;
            }
            clean(rx.outcome())?;
            Ok::<_, Failure>(echoed)
        });
        let payload = payload();
        for i in 0..MESSAGES {
            let m = wsduplex_smol::Message::binary(payload.clone());
            let sent = if !client_feeds {
                tx.send(m).await
            } else if (i + 1) % FEED_BATCH == 0 {
                match tx.feed(m).await {
                    Ok(()) => tx.flush().await,
                    e => e,
                }
            } else {
                tx.feed(m).await
            };
            sent.map_err(fail("client send"))?;
        }
        tx.close(1000, "").await.map_err(fail("client close"))?;
        let echoed = reader.await?;
        server.await?;
        Ok(echoed)
    })
}

fn fastwebsockets_pair() -> Result<usize, Failure> {
    use fastwebsockets::{
        FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, Role, WebSocket, WebSocketError,
    };
    crate::tokio_pair::runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(fail("bind"))?;
        let addr = listener.local_addr().map_err(fail("local_addr"))?;
        let server = tokio::spawn(tokio::task::unconstrained(async move {
            let (mut s, _) = listener.accept().await.map_err(fail("accept"))?;
            s.set_nodelay(true).map_err(fail("nodelay"))?;
            upgrade::answer(&mut s).await?;
            let mut ws = FragmentCollector::new(WebSocket::after_handshake(s, Role::Server));
            loop {
                let frame = ws.read_frame().await.map_err(fail("server read"))?;
                match frame.opcode {
                    OpCode::Close => return Ok::<_, Failure>(()),
                    OpCode::Text | OpCode::Binary => ws.write_frame(frame).await.map_err(fail("server write"))?,
                    _ => {}
                }
            }
        }));
        let mut s = tokio::net::TcpStream::connect(addr).await.map_err(fail("connect"))?;
        s.set_nodelay(true).map_err(fail("nodelay"))?;
        upgrade::ask(&mut s, addr).await?;
        let (rx, mut tx) = WebSocket::after_handshake(s, Role::Client).split(tokio::io::split);
        let mut rx = FragmentCollectorRead::new(rx);
        let reader = tokio::spawn(async move {
            let mut echoed = 0;
            loop {
                // The only obligated send is the answer to the server's Close: ours went first.
                let frame =
                    rx.read_frame::<_, WebSocketError>(&mut |_| async { Ok(()) }).await.map_err(fail("client read"))?;
                match frame.opcode {
                    OpCode::Binary if frame.payload.len() == SIZE => echoed += 1,
                    OpCode::Close => return Ok::<_, Failure>(echoed),
                    other => return Err(format!("echo {echoed}: {other:?}")),
                }
            }
        });
        let payload = vec![7u8; SIZE];
        for _ in 0..MESSAGES {
            tx.write_frame(Frame::binary(Payload::Borrowed(&payload))).await.map_err(fail("client send"))?;
        }
        tx.write_frame(Frame::close(1000, b"")).await.map_err(fail("client close"))?;
        let echoed = reader.await.map_err(fail("reader task"))??;
        server.await.map_err(fail("server task"))??;
        Ok(echoed)
    })
}

/// The HTTP upgrade (RFC 6455 §4) for the library that leaves it to hyper.
pub(crate) mod upgrade {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::{Failure, fail};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    /// The head of what the peer sends first (it sends nothing after it until answered).
    async fn head(s: &mut TcpStream) -> Result<String, Failure> {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).await.map_err(fail("read head"))?;
            if n == 0 {
                return Err("EOF in the handshake".into());
            }
            head.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(head).map_err(fail("head"))
    }

    pub(crate) async fn answer(s: &mut TcpStream) -> Result<(), Failure> {
        let head = head(s).await?;
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .ok_or_else(|| format!("no key in {head:?}"))?;
        let accept = wsduplex_core::handshake::accept_key(key.trim());
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        s.write_all(answer.as_bytes()).await.map_err(fail("write answer"))
    }

    pub(crate) async fn ask(s: &mut TcpStream, addr: std::net::SocketAddr) -> Result<(), Failure> {
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(request.as_bytes()).await.map_err(fail("write request"))?;
        let head = head(s).await?;
        if !head.starts_with("HTTP/1.1 101") || !head.contains(&wsduplex_core::handshake::accept_key(KEY)) {
            return Err(format!("refused: {head:?}"));
        }
        Ok(())
    }
}

fn clean(outcome: Option<wsduplex_core::Outcome>) -> Result<(), Failure> {
    match outcome {
        Some(o) if o.is_clean() => Ok(()),
        Some(o) => Err(format!("ended {o}")),
        None => Err("not ended".into()),
    }
}
