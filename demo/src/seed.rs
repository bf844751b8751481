//! The seed application (DESIGN.md, "Demo binaries"), sans-IO: the ack protocol, the server's
//! reactions to events, the client's bookkeeping and summary, the demo's close timeline. Every
//! transport's runner ([`crate::on_std`], [`crate::on_smol`]) and the tests use this one copy,
//! so the contract other tools drive stays exact.
//!
//! Protocol: the client streams binary messages; for every `chunk_size` bytes received the
//! server sends the text `Server got <chunk> bytes\n`; on the client's Close it sends
//! `Server got <remainder> bytes\n` from `CloseReceived`, then its own Close (1000). On the
//! path `/echo` the server instead echoes every message and sends no acks.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cli::ClientFlags;

use serde::Serialize;
use wsduplex_core::driver::{SocketConfig, SocketError};
use wsduplex_core::{Chunk, CloseFrame, Config, DataKind, Delivery, Event, Message, Outcome, State, Stats};

/// The default chunk size of the seed server (4 MiB).
pub const DEFAULT_CHUNK_SIZE: u64 = 4 << 20;

/// The demo servers' core configuration: streaming delivery (bounded memory whatever the
/// message size; the echo path switches to whole messages), acks every `chunk_size` bytes.
pub fn server_config(chunk_size: u64) -> Config {
    Config::default()
        .delivery(Delivery::Chunks)
        .chunk_size(Some(chunk_size))
        .max_frame_size(u64::MAX >> 1)
        .max_message_size(u64::MAX)
}

/// The demo servers' socket configuration: [`server_config`] and the transports' defaults.
pub fn server_socket_config(chunk_size: u64) -> SocketConfig {
    SocketConfig::default().core(server_config(chunk_size))
}

/// The Autobahn clients' configuration (every transport's): the seed server's echo, whole
/// messages, no acks; permessage-deflate offered when `AUTOBAHN_DEFLATE` is set and not
/// empty (cases 12 and 13 need it).
pub fn autobahn_client_config() -> SocketConfig {
    let mut config = server_socket_config(u64::MAX);
    config.core.chunk_size = None;
    config.core.delivery = wsduplex_core::Delivery::Messages;
    if std::env::var_os("AUTOBAHN_DEFLATE").is_some_and(|v| !v.is_empty()) {
        config.core.deflate = Some(wsduplex_core::DeflateConfig::default());
    }
    config
}

/// The chunk size a server configuration acks at.
pub fn chunk_size_of(config: &SocketConfig) -> u64 {
    config.core.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE)
}

/// How a served connection ended, on stderr when it was not clean.
pub fn report_connection(peer: &str, result: Result<Outcome, SocketError>) {
    match result {
        Ok(o) if o.is_clean() => {}
        Ok(o) => eprintln!("{peer}: {o}"),
        Err(e) => eprintln!("{peer}: {e}"),
    }
}

/// The timeline's line for the client starting its close.
pub fn closing(flags: &ClientFlags) -> String {
    format!("client: {} messages sent; close-{:?}", flags.messages, flags.close).to_lowercase()
}

/// The demo clients' core configuration: whole messages, large enough for `message_size`.
pub fn client_config(message_size: usize) -> Config {
    let d = Config::default();
    d.clone()
        .max_message_size(d.max_message_size.max(message_size as u64))
        .max_frame_size(d.max_frame_size.max(message_size as u64))
}

/// The text the server sends for `n` bytes received.
pub fn ack(n: u64) -> String {
    format!("Server got {n} bytes\n")
}

/// The byte count in an ack, if `text` is one.
pub fn parse_ack(text: &str) -> Option<u64> {
    text.strip_prefix("Server got ")?.strip_suffix(" bytes\n")?.parse().ok()
}

/// Payload of message number `index` (deterministic, so echoes can be checked byte for byte).
pub fn payload(index: u64, size: usize) -> Bytes {
    let seed = index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Bytes::from((0..size).map(|i| (seed >> ((i % 8) * 8)) as u8 ^ i as u8).collect::<Vec<u8>>())
}

/// Payload of message `index`: `base` with the index stamped in its first 8 bytes (one copy),
/// so an echo that is reordered, duplicated or altered is caught.
pub fn stamped(base: &Bytes, index: u64) -> Bytes {
    if base.len() < 8 {
        return base.clone();
    }
    let mut b = bytes::BytesMut::from(&base[..]);
    b[..8].copy_from_slice(&index.to_be_bytes());
    b.freeze()
}

