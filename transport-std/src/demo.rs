//! The seed demo over the blocking transport, as the `blocking-*` binaries run it. The
//! protocol and the bookkeeping are [`wsduplex_core::seed`]; this module only does the waiting.

use std::io::{IsTerminal, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use wsduplex_core::seed::{ClientArgs, CloseMode, Progress, Reaction, SeedClient, SeedServer, Summary, Timeline};

use crate::{Config, Error, Outcome, Stream, WebSocket};

/// Server configuration of the demo ([`wsduplex_core::seed::server_config`]).
pub fn server_config(chunk_size: u64) -> Config {
    Config { core: wsduplex_core::seed::server_config(chunk_size), ..Config::default() }
}

/// Serves one accepted connection: the seed server, or an echo on `/echo`.
pub fn serve<S: Stream>(
    ws: WebSocket<S>,
    chunk_size: u64,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Outcome, Error> {
    let path = ws.request().map_or("/", |r| r.path.as_str()).to_owned();
    let mut app = SeedServer::new(&path, chunk_size);
    ws.set_delivery(app.delivery());
    let log = |what: String| {
        if let Some((t, start)) = timeline {
            t.log(start.elapsed(), what);
        }
    };
    while let Some(event) = ws.recv()? {
        if let Some(line) = Timeline::describe_server(&event, ws.state()) {
            log(line);
        }
        for reaction in app.on_event(&event) {
            if let Some(line) = Timeline::describe_reaction(&event, &reaction, ws.state()) {
                log(line);
            }
            match reaction {
                Reaction::Send(m) => ws.send(m)?,
                Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message)?,
                Reaction::Close(f) => ws.close(f.code, &f.reason)?,
            }
        }
    }
    log("server: TCP released".into());
    ws.outcome().ok_or(Error::Closed(Outcome::Abnormal))
}

/// Accepts forever, one thread per connection.
pub fn serve_forever(listener: TcpListener, chunk_size: u64) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        thread::spawn(move || {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let result = crate::accept(stream, server_config(chunk_size)).and_then(|ws| serve(ws, chunk_size, None));
            match result {
                Ok(o) if o.is_clean() => {}
                Ok(o) => eprintln!("{peer}: {o}"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

/// Runs the seed client: streams on this thread while another reads replies, closes as
/// chosen, reads until the server's Close. `print_replies` echoes each ack to stdout.
pub fn run_client(
    args: &ClientArgs,
    print_replies: bool,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Summary, Error> {
    let start = Instant::now();
    let config = Config { core: wsduplex_core::seed::client_config(args.message_size), ..Config::default() };
    let ws = crate::connect(&args.url, config)?;
    let (tx, rx) = ws.split();
    let log = |what: String| {
        if let Some((t, s)) = timeline {
            t.log(s.elapsed(), what);
        }
    };
    let mut client = SeedClient::new(args.echo, args.message_size);
    let sending = client.clone();
    let reader_timeline = timeline.map(|(t, s)| (t.clone(), s));
    let close_sent = Arc::new(AtomicBool::new(false));
    let reader_close_sent = close_sent.clone();
    let reader = thread::Builder::new().name("seed-reader".into()).spawn(move || -> Result<SeedClient, Error> {
        while let Some(event) = rx.recv()? {
            let after_close = reader_close_sent.load(Ordering::Acquire);
            if let (Some((t, s)), Some(line)) = (&reader_timeline, Timeline::describe_client(&event, after_close)) {
                t.log(s.elapsed(), line);
            }
            if let Some(reply) = client.on_event(&event) {
                if print_replies {
                    print!("{reply}");
                }
            }
        }
        if let Some((t, s)) = &reader_timeline {
            t.log(s.elapsed(), "client: TCP released");
        }
        Ok(client)
    })?;

    let mut progress = (!args.json && std::io::stderr().is_terminal()).then(|| Progress::new(args.messages));
    let mut send_error = None;
    for i in 0..args.messages {
        if let Err(e) = tx.send_binary(sending.message(i)) {
            send_error = Some(e.to_string());
            break;
        }
        if let Some(line) = progress.as_mut().and_then(|p| p.update(i + 1)) {
            eprint!("{line}");
            let _ = std::io::stderr().flush();
        }
    }
    if progress.is_some() {
        eprintln!();
    }
    if send_error.is_none() {
        log(format!("client: {} messages sent; close-{:?}", args.messages, args.close).to_lowercase());
        let r = match args.close {
            CloseMode::Output => tx.close(1000, "").inspect(|()| close_sent.store(true, Ordering::Release)),
            CloseMode::Wait => {
                // close_and_wait returns only at the end; its Close is written right away.
                close_sent.store(true, Ordering::Release);
                tx.close_and_wait(1000, "").map(drop)
            }
        };
        log(format!("client: Close sent -> {:?}", tx.state()));
        send_error = r.err().map(|e| e.to_string());
    }
    let client = reader.join().map_err(|_| Error::Closed(Outcome::Aborted))??;
    Ok(client.summary(tx.stats(), tx.outcome().as_ref(), start.elapsed(), send_error))
}
