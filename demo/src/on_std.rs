//! The seed over the blocking transport (`wsduplex-std`), as the `blocking-*` binaries run
//! it: one thread per connection; the client streams on one thread while another reads. The
//! protocol and the bookkeeping are [`crate::seed`]'s; this only does the waiting.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use wsduplex_std::{Outcome, SocketConfig, SocketError, Stream, WebSocket};

use crate::cli::{self, ClientFlags, CloseMode};
use crate::output::Output;
use crate::seed::{self, Reaction, SeedClient, SeedServer, Summary, Timeline};

/// Serves one accepted connection: the seed server, or an echo on `/echo`. With a timeline,
/// logs the close handshake's steps on it.
pub fn serve<S: Stream>(
    mut ws: WebSocket<S>,
    chunk_size: u64,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Outcome, SocketError> {
    let mut app = SeedServer::new(ws.request().map_or("/", |r| r.path.as_str()), chunk_size);
    ws.set_delivery(app.delivery());
    let log = |line: Option<String>| Timeline::log_to(timeline, line);
    while let Some(event) = ws.recv()? {
        log(Timeline::describe_server(&event, ws.state()));
        for reaction in app.on_event(&event) {
            log(Timeline::describe_reaction(&event, &reaction, ws.state()));
            match reaction {
                Reaction::Send(m) => ws.send(m)?,
                Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message)?,
                Reaction::Close(f) => ws.close(f.code, &f.reason)?,
            }
        }
    }
    log(Some("server: TCP released".into()));
    ws.outcome().ok_or(SocketError::Closed(Outcome::Abnormal))
}

/// Accepts forever, one thread per connection.
pub fn serve_forever(listener: TcpListener, config: SocketConfig) {
    let chunk_size = seed::chunk_size_of(&config);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let config = config.clone();
        thread::spawn(move || {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let result = wsduplex_std::accept(stream, config).and_then(|ws| serve(ws, chunk_size, None));
            seed::report_connection(&peer, result);
        });
    }
}

/// Runs the seed client against `url`: streams on this thread while another reads the
/// replies, closes as chosen, reads until the server's Close.
pub fn run_client(
    url: &str,
    flags: &ClientFlags,
    out: &Output,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Summary, SocketError> {
    let start = Instant::now();
    let (tx, rx) = wsduplex_std::connect(url, flags.socket_config()?)?.split();
    let mut client = SeedClient::new(flags.echo, flags.message_size);
    let sending = client.clone();
    let close_sent = Arc::new(AtomicBool::new(false));
    let reader = {
        let (close_sent, out) = (close_sent.clone(), out.clone());
        let timeline = timeline.map(|(t, s)| (t.clone(), s));
        thread::Builder::new().name("seed-reader".into()).spawn(move || -> Result<SeedClient, SocketError> {
            let timeline = timeline.as_ref().map(|(t, s)| (t, *s));
            while let Some(event) = rx.recv()? {
                Timeline::log_to(timeline, Timeline::describe_client(&event, close_sent.load(Ordering::Acquire)));
                if let Some(reply) = client.on_event(&event) {
                    out.reply(&reply);
                }
            }
            Timeline::log_to(timeline, Some("client: TCP released".into()));
            Ok(client)
        })?
    };
    let mut send_error = None;
    for i in 0..flags.messages {
        if let Err(e) = tx.send_binary(sending.message(i)) {
            send_error = Some(e.to_string());
            break;
        }
        out.sent(i + 1);
    }
    out.done_sending();
    if send_error.is_none() {
        Timeline::log_to(timeline, Some(seed::closing(flags)));
        // Set before the call: the close() that writes our Close may return after the reader
        // has already seen the server's answer to it (its final tally), which is still a reply
        // received after our Close.
        close_sent.store(true, Ordering::Release);
        let closed = match flags.close {
            CloseMode::Output => tx.close(1000, ""),
            CloseMode::Wait => tx.close_and_wait(1000, "").map(drop),
        };
        Timeline::log_to(timeline, Some(format!("client: Close sent -> {:?}", tx.state())));
        send_error = closed.err().map(|e| e.to_string());
    }
    let client = reader.join().map_err(|_| SocketError::Closed(Outcome::Aborted))??;
    Ok(client.summary(tx.stats(), tx.outcome().as_ref(), start.elapsed(), send_error))
}

/// `blocking-server`.
pub fn server_main() -> ExitCode {
    cli::server_main("blocking-server", |args, config| {
        let listener = TcpListener::bind(&args.listen)?;
        cli::listening("blocking-server", listener.local_addr(), &config);
        serve_forever(listener, config);
        Ok(())
    })
}

/// `blocking-client`.
pub fn client_main() -> ExitCode {
    cli::client_main("blocking-client", |args, out| run_client(&args.url, &args.client, out, None))
}

/// `blocking-demo`.
pub fn demo_main() -> ExitCode {
    cli::demo_main("blocking-demo", |args, out, timeline, start| {
        let listener = TcpListener::bind(&args.listen)?;
        let addr: SocketAddr = listener.local_addr()?;
        let chunk_size = args.server.chunk_size;
        let config = args.server.socket_config()?;
        let server_timeline = timeline.clone();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept()?;
            let ws = wsduplex_std::accept(stream, config)?;
            serve(ws, chunk_size, Some((&server_timeline, start)))
        });
        let url = args.url(addr);
        out.line(&args.banner("blocking", &url));
        let summary = run_client(&url, &args.client, out, Some((timeline, start)));
        let server = match server.join() {
            Ok(Ok(o)) => o.to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "server thread panicked".to_owned(),
        };
        Ok((summary, server))
    })
}