/// What the server application does in response to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// Send a whole message.
    Send(Message),
    /// Send a piece of a message (streaming echo).
    Fragment(Chunk),
    /// Close (the reply in `CloseReceived`).
    Close(CloseFrame),
}

/// The seed server's logic for one connection.
#[derive(Debug, Clone)]
pub struct SeedServer {
    echo: bool,
    chunk_size: u64,
}

impl SeedServer {
    /// A server for a connection whose request path was `path`.
    pub fn new(path: &str, chunk_size: u64) -> Self {
        let echo = path == "/echo" || path.starts_with("/echo?");
        SeedServer { echo, chunk_size }
    }

    /// True on the `/echo` path.
    pub fn is_echo(&self) -> bool {
        self.echo
    }

    /// How this connection wants its messages: the acking server streams chunks (bounded
    /// memory whatever the message size); the echo takes whole messages, because a streaming
    /// echo would write back while a single-threaded peer is still writing, and both would wait.
    pub fn delivery(&self) -> Delivery {
        if self.echo { Delivery::Messages } else { Delivery::Chunks }
    }

    /// The reactions to `event`, in order.
    pub fn on_event(&mut self, event: &Event) -> Vec<Reaction> {
        match (event, self.echo) {
            (Event::ChunkBoundary { .. }, false) => vec![Reaction::Send(Message::Text(ack(self.chunk_size).into()))],
            (Event::CloseReceived { remainder, .. }, false) => {
                vec![Reaction::Send(Message::Text(ack(*remainder).into())), Reaction::Close(CloseFrame::normal())]
            }
            (Event::Message(m), true) => vec![Reaction::Send(m.clone())],
            (Event::Chunk(c), true) => vec![Reaction::Fragment(c.clone())],
            (Event::CloseReceived { frame, .. }, true) => vec![Reaction::Close(frame.echo())],
            _ => Vec::new(),
        }
    }
}

/// The seed client's bookkeeping: counts acks (or checks echoes) as events arrive and makes
/// the run's [`Summary`].
#[derive(Debug, Clone)]
pub struct SeedClient {
    echo: bool,
    base: Bytes,
    acked: u64,
    acks: u64,
    problem: Option<String>,
}

impl SeedClient {
    /// A client sending `message_size`-byte messages, acked or (`echo`) echoed.
    pub fn new(echo: bool, message_size: usize) -> Self {
        SeedClient { echo, base: payload(0, message_size), acked: 0, acks: 0, problem: None }
    }

    /// Payload of message `index`: stamped with its index when echoes are checked.
    pub fn message(&self, index: u64) -> Bytes {
        if self.echo { stamped(&self.base, index) } else { self.base.clone() }
    }

    /// Accounts for an event; returns the ack text when it is one (for printing).
    pub fn on_event(&mut self, event: &Event) -> Option<String> {
        let Event::Message(m) = event else { return None };
        match (m, self.echo) {
            (Message::Text(t), false) => match parse_ack(t) {
                Some(n) => {
                    self.acked += n;
                    self.acks += 1;
                    return Some(t.to_string());
                }
                None => {
                    self.problem.get_or_insert(format!("unexpected text {:?}", t.as_str()));
                }
            },
            (m, true) => {
                if m.kind() != DataKind::Binary || m.clone().into_payload() != stamped(&self.base, self.acks) {
                    self.problem.get_or_insert(format!("echo {} differs from what was sent", self.acks));
                }
                self.acked += m.len() as u64;
                self.acks += 1;
            }
            (Message::Binary(_), false) => {
                self.problem.get_or_insert("unexpected binary message".into());
            }
        }
        None
    }

    /// The run's summary, from the connection's final counts and outcome.
    pub fn summary(
        &self,
        stats: Stats,
        outcome: Option<&Outcome>,
        elapsed: Duration,
        send_error: Option<String>,
    ) -> Summary {
        let mut close = outcome.map_or("unfinished".into(), Outcome::to_string);
        for p in [self.problem.clone(), send_error.map(|e| format!("send failed: {e}"))].into_iter().flatten() {
            close = format!("{close}; {p}");
        }
        Summary {
            bytes_sent: stats.sent.payload_bytes,
            bytes_acked: self.acked,
            acks: self.acks,
            elapsed_s: elapsed.as_secs_f64(),
            messages: stats.sent.messages,
            close,
        }
    }
}

