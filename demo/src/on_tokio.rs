//! The seed over the tokio transport (`wsduplex-tokio`), as the `tokio-*` binaries run it: one
//! task per connection on tokio's multi-threaded runtime; the client streams in one task while
//! another reads. The protocol and the bookkeeping are [`crate::seed`]'s, the async
//! application `on_async`'s (written once for smol and tokio).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::cli::{self, ClientFlags, CloseMode};
use crate::output::Output;
use crate::seed::{self, Reaction, SeedClient, SeedServer, Summary, Timeline};

use wsduplex_tokio::SocketConfig;

crate::on_async::async_seed!(wsduplex_tokio);

/// Spawns `f` on the current tokio runtime at once (the reader must run while the client
/// sends, or an echo deadlocks); the returned future is its result, a panic in it an error.
fn spawned<T: Send + 'static>(
    f: std::pin::Pin<Box<dyn Future<Output = Result<T, wsduplex_tokio::SocketError>> + Send>>,
) -> impl Future<Output = Result<T, wsduplex_tokio::SocketError>> {
    let task = tokio::spawn(f);
    async move { task.await.map_err(|e| wsduplex_tokio::SocketError::Io(std::io::Error::other(e)))? }
}

/// A multi-threaded runtime, one worker per core.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

/// Accepts forever, one task per connection.
pub async fn serve_forever(listener: TcpListener, config: SocketConfig) {
    let chunk_size = seed::chunk_size_of(&config);
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let config = config.clone();
        tokio::spawn(async move {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let result = match wsduplex_tokio::accept(stream, config).await {
                Ok(ws) => serve(ws, chunk_size, None).await,
                Err(e) => Err(e),
            };
            seed::report_connection(&peer, result);
        });
    }
}

/// `tokio-server`.
pub fn server_main() -> ExitCode {
    cli::server_main("tokio-server", |args, config| {
        let rt = runtime()?;
        let listener = rt.block_on(TcpListener::bind(args.listen.as_str()))?;
        cli::listening("tokio-server", listener.local_addr(), &config);
        rt.block_on(serve_forever(listener, config));
        Ok(())
    })
}

/// `tokio-client`.
pub fn client_main() -> ExitCode {
    cli::client_main("tokio-client", |args, out| {
        let rt = runtime().map_err(wsduplex_tokio::SocketError::Io)?;
        rt.block_on(run_client(spawned, &args.url, &args.client, out, None))
    })
}

/// `tokio-demo`.
pub fn demo_main() -> ExitCode {
    cli::demo_main("tokio-demo", |args, out, timeline, start| {
        let rt = runtime()?;
        rt.block_on(async {
            let listener = TcpListener::bind(args.listen.as_str()).await?;
            let addr = listener.local_addr()?;
            let chunk_size = args.server.chunk_size;
            let config = args.server.socket_config()?;
            let server_timeline = timeline.clone();
            let server = tokio::spawn(async move {
                let (stream, _) = listener.accept().await?;
                let ws = wsduplex_tokio::accept(stream, config).await?;
                serve(ws, chunk_size, Some((&server_timeline, start))).await
            });
            let url = args.url(addr);
            out.line(&args.banner("tokio", &url));
            let summary = run_client(spawned, &url, &args.client, out, Some((timeline, start))).await;
            let server = match server.await {
                Ok(Ok(o)) => o.to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            Ok((summary, server))
        })
    })
}
