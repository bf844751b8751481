//! wsduplex-tokio against tokio-tungstenite, both ends of each pair from the same library, on
//! one multi-threaded tokio runtime (one process, as one tokio program would run them):
//!
//! - the seed stream: 1024 × 128 KiB, an ack per 4 MiB, close-output, every byte acknowledged.
//!   Ours is exactly what `tokio-server` and `tokio-client` run. Theirs is written the way
//!   tokio-tungstenite's docs show: the stream `split` into a sink (this task sends, one
//!   `SinkExt::send` per message) and a stream read by a second task.
//! - the small-message echo: [`ECHO_MESSAGES`] × [`ECHO_SIZE`] B pipelined by the client (one
//!   task sends with a `send` per message, another reads the echoes and counts them), echoed
//!   by a server that is tokio-tungstenite's example echo on both sides
//!   (`read.try_filter(..).forward(write)`, the same text over our `Stream`/`Sink`).
//!
//! Every run checks its result: the bytes acknowledged, or every echo counted.

use std::net::SocketAddr;
use std::sync::OnceLock;

use futures_util::{SinkExt, StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as TMessage;
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::output::Output;
use wsduplex_demo::{on_tokio, seed};

use crate::seed::{CHUNK, MESSAGE_SIZE, MESSAGES, TOTAL};
use crate::{Failure, fail};

/// Messages per echo run.
pub const ECHO_MESSAGES: usize = 100_000;
/// Payload bytes per echo message.
pub const ECHO_SIZE: usize = 64;

/// The two libraries compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// tokio-tungstenite 0.30.
    TokioTungstenite,
    /// wsduplex-tokio.
    WsduplexTokio,
}

impl Library {
    /// Both.
    pub const ALL: [Library; 2] = [Library::TokioTungstenite, Library::WsduplexTokio];

    /// Name in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Library::TokioTungstenite => "tokio-tungstenite",
            Library::WsduplexTokio => "wsduplex-tokio",
        }
    }

    /// One seed exchange; the bytes acknowledged, which must be [`TOTAL`].
    pub fn seed(self) -> Result<u64, Failure> {
        let acked = exchange(
            move |s| async move {
                match self {
                    Library::TokioTungstenite => their_seed_server(s).await,
                    Library::WsduplexTokio => {
                        let ws = wsduplex_tokio::accept(s, seed::server_socket_config(CHUNK))
                            .await
                            .map_err(fail("accept"))?;
                        on_tokio::serve(ws, CHUNK, None).await.map(drop).map_err(fail("serve"))
                    }
                }
            },
            move |addr| async move {
                match self {
                    Library::TokioTungstenite => their_seed_client(addr).await,
                    Library::WsduplexTokio => our_seed_client(addr).await,
                }
            },
        )?;
        if acked != TOTAL {
            return Err(format!("{}: {acked} bytes acknowledged, {TOTAL} sent", self.name()));
        }
        Ok(acked)
    }

    /// One echo run; the messages echoed, which must be [`ECHO_MESSAGES`].
    pub fn echo(self) -> Result<usize, Failure> {
        let echoed = exchange(
            move |s| async move {
                // tokio-tungstenite's example echo, the same text over either library's types.
                match self {
                    Library::TokioTungstenite => {
                        let ws = tokio_tungstenite::accept_async(s).await.map_err(fail("accept"))?;
                        let (write, read) = ws.split();
                        let echo =
                            read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write);
                        echo.await.map_err(fail("forward"))
                    }
                    Library::WsduplexTokio => {
                        let ws = wsduplex_tokio::accept(s, Default::default()).await.map_err(fail("accept"))?;
                        let (write, read) = ws.split();
                        let echo =
                            read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write);
                        echo.await.map_err(fail("forward"))
                    }
                }
            },
            move |addr| async move {
                match self {
                    Library::TokioTungstenite => their_echo_client(addr).await,
                    Library::WsduplexTokio => our_echo_client(addr).await,
                }
            },
        )?;
        if echoed != ECHO_MESSAGES {
            return Err(format!("{}: {echoed} of {ECHO_MESSAGES} echoed", self.name()));
        }
        Ok(echoed)
    }
}

/// One connection over loopback on the shared runtime: `server` on the accepted stream in a
/// task of its own, `client` against its address in this one; the client's result once both
/// ended without error.
fn exchange<S, C, T>(
    server: impl FnOnce(TcpStream) -> S + Send + 'static,
    client: impl FnOnce(SocketAddr) -> C,
) -> Result<T, Failure>
where
    S: Future<Output = Result<(), Failure>> + Send + 'static,
    C: Future<Output = Result<T, Failure>>,
{
    runtime().block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(fail("bind"))?;
        let addr = listener.local_addr().map_err(fail("local_addr"))?;
        let served = tokio::spawn(async move {
            let (s, _) = listener.accept().await.map_err(fail("accept"))?;
            s.set_nodelay(true).map_err(fail("nodelay"))?;
            server(s).await
        });
        let result = client(addr).await?;
        served.await.map_err(fail("server task"))??;
        Ok(result)
    })
}