/// What happened when, for the demos' close timeline. The caller measures the times.
#[derive(Debug, Clone, Default)]
pub struct Timeline(Arc<Mutex<Vec<(Duration, String)>>>);

impl Timeline {
    /// Records `what` at `at` (time since the run started).
    pub fn log(&self, at: Duration, what: impl Into<String>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((at, what.into()));
    }

    /// Records `line`, if any, on `timeline`, if any (a timeline and the run's start).
    pub fn log_to(timeline: Option<(&Timeline, Instant)>, line: Option<String>) {
        if let (Some((t, start)), Some(line)) = (timeline, line) {
            t.log(start.elapsed(), line);
        }
    }

    /// The demo's closing report: the timeline, the summary, the server's outcome, and the
    /// verdict with the exit status.
    pub fn demo_report(&self, client: &Summary, server: &str, echo: bool) -> (String, u8) {
        let mut out = String::from("\nclose timeline:\n");
        for (t, what) in self.entries() {
            out += &format!("  {:>9.3} ms  {what}\n", t.as_secs_f64() * 1e3);
        }
        out += &format!("\nsummary: {}\nserver: {server}\n", client.to_json());
        if client.passed() && server == "clean" {
            out += if echo {
                "OK: every message echoed intact and in order, both sides closed cleanly."
            } else {
                "OK: every byte acknowledged, the final tally arrived after our Close, both sides closed cleanly."
            };
            (out, 0)
        } else {
            out += "FAILED";
            (out, 1)
        }
    }

    /// Entries in time order.
    pub fn entries(&self) -> Vec<(Duration, String)> {
        let mut v = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        v.sort_by_key(|e| e.0);
        v
    }

    /// The server's reaction to `event`, if it belongs on the close timeline.
    pub fn describe_reaction(event: &Event, reaction: &Reaction, state: State) -> Option<String> {
        match (event, reaction) {
            (Event::CloseReceived { .. }, Reaction::Send(Message::Text(t))) => {
                Some(format!("server: final tally {:?} sent in {state:?}", t.trim_end()))
            }
            (_, Reaction::Close(f)) => Some(format!("server: Close {} sent", f.code)),
            _ => None,
        }
    }

    /// The server's side of an event, if it belongs on the close timeline.
    pub fn describe_server(event: &Event, state: State) -> Option<String> {
        match event {
            Event::CloseReceived { frame, remainder } => {
                Some(format!("server: peer Close {} received -> {state:?}; remainder {remainder} bytes", frame.code))
            }
            Event::Closed(o) => Some(format!("server: Closed ({o})")),
            _ => None,
        }
    }

    /// The client's side of an event, if it belongs on the close timeline. `our_close_sent`:
    /// our Close had been written when the event was taken; a reply then arrived in CloseSent
    /// (the peer sends nothing after its own Close).
    pub fn describe_client(event: &Event, our_close_sent: bool) -> Option<String> {
        match event {
            Event::Message(Message::Text(t)) if our_close_sent => {
                Some(format!("client: reply {:?} received after our Close (CloseSent)", t.trim_end()))
            }
            Event::CloseReceived { frame, .. } => Some(format!("client: server Close {} received", frame.code)),
            Event::Closed(o) => Some(format!("client: Closed ({o})")),
            _ => None,
        }
    }
}

/// The contract's JSON line, field for field (DESIGN.md "Demo binaries").
#[derive(Serialize)]
struct JsonSummary<'a> {
    bytes_sent: u64,
    bytes_acked: u64,
    acks: u64,
    elapsed_s: f64,
    mib_per_s: f64,
    msgs_per_s: f64,
    close: &'a str,
}

/// What the client measured; `to_json` is the contract's summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Bytes acknowledged (or echoed, with `--echo`).
    pub bytes_acked: u64,
    /// Acks (or echoed messages) received.
    pub acks: u64,
    /// Seconds from connect to the end of the close.
    pub elapsed_s: f64,
    /// Messages sent.
    pub messages: u64,
    /// `clean` when the close handshake completed, else what happened.
    pub close: String,
}

