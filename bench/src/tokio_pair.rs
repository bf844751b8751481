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
//! - the seed stream over TLS (`wss://`, [`Library::seed_tls`]): the same, with both ends of
//!   theirs over tokio-rustls (the way tokio-tungstenite is used with TLS) and ours with the
//!   TLS of its driver; one certificate, one rustls provider (aws-lc-rs) and the same rustls
//!   configurations for both.
//!
//! Every run checks its result: the bytes acknowledged, or every echo counted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use futures_util::{SinkExt, StreamExt, TryStreamExt, future};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::Message as TMessage;
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::output::Output;
use wsduplex_demo::{on_tokio, pki, seed};
use wsduplex_tokio::rustls::pki_types::ServerName;
use wsduplex_tokio::rustls::{ClientConfig, ServerConfig};

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
        self.seed_over(None)
    }

    /// One seed exchange over TLS; the bytes acknowledged, which must be [`TOTAL`].
    pub fn seed_tls(self) -> Result<u64, Failure> {
        self.seed_over(Some(tls()))
    }

    fn seed_over(self, tls: Option<&'static Tls>) -> Result<u64, Failure> {
        let acked = exchange(
            move |s| async move {
                match (self, tls) {
                    (Library::TokioTungstenite, None) => their_seed_server(s).await,
                    (Library::TokioTungstenite, Some(tls)) => {
                        let s = TlsAcceptor::from(tls.server.clone()).accept(s).await.map_err(fail("TLS accept"))?;
                        their_seed_server(s).await
                    }
                    (Library::WsduplexTokio, tls) => {
                        let mut config = seed::server_socket_config(CHUNK);
                        config.tls_server = tls.map(|t| t.server.clone());
                        let ws = wsduplex_tokio::accept(s, config).await.map_err(fail("accept"))?;
                        on_tokio::serve(ws, CHUNK, None).await.map(drop).map_err(fail("serve"))
                    }
                }
            },
            move |addr| async move {
                match (self, tls) {
                    (Library::TokioTungstenite, None) => {
                        let s = connect_tcp(addr).await?;
                        their_seed_client(format!("ws://{addr}/"), s).await
                    }
                    (Library::TokioTungstenite, Some(tls)) => {
                        let s = connect_tcp(addr).await?;
                        let name = ServerName::try_from("localhost").map_err(fail("name"))?;
                        let s = TlsConnector::from(tls.client.clone()).connect(name, s).await.map_err(fail("TLS"))?;
                        their_seed_client(format!("wss://localhost:{}/", addr.port()), s).await
                    }
                    (Library::WsduplexTokio, None) => our_seed_client(format!("ws://{addr}/"), None).await,
                    (Library::WsduplexTokio, Some(tls)) => {
                        our_seed_client(format!("wss://localhost:{}/", addr.port()), Some(tls.ca_file.clone())).await
                    }
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

/// The certificates of the TLS runs, made once: the server's configuration, the client's
/// (trusting the test CA), and the CA in a file for the seed client's `--tls-ca`.
struct Tls {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    ca_file: PathBuf,
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let pki = pki::Pki::new().expect("test CA");
        let dir = std::env::temp_dir().join(format!("wsduplex-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, pki.ca_pem()).expect("CA file");
        Tls {
            server: pki.server_config(pki::LeafKind::Valid).expect("server config"),
            client: pki.client_config().expect("client config"),
            ca_file,
        }
    })
}

async fn connect_tcp(addr: SocketAddr) -> Result<TcpStream, Failure> {
    let s = TcpStream::connect(addr).await.map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    Ok(s)
}

async fn our_seed_client(url: String, tls_ca: Option<PathBuf>) -> Result<u64, Failure> {
    let flags = ClientFlags { messages: MESSAGES, tls_ca, ..ClientFlags::default() };
    let quiet = Output::quiet();
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
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime"))
}

async fn their_seed_server<S: AsyncRead + AsyncWrite + Unpin>(s: S) -> Result<(), Failure> {
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
    // Over TLS the session must end with close_notify (tokio-rustls' `shutdown`): without it,
    // tokio-tungstenite's client reads a bare FIN and fails with rustls' UnexpectedEof. On
    // plain TCP this is the FIN the drop would send.
    ws.get_mut().shutdown().await.map_err(fail("server shutdown"))
}

async fn their_seed_client<S>(url: String, s: S) -> Result<u64, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (ws, _) = tokio_tungstenite::client_async(url, s).await.map_err(fail("handshake"))?;
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