async fn our_seed_client(addr: SocketAddr) -> Result<u64, Failure> {
    let flags = ClientFlags { messages: MESSAGES, ..ClientFlags::default() };
    let (url, quiet) = (format!("ws://{addr}/"), Output::quiet());
    let spawn = |f| {
        let task = tokio::spawn(f);
        async move { task.await.map_err(|e| wsduplex_tokio::SocketError::Io(std::io::Error::other(e)))? }
    };
    let summary = on_tokio::run_client(spawn, &url, &flags, &quiet, None).await.map_err(fail("client"))?;
    if !summary.passed() {
        return Err(format!("client: {}", summary.to_json()));
    }
    Ok(summary.bytes_acked)
}

/// The runtime every run uses: multi-threaded, a worker per core, built once.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime"))
}

async fn their_seed_server(s: TcpStream) -> Result<(), Failure> {
    let mut ws = tokio_tungstenite::accept_async(s).await.map_err(fail("accept"))?;
    let mut since = 0u64;
    while let Some(msg) = ws.next().await {
        match msg.map_err(fail("server read"))? {
            TMessage::Binary(b) => {
                since += b.len() as u64;
                while since >= CHUNK {
                    since -= CHUNK;
                    ws.send(TMessage::text(seed::ack(CHUNK))).await.map_err(fail("server ack"))?;
                }
            }
            TMessage::Close(_) => {}
            _ => {}
        }
    }
    Ok(())
}

async fn their_seed_client(addr: SocketAddr) -> Result<u64, Failure> {
    let s = TcpStream::connect(addr).await.map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), s).await.map_err(fail("handshake"))?;
    let (mut write, mut read) = ws.split();
    let reader = tokio::spawn(async move {
        let mut acked = 0u64;
        while let Some(msg) = read.next().await {
            if let TMessage::Text(t) = msg.map_err(fail("client read"))? {
                acked += seed::parse_ack(&t).ok_or_else(|| format!("not an ack: {t:?}"))?;
            }
        }
        Ok::<_, Failure>(acked)
    });
    let payload = seed::payload(0, MESSAGE_SIZE);
    for _ in 0..MESSAGES {
        write.send(TMessage::Binary(payload.clone())).await.map_err(fail("client send"))?;
    }
    write.close().await.map_err(fail("client close"))?;
    reader.await.map_err(fail("reader task"))?
}

async fn their_echo_client(addr: SocketAddr) -> Result<usize, Failure> {
    let s = TcpStream::connect(addr).await.map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), s).await.map_err(fail("handshake"))?;
    let (mut write, mut read) = ws.split();
    let reader = tokio::spawn(async move {
        let mut echoed = 0;
        while echoed < ECHO_MESSAGES {
            match read.next().await {
                Some(Ok(TMessage::Binary(b))) if b.len() == ECHO_SIZE => echoed += 1,
                Some(Ok(_)) => {}
                other => return Err(format!("echo {echoed}: {other:?}")),
            }
        }
        Ok::<_, Failure>((echoed, read))
    });
    let payload = bytes::Bytes::from(vec![7u8; ECHO_SIZE]);
    for _ in 0..ECHO_MESSAGES {
        write.send(TMessage::Binary(payload.clone())).await.map_err(fail("client send"))?;
    }
    let (echoed, mut read) = reader.await.map_err(fail("reader task"))??;
    write.close().await.map_err(fail("client close"))?;
    // The rest of the close handshake: the server's Close.
    while read.next().await.is_some() {}
    Ok(echoed)
}

async fn our_echo_client(addr: SocketAddr) -> Result<usize, Failure> {
    let ws = wsduplex_tokio::connect(&format!("ws://{addr}/"), Default::default()).await.map_err(fail("connect"))?;
    let (tx, rx) = ws.split();
    let reader = tokio::spawn(async move {
        let mut echoed = 0;
        while echoed < ECHO_MESSAGES {
            match rx.recv_message().await {
                Ok(Some(m)) if m.len() == ECHO_SIZE => echoed += 1,
                other => return Err(format!("echo {echoed}: {other:?}")),
            }
        }
        Ok::<_, Failure>((echoed, rx))
    });
    let payload = bytes::Bytes::from(vec![7u8; ECHO_SIZE]);
    for _ in 0..ECHO_MESSAGES {
        tx.send_binary(payload.clone()).await.map_err(fail("client send"))?;
    }
    let (echoed, rx) = reader.await.map_err(fail("reader task"))??;
    tx.close(1000, "").await.map_err(fail("client close"))?;
    // The rest of the close handshake: the server's Close.
    while let Ok(Some(_)) = rx.recv().await {}
    Ok(echoed)
}
