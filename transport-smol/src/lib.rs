//! Async transport for [`wsduplex_core`] on smol: drives the sans-IO machine over an
//! [`async_net::TcpStream`] (or any `AsyncRead + AsyncWrite` stream, TLS included), the twin of
//! `wsduplex-std` with the same names and shape, differing only in how it waits.
//!
//! ```no_run
//! use wsduplex_smol::{SocketConfig, Event, Message, connect};
//!
//! smol::block_on(async {
//!     let ws = connect("ws://127.0.0.1:9000/", SocketConfig::default()).await?;
//!     let (tx, rx) = ws.split();
//!     let reader = smol::spawn(async move {
//!         // Replies keep arriving after our Close, until the server's own Close.
//!         while let Some(event) = rx.recv().await? {
//!             if let Event::Message(Message::Text(t)) = event {
//!                 print!("{t}");
//!             }
//!         }
//!         Ok::<_, wsduplex_smol::SocketError>(rx.outcome())
//!     });
//!     for _ in 0..1024 {
//!         tx.send_binary(vec![0u8; 128 << 10]).await?;
//!     }
//!     tx.close(1000, "").await?; // close-output: the reader still gets the final tally
//!     let outcome = reader.await?;
//!     assert!(outcome.is_some_and(|o| o.is_clean()));
//!     Ok::<(), wsduplex_smol::SocketError>(())
//! })?;
//! # Ok::<(), wsduplex_smol::SocketError>(())
//! ```
//!
//! **Tasks.** [`WebSocket`] is the single-owner socket: its sending and receiving methods take
//! `&mut self`, and while it is its connection's only handle (not split, no `Stream` or `Sink`
//! operation in flight) they run without the connection's locks, a receive reading straight
//! into it. [`WebSocket::split`] gives a [`Sender`] and a [`Receiver`] for two tasks. Any future that waits drives the connection:
//! it races the read, pending writes, the core's next deadline (an `async-io` timer) and a
//! notification from the other half. Reading never waits on a write, so two peers streaming at
//! each other cannot stall each other.
//!
//! **Reading while writing.** While a task streams data out, the receiving task waits for the
//! socket to become readable without reading, and leaves the input to the writing task, which
//! reads it between two writes and wakes the receiver. On Linux a TCP socket is locked for each
//! `send` and `recv`: a `recv` from another executor thread during a large `send` blocks that
//! thread in the kernel, where it is woken again for every send that follows (hundreds of times
//! per 128 MiB: ~500 such sleeps for the async seed client before, 0-3 since; BENCHMARKS.md).
//! A writer stuck in one write (a peer that reads nothing until it has written everything)
//! does not strand the input: after 1 ms without a completed write the receiver reads itself.
//! TCP and Unix sockets do this; other streams (TLS ...) read as before.
//!
//! **Cancellation.** Dropping any future of this crate at any await point loses no data and
//! leaves the socket usable: received bytes are handed to the core in the same poll that read
//! them (events stay queued for the next `recv`); a message is either queued whole or not at
//! all (a queued one goes out with the next operation that writes: any send, recv or close);
//! a partly written buffer is resumed exactly where it stopped.
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
//! **Batching.** `send` writes before it returns, except on a split socket whose [`Receiver`]
//! is waiting in `recv`: a [`Sender`]'s message is then left to that task (while less than 64
//! KiB is queued), which writes everything queued in one vectored write before it hands out
//! anything, and `send` returns at once. The receiving task runs when its executor gets to it
//! (on one thread, when the sending task next waits); `flush` waits until everything is
//! written. A `recv` cancelled while it owes such a write (its future dropped, as `select!`
//! does) leaves it to the next call of either half. So a burst of small sends costs a few
//! writes, not one each (BENCHMARKS.md: the pipelined echo of 100 000 messages of 64 B over
//! tokio takes about a thousand writes, both ends together). `feed` only queues: what was fed
//! goes out with the next `send`, `flush` or `close`, or when `recv` has handed out every event
//! already received. An echo or request/response server that answers with `feed` writes one
//! reply buffer per batch of requests.
//!
//! **Bounds.** Close timeouts, reply deadlines and the EOF wait fire while a task awaits a
//! read; each write is bounded by [`SocketConfig::write_timeout`]; the core refuses to queue more
//! than `send_buffer_limit` bytes, and a send waits for the buffer to drain. A write to a peer
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

/// This crate's README, whose example runs as a doctest so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadme;
