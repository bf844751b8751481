//! The seed demo over the blocking transport: the server's per-connection loop and the
//! client's run, as the `blocking-*` binaries use them. The protocol logic is
//! [`wsduplex_core::seed`]; this module only does the waiting.

use std::io::{IsTerminal, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use wsduplex_core::seed::{self, ClientArgs, CloseMode, Reaction, SeedServer, Summary};

use crate::{Config, Error, Event, Message, Outcome, Stream, WebSocket};

/// Times and descriptions of what happened, for the demo's close timeline.
#[derive(Debug, Clone, Default)]
pub struct Timeline(Arc<Mutex<Vec<(Duration, String)>>>);

impl Timeline {
    fn log(&self, start: Instant, what: String) {
        let mut v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        v.push((start.elapsed(), what));
    }

    /// Entries in time order.
    pub fn entries(&self) -> Vec<(Duration, String)> {
        let mut v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        v.sort_by_key(|e| e.0);
        v
    }
}

/// Server configuration of the demo: streaming delivery (bounded memory whatever the message
/// size; the echo path switches to whole messages), acks every `chunk_size` bytes.
pub fn server_config(chunk_size: u64) -> Config {
    let core = wsduplex_core::Config {
        delivery: wsduplex_core::Delivery::Chunks,
        chunk_size: Some(chunk_size),
        max_frame_size: u64::MAX >> 1,
        max_message_size: u64::MAX,
        ..wsduplex_core::Config::default()
    };
    Config { core, ..Config::default() }
}

/// Serves one accepted connection: the seed server, or an echo on `/echo`.
pub fn serve<S: Stream>(
    ws: WebSocket<S>,
    chunk_size: u64,
    timeline: Option<(&Timeline, Instant)>,
) -> Result<Outcome, Error> {
    let path = ws.request().map_or("/", |r| r.path.as_str()).to_owned();
    let mut app = SeedServer::new(&path, chunk_size);
    if app.is_echo() {
        // Echo whole messages: a streaming echo would write back while a single-threaded peer
        // is still writing, and both would block.
        ws.set_delivery(wsduplex_core::Delivery::Messages);
    }
    let log = |what: String| {
        if let Some((t, start)) = timeline {
            t.log(start, what);
        }
    };
    while let Some(event) = ws.recv()? {
        match &event {
            Event::CloseReceived { frame, remainder } => log(format!(
                "server: peer Close {} received -> {:?}; remainder {remainder} bytes",
                frame.code,
                ws.state()
            )),
            Event::Closed(o) => log(format!("server: Closed ({})", describe(o))),
            _ => {}
        }
        for reaction in app.on_event(&event) {
            match reaction {
                Reaction::Send(m) => {
                    if let (Event::CloseReceived { .. }, Message::Text(t)) = (&event, &m) {
                        log(format!("server: final tally {:?} sent in {:?}", t.trim_end(), ws.state()));
                    }
                    ws.send(m)?
                }
                Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message)?,
                Reaction::Close(f) => {
                    ws.close(f.code, &f.reason)?;
                    log(format!("server: Close {} sent -> {:?}", f.code, ws.state()));
                }
            }
        }
    }
    log("server: TCP released".into());
    ws.outcome().ok_or(Error::Closed(Outcome::Abnormal))
}

/// Accepts forever, one thread per connection.
pub fn serve_forever(listener: TcpListener, chunk_size: u64) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                    let result =
                        crate::accept_with(prepare(stream), server_config(chunk_size), |_| Ok(Default::default()))
                            .and_then(|ws| serve(ws, chunk_size, None));
                    match result {
                        Ok(o) if o.is_clean() => {}
                        Ok(o) => eprintln!("{peer}: {}", describe(&o)),
                        Err(e) => eprintln!("{peer}: {e}"),
                    }
                });
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

fn prepare(stream: TcpStream) -> TcpStream {
    let _ = stream.set_nodelay(true);
    stream
}

