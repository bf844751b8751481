//! Async transport for [`wsduplex_core`] on tokio: drives the sans-IO machine over a
//! [`tokio::net::TcpStream`] (or any tokio `AsyncRead + AsyncWrite` stream, TLS included), the
//! twin of `wsduplex-smol` and `wsduplex-std` with the same names and shape. Native tokio: its
//! sockets' readiness, its timer, its wakeups — no compatibility layer, no second reactor.
//! Works on the multi-threaded and on the current-thread runtime.
//!
//! ```no_run
//! use wsduplex_tokio::{SocketConfig, Event, Message, connect};
//!
//! # async fn run() -> Result<(), wsduplex_tokio::SocketError> {
//! let ws = connect("ws://127.0.0.1:9000/", SocketConfig::default()).await?;
//! let (tx, rx) = ws.split();
//! let reader = tokio::spawn(async move {
//!     // Replies keep arriving after our Close, until the server's own Close.
//!     while let Some(event) = rx.recv().await? {
//!         if let Event::Message(Message::Text(t)) = event {
//!             print!("{t}");
//!         }
//!     }
//!     Ok::<_, wsduplex_tokio::SocketError>(rx.outcome())
//! });
//! for _ in 0..1024 {
//!     tx.send_binary(vec![0u8; 128 << 10]).await?;
//! }
//! tx.close(1000, "").await?; // close-output: the reader still gets the final tally
//! let outcome = reader.await.expect("reader task")?;
//! assert!(outcome.is_some_and(|o| o.is_clean()));
//! # Ok(())
//! # }
//! ```
//!
//! A server: one task per connection; this one echoes until the client's Close, then closes
//! (a loop on `recv` that replies to `Event::CloseReceived` with `close` can send its last
//! messages first, as the seed server sends its final tally):
//!
//! ```no_run
//! use wsduplex_tokio::{Event, SocketConfig, accept};
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = accept(stream, SocketConfig::default()).await?;
//!         while let Some(event) = ws.recv().await? {
//!             match event {
//!                 Event::Message(m) => ws.send(m).await?,
//!                 Event::CloseReceived { frame, .. } => ws.close(frame.code, "").await?,
//!                 _ => {}
//!             }
//!         }
//!         Ok::<_, wsduplex_tokio::SocketError>(ws.outcome())
//!     });
//! }
//! # }
//! ```
//!
//! **Tasks.** [`WebSocket`] is the single-owner socket: its sending and receiving methods take
//! `&mut self`, and while it is its connection's only handle (not split, no `Stream` or `Sink`
//! operation in flight) they run without the connection's locks, a receive reading straight
//! into it. [`WebSocket::split`] gives a [`Sender`] and a [`Receiver`] for two tasks. Any future that waits drives the connection:
//! it races the read, pending writes, the core's next deadline (a tokio timer) and a
//! notification from the other half. Reading never waits on a write, so two peers streaming at
//! each other cannot stall each other. The async socket is written once, in `wsduplex-async`,
//! for tokio and smol alike; this crate only says how tokio reads, writes and sleeps.
//!
//! **Cancellation.** Every method is cancel-safe: dropping its future at any await point (in
//! `tokio::select!`, under `tokio::time::timeout`) loses no data and leaves the socket usable.
//! Received bytes are handed to the core in the same poll that read them (events stay queued
//! for the next `recv`); a message is either queued whole or not at all (a queued one goes out
//! with the next operation that writes: any send, recv or close); a partly written buffer is
//! resumed exactly where it stopped.
//!
//! **`futures` traits.** [`WebSocket`] and [`Receiver`] are `Stream`s of data messages that end
//! at the peer's Close; [`WebSocket`] and [`Sender`] are `Sink<Message>`s (`start_send` feeds,
//! `poll_flush` writes, `poll_close` sends our Close and writes it). Code written with
//! `StreamExt` / `SinkExt` for tokio-tungstenite's `WebSocketStream` ports by changing its
//! imports and its handshake call (`tests/ported.rs` in wsduplex-tokio ports tokio-tungstenite's
//! echo example: `read.try_filter(..).forward(write)` closes promptly). Two names differ:
//! `split()` is our own (it gives the `Sender` and `Receiver`, the sink and the stream), and
//! so is `Sender::close(code, reason)`: a sink's close is `SinkExt::close(&mut tx)`.
//! [`Receiver::into_stream`] gives every event instead.
//!
//! **Behind an HTTP server.** A server that already runs hyper or axum keeps its router: the
//! handler validates the request with `Request::try_from(&http_request)`, answers with
//! [`accept_response`] (or [`reject_response`]), and once hyper hands the connection over,
//! [`from_upgraded`] adopts it, open. A server whose HTTP stack read the head but did not
//! answer it uses [`accept_parsed`], with the bytes read past the head. `examples/axum.rs`
//! serves the seed beside an ordinary route; `tests/handoff.rs` runs the seed client through it.
//!
//! **Batching.** `send` writes before it returns, except on a split socket whose [`Receiver`]
//! is waiting in `recv`: a [`Sender`]'s message is then left to that task (while less than 64
//! KiB is queued), which writes everything queued in one vectored write before it hands out
//! anything, and `send` returns at once. The receiving task runs when its executor gets to it
//! (on tokio, when the sending task next waits); `flush` waits until everything is written. A
//! `recv` cancelled while it owes such a write (its future dropped, as `select!` does) leaves
//! it to the next call of either half. So a burst of small sends costs a few writes, not one
//! each (BENCHMARKS.md: the pipelined echo of 100 000 messages of 64 B over tokio takes about a
//! thousand writes, both ends together). `feed` only queues: what was fed goes out with the
//! next `send`, `flush` or `close`, or when `recv` has handed out every event already received.
//! An echo or request/response server that answers with `feed` writes one reply buffer per
//! batch of requests.
//!
//! **Bounds.** Close timeouts, reply deadlines and the EOF wait fire while a task awaits a
//! read; each write is bounded by [`SocketConfig::write_timeout`]; the core refuses to queue
//! more than `send_buffer_limit` bytes, and a send waits for the buffer to drain. A write to a peer
//! that has gone fails with an error, never a `SIGPIPE` (`MSG_NOSIGNAL`), in a host that does
//! not ignore the signal too.
//!
//! **TLS.** With the `rustls` feature, `wss://` URLs just work and a server given
//! `SocketConfig::tls_server` accepts TLS (`tls` builds the configurations). TLS runs in the
//! shared driver over rustls' sans-IO session, above the plain TCP stream, so the split halves
//! and the readiness-based reads stay as they are over TCP; see `wsduplex_core::tls`. A TLS
//! stream of your own goes to `connect_with` / `accept_with` as any stream.

mod socket;
mod stream;

// The socket's API, as `wsduplex_core::socket_api!` writes it: the same names in every transport.
pub use socket::*;
pub use stream::AsyncStream;
#[doc(inline)]
pub use wsduplex_core::exports::*;

/// The workspace README's examples (the core driven by hand, a tokio client and server) run as
/// doctests here, where both the core and tokio are at hand, so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;

/// This crate's README, whose example runs as a doctest so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadme;
