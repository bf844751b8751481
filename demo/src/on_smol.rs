//! The seed over the async transport (`wsduplex-smol`), as the `async-*` binaries run it: one
//! task per connection on an executor with a thread per core; the client streams in one task
//! while another reads. The protocol and the bookkeeping are [`crate::seed`]'s.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_net::TcpListener;
use smol::Executor;
use wsduplex_smol::{AsyncStream, Outcome, SocketConfig, SocketError, WebSocket};

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

/// Serves one accepted connection: the seed server, or an echo on `/echo`. With a timeline,
/// logs the close handshake's steps on it.
pub async fn serve<S: AsyncStream>(
    ws: WebSocket<S>,
    chunk_size: u64,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Outcome, SocketError> {
    let mut app = SeedServer::new(ws.request().map_or("/", |r| r.path.as_str()), chunk_size);
    ws.set_delivery(app.delivery());
    let log = |line: Option<String>| Timeline::log_to(timeline, line);
    while let Some(event) = ws.recv().await? {
        log(Timeline::describe_server(&event, ws.state()));
        for reaction in app.on_event(&event) {
            log(Timeline::describe_reaction(&event, &reaction, ws.state()));
            match reaction {
                Reaction::Send(m) => ws.send(m).await?,
                Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message).await?,
                Reaction::Close(f) => ws.close(f.code, &f.reason).await?,
            }
        }
    }
    log(Some("server: TCP released".into()));
    ws.outcome().ok_or(SocketError::Closed(Outcome::Abnormal))
}

/// Accepts forever, one task per connection, on `ex`.
pub async fn serve_forever(ex: Arc<Executor<'static>>, listener: TcpListener, chunk_size: u64) {
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
        ex.spawn(async move {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let result = match wsduplex_smol::accept(stream, seed::server_socket_config(chunk_size)).await {
                Ok(ws) => serve(ws, chunk_size, None).await,
                Err(e) => Err(e),
            };
            seed::report_connection(&peer, result);
        })
        .detach();
    }
}

/// Runs the seed client against `url`: streams in this task while another (on `ex`) reads
/// the replies, closes as chosen, reads until the server's Close.
pub async fn run_client(
    ex: &Executor<'static>,
    url: &str,
    flags: &ClientFlags,
    out: &Output,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Summary, SocketError> {
    let start = Instant::now();
    let config = SocketConfig { core: seed::client_config(flags.message_size), ..SocketConfig::default() };
    let (tx, rx) = wsduplex_smol::connect(url, config).await?.split();
    let mut client = SeedClient::new(flags.echo, flags.message_size);
    let sending = client.clone();
    let close_sent = Arc::new(AtomicBool::new(false));
    let reader = {
        let (close_sent, out) = (close_sent.clone(), out.clone());
        let timeline = timeline.map(|(t, s)| (t.clone(), s));
        ex.spawn(async move {
            let timeline = timeline.as_ref().map(|(t, s)| (t, *s));
            while let Some(event) = rx.recv().await? {
                Timeline::log_to(timeline, Timeline::describe_client(&event, close_sent.load(Ordering::Acquire)));
                if let Some(reply) = client.on_event(&event) {
                    out.reply(&reply);
                }
            }
            Timeline::log_to(timeline, Some("client: TCP released".into()));
            Ok::<_, SocketError>(client)
        })
    };
    let mut send_error = None;
    for i in 0..flags.messages {
        if let Err(e) = tx.send_binary(sending.message(i)).await {
            send_error = Some(e.to_string());
            break;
        }
        out.sent(i + 1);
    }
    out.done_sending();
    if send_error.is_none() {
        Timeline::log_to(timeline, Some(seed::closing(flags)));
        let closed = match flags.close {
            CloseMode::Output => tx.close(1000, "").await.inspect(|()| close_sent.store(true, Ordering::Release)),
            CloseMode::Wait => {
                // close_and_wait returns only at the end; its Close is written right away.
                close_sent.store(true, Ordering::Release);
                tx.close_and_wait(1000, "").await.map(drop)
            }
        };
        Timeline::log_to(timeline, Some(format!("client: Close sent -> {:?}", tx.state())));
        send_error = closed.err().map(|e| e.to_string());
    }
    let client = reader.await?;
    Ok(client.summary(tx.stats(), tx.outcome().as_ref(), start.elapsed(), send_error))
}

/// `async-server`.
pub fn server_main() -> ExitCode {
    cli::server_main("async-server", |args| {
        let listener = smol::block_on(TcpListener::bind(args.listen.as_str()))?;
        cli::listening("async-server", listener.local_addr(), args.server.chunk_size);
        let chunk_size = args.server.chunk_size;
        block_on_all_cores(|ex| ex.spawn(serve_forever(ex.clone(), listener, chunk_size)));
        Ok(())
    })
}

/// `async-client`.
pub fn client_main() -> ExitCode {
    cli::client_main("async-client", |args, out| {
        let (args, out) = (args.clone(), out.clone());
        block_on_all_cores(move |ex| {
            let inner = ex.clone();
            ex.spawn(async move { run_client(&inner, &args.url, &args.client, &out, None).await })
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
                let server_timeline = timeline.clone();
                let server = inner.spawn(async move {
                    let (stream, _) = listener.accept().await?;
                    let ws = wsduplex_smol::accept(stream, seed::server_socket_config(chunk_size)).await?;
                    serve(ws, chunk_size, Some((&server_timeline, start))).await
                });
                let url = args.url(addr);
                out.line(&args.banner("async", &url));
                let summary = run_client(&inner, &url, &args.client, &out, Some((&timeline, start))).await;
                let server = match server.await {
                    Ok(o) => o.to_string(),
                    Err(e) => e.to_string(),
                };
                Ok((summary, server))
            })
        })
    })
}