/// "clean", or a short description of how the connection ended.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Clean { .. } => "clean".into(),
        Outcome::TimedOut(t) => format!("timed out ({t:?})"),
        Outcome::Failed(e) => format!("failed: {e} (close code {})", e.close_code()),
        Outcome::Abnormal => "abnormal (1006: no Close frame)".into(),
        Outcome::Aborted => "aborted".into(),
        Outcome::Rejected(s) => format!("rejected ({s})"),
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
    let mut config = Config::default();
    config.core.max_message_size = config.core.max_message_size.max(args.message_size as u64);
    config.core.max_frame_size = config.core.max_frame_size.max(args.message_size as u64);
    let ws = crate::connect(&args.url, config)?;
    let (tx, rx) = ws.split();
    let (echo, size) = (args.echo, args.message_size);
    let log = move |what: String| {
        if let Some((t, s)) = timeline {
            t.log(s, what);
        }
    };
    let reader_timeline = timeline.map(|(t, s)| (t.clone(), s));
    let reader = thread::spawn(move || -> Result<(u64, u64, Option<String>), Error> {
        let log = |what: String| {
            if let Some((t, s)) = &reader_timeline {
                t.log(*s, what);
            }
        };
        let base = seed::payload(0, size);
        let (mut acked, mut acks, mut mismatch) = (0u64, 0u64, None);
        while let Some(event) = rx.recv()? {
            match event {
                Event::Message(Message::Text(t)) if !echo => {
                    let Some(n) = seed::parse_ack(&t) else {
                        mismatch.get_or_insert(format!("unexpected text {:?}", t.as_str()));
                        continue;
                    };
                    acked += n;
                    acks += 1;
                    if rx.state() != wsduplex_core::State::Open {
                        log(format!("client: reply {:?} received in {:?}", t.trim_end(), rx.state()));
                    }
                    if print_replies {
                        print!("{t}");
                    }
                }
                Event::Message(m) => {
                    let expected = if echo { seed::stamped(&base, acks) } else { bytes::Bytes::new() };
                    let len = m.len() as u64;
                    if !echo || m.into_payload() != expected {
                        mismatch.get_or_insert(format!("message {acks} differs from what was sent"));
                    }
                    acked += len;
                    acks += 1;
                }
                Event::CloseReceived { frame, .. } => log(format!("client: server Close {} received", frame.code)),
                Event::Closed(o) => log(format!("client: Closed ({})", describe(&o))),
                _ => {}
            }
        }
        log("client: TCP released".into());
        Ok((acked, acks, mismatch))
    });

    let base = seed::payload(0, size);
    let progress = Progress::new(args.messages, !args.json && std::io::stderr().is_terminal());
    let mut send_error = None;
    for i in 0..args.messages {
        let payload = if echo { seed::stamped(&base, i) } else { base.clone() };
        if let Err(e) = tx.send_binary(payload) {
            send_error = Some(e);
            break;
        }
        progress.update(i + 1);
    }
    progress.finish();
    if send_error.is_none() {
        log(format!("client: {} messages sent; close-output ({:?})", args.messages, args.close));
        let r = match args.close {
            CloseMode::Output => tx.close(1000, "").map(|()| None),
            CloseMode::Wait => tx.close_and_wait(1000, "").map(Some),
        };
        log(format!("client: Close sent -> {:?}", tx.state()));
        if let Err(e) = r {
            send_error = Some(e);
        }
    }
    let (acked, acks, mismatch) = reader.join().map_err(|_| Error::Closed(Outcome::Aborted))??;
    let outcome = tx.outcome();
    let mut close = outcome.as_ref().map_or("unfinished".into(), describe);
    if let Some(m) = mismatch {
        close = format!("{close}; {m}");
    }
    if let Some(e) = send_error {
        close = format!("{close}; send failed: {e}");
    }
    let stats = tx.stats();
    Ok(Summary {
        bytes_sent: stats.sent.payload_bytes,
        bytes_acked: acked,
        acks,
        elapsed_s: start.elapsed().as_secs_f64(),
        messages: stats.sent.messages,
        close,
    })
}

/// A progress bar on stderr, only on a terminal.
struct Progress {
    total: u64,
    on: bool,
    last: Mutex<u64>,
}

impl Progress {
    fn new(total: u64, on: bool) -> Self {
        Progress { total: total.max(1), on, last: Mutex::new(u64::MAX) }
    }

    fn update(&self, done: u64) {
        if !self.on {
            return;
        }
        let pct = done * 100 / self.total;
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last != pct {
            *last = pct;
            let bar: String = (0..40).map(|i| if i * 100 < pct * 40 { '#' } else { '.' }).collect();
            eprint!("\r[{bar}] {pct:3}% ({done}/{})", self.total);
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&self) {
        if self.on {
            eprintln!();
        }
    }
}