impl Summary {
    /// The one-line JSON object of the CLI contract.
    pub fn to_json(&self) -> String {
        let secs = self.elapsed_s.max(1e-9);
        let line = JsonSummary {
            bytes_sent: self.bytes_sent,
            bytes_acked: self.bytes_acked,
            acks: self.acks,
            elapsed_s: self.elapsed_s,
            mib_per_s: self.bytes_sent as f64 / (1024.0 * 1024.0) / secs,
            msgs_per_s: self.messages as f64 / secs,
            close: &self.close,
        };
        // Plain numbers and a string: nothing here can fail to serialize.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// True when the run passed: everything acknowledged and a clean close.
    pub fn passed(&self) -> bool {
        self.bytes_acked == self.bytes_sent && self.close == "clean"
    }

    /// What a client prints at the end: the JSON line, or a sentence. The exit status of the
    /// contract: 0 only if the run passed.
    pub fn report(&self, json: bool) -> (String, u8) {
        let line = if json {
            self.to_json()
        } else {
            format!(
                "sent {} bytes, acknowledged {} in {} replies, {:.2} s; close: {}",
                self.bytes_sent, self.bytes_acked, self.acks, self.elapsed_s, self.close
            )
        };
        (line, if self.passed() { 0 } else { 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_round_trip_and_json() {
        assert_eq!(ack(4194304), "Server got 4194304 bytes\n");
        assert_eq!(parse_ack(&ack(17)), Some(17));
        assert_eq!(parse_ack("Server got x bytes\n"), None);
        let s =
            Summary { bytes_sent: 10, bytes_acked: 10, acks: 1, elapsed_s: 0.5, messages: 2, close: "clean".into() };
        assert!(s.passed());
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).expect("one JSON object");
        let keys: Vec<&str> = json.as_object().expect("object").keys().map(String::as_str).collect();
        let mut contract = ["bytes_sent", "bytes_acked", "acks", "elapsed_s", "mib_per_s", "msgs_per_s", "close"];
        contract.sort_unstable();
        assert_eq!(keys, contract, "exactly the contract's fields");
        assert_eq!((json["bytes_acked"].as_u64(), json["msgs_per_s"].as_f64()), (Some(10), Some(4.0)));
        assert_eq!(json["close"], "clean");
        let odd = Summary { close: "abnormal: \"quoted\"\n".into(), ..s };
        let back: serde_json::Value = serde_json::from_str(&odd.to_json()).expect("escaped");
        assert_eq!(back["close"], "abnormal: \"quoted\"\n");
    }

    #[test]
    fn server_reactions() {
        let mut s = SeedServer::new("/", 8);
        assert_eq!(
            s.on_event(&Event::ChunkBoundary { index: 1, received: 8 }),
            vec![Reaction::Send(Message::Text(ack(8).into()))]
        );
        let close = Event::CloseReceived { frame: CloseFrame::normal(), remainder: 3 };
        assert_eq!(
            s.on_event(&close),
            vec![Reaction::Send(Message::Text(ack(3).into())), Reaction::Close(CloseFrame::normal())]
        );
        let mut e = SeedServer::new("/echo", 8);
        assert!(e.is_echo());
        let m = Message::Binary(payload(1, 5));
        assert_eq!(e.on_event(&Event::Message(m.clone())), vec![Reaction::Send(m)]);
        assert!(e.on_event(&Event::ChunkBoundary { index: 1, received: 8 }).is_empty());
        assert_ne!(payload(1, 16), payload(2, 16));
    }

    #[test]
    fn client_bookkeeping() {
        let mut c = SeedClient::new(false, 4);
        assert_eq!(c.on_event(&Event::Message(Message::Text(ack(3).into()))), Some(ack(3)));
        let s = c.summary(Stats::default(), None, Duration::from_secs(1), None);
        assert_eq!((s.bytes_acked, s.acks, s.close.as_str()), (3, 1, "unfinished"));
        let mut e = SeedClient::new(true, 16);
        assert!(e.on_event(&Event::Message(Message::Binary(e.message(0)))).is_none());
        e.on_event(&Event::Message(Message::Binary(e.message(5))));
        let s = e.summary(Stats::default(), None, Duration::ZERO, None);
        assert!(s.close.contains("echo 1 differs"), "{}", s.close);
    }
}
