//! The seed over the async transport (`wsduplex-smol`), as the `async-*` binaries run it: one
//! task per connection on an executor with a thread per core; the client streams in one task
//! while another reads. The protocol and the bookkeeping are [`crate::seed`]'s.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_net::TcpListener;
use smol::Executor;

use crate::cli::{self, ClientFlags, CloseMode};
use crate::output::Output;
use crate::seed::{self, Reaction, SeedClient, SeedServer, Summary, Timeline};

/// Runs `f` on an executor served by one thread per core (the calling thread included); the
/// helper threads stop when `f`'s task is done.
pub fn block_on_all_cores<T>(f: impl FnOnce(Arc<Executor<'static>>) -> smol::Task<T>) -> T {
    let ex = Arc::new(Executor::new());
    let stop = Arc::new((AtomicBool::new(false), event_listener::Event::new()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let helpers: Vec<_> = (1..threads)
        .map(|_| {
            let (ex, stop) = (ex.clone(), stop.clone());
            std::thread::spawn(move || {
                smol::block_on(ex.run(async {
                    loop {
                        // Listen before checking the flag, so the notification cannot be missed.
                        let stopped = stop.1.listen();
                        if stop.0.load(Ordering::Acquire) {
                            break;
                        }
                        stopped.await;
                    }
                }))
            })
        })
        .collect();
    let task = f(ex.clone());
    let out = smol::block_on(ex.run(task));
    stop.0.store(true, Ordering::Release);
    stop.1.notify(usize::MAX);
    for h in helpers {
        let _ = h.join();
    }
    out
}

use wsduplex_smol::SocketConfig;

crate::on_async::async_seed!(wsduplex_smol);

/// Accepts forever, one task per connection, on `ex`.
pub async fn serve_forever(ex: Arc<Executor<'static>>, listener: TcpListener, config: SocketConfig) {
    let chunk_size = seed::chunk_size_of(&config);
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                // Out of file descriptors and the like: back off instead of spinning.
                async_io::Timer::after(Duration::from_millis(10)).await;
                continue;
            }
        };
        let config = config.clone();
        ex.spawn(async move {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let result = match wsduplex_smol::accept(stream, config).await {
                Ok(ws) => serve(ws, chunk_size, None).await,
                Err(e) => Err(e),
            };
            seed::report_connection(&peer, result);
        })
        .detach();
    }
}

/// `async-server`.
pub fn server_main() -> ExitCode {
    cli::server_main("async-server", |args, config| {
        let listener = smol::block_on(TcpListener::bind(args.listen.as_str()))?;
        cli::listening("async-server", listener.local_addr(), &config);
        block_on_all_cores(|ex| ex.spawn(serve_forever(ex.clone(), listener, config)));
        Ok(())
    })
}

/// `async-client`.
pub fn client_main() -> ExitCode {
    cli::client_main("async-client", |args, out| {
        let (args, out) = (args.clone(), out.clone());
        block_on_all_cores(move |ex| {
            let inner = ex.clone();
            ex.spawn(async move { run_client(|f| inner.spawn(f), &args.url, &args.client, &out, None).await })
        })
    })
}

/// `async-demo`.
pub fn demo_main() -> ExitCode {
    cli::demo_main("async-demo", |args, out, timeline, start| {
        let (args, out, timeline) = (args.clone(), out.clone(), timeline.clone());
        block_on_all_cores(move |ex| {
            let inner = ex.clone();
            ex.spawn(async move {
                let listener = TcpListener::bind(args.listen.as_str()).await?;
                let addr = listener.local_addr()?;
                let chunk_size = args.server.chunk_size;
                let config = args.server.socket_config()?;
                let server_timeline = timeline.clone();
                let server = inner.spawn(async move {
                    let (stream, _) = listener.accept().await?;
                    let ws = wsduplex_smol::accept(stream, config).await?;
                    serve(ws, chunk_size, Some((&server_timeline, start))).await
                });
                let url = args.url(addr);
                out.line(&args.banner("async", &url));
                let summary = run_client(|f| inner.spawn(f), &url, &args.client, &out, Some((&timeline, start))).await;
                let server = match server.await {
                    Ok(o) => o.to_string(),
                    Err(e) => e.to_string(),
                };
                Ok((summary, server))
            })
        })
    })
}
