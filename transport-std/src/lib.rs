//! Blocking transport for [`wsduplex_core`]: drives the sans-IO machine over a
//! [`std::net::TcpStream`] (or any [`Stream`]), with nothing added but reading, writing, timers
//! and waking the other half.
//!
//! ```no_run
//! use wsduplex_std::{SocketConfig, Event, Message, connect};
//!
//! let ws = connect("ws://127.0.0.1:9000/", SocketConfig::default())?;
//! let (tx, rx) = ws.split();
//! let reader = std::thread::spawn(move || {
//!     // Replies keep arriving after our Close, until the server's own Close.
//!     while let Some(event) = rx.recv()? {
//!         if let Event::Message(Message::Text(t)) = event {
//!             print!("{t}");
//!         }
//!     }
//!     Ok::<_, wsduplex_std::SocketError>(rx.outcome())
//! });
//! for _ in 0..1024 {
//!     tx.send_binary(vec![0u8; 128 << 10])?;
//! }
//! tx.close(1000, "")?; // close-output: the reader still gets the final tally
//! let outcome = reader.join().expect("reader thread")?;
//! assert!(outcome.is_some_and(|o| o.is_clean()));
//! # Ok::<(), wsduplex_std::SocketError>(())
//! ```
//!
//! **Threads.** [`WebSocket`] is the single-owner socket (its sending and receiving methods
//! take `&mut self`); [`WebSocket::split`] gives a [`Sender`] and a [`Receiver`] for two
//! threads. Any thread that waits (in `recv`, in a send
//! that must flush, in `close_and_wait`) drives the connection: one reads while the others
//! wait on a condition variable, and nobody ever holds the connection's lock across I/O, so a
//! send blocked on a slow peer never stops the other half from reading.
//!
//! **Reading while writing.** While a thread streams data out (a flush of 16 KiB or more,
//! `driver::HANDOFF_MIN_WRITE`), the receiving thread waits for
//! input with `poll(2)` instead of inside `recv`, and leaves what arrives to the writing
//! thread, which reads it between two writes and wakes the receiver with the events. Small
//! writes hold the socket for microseconds: beside them the receiver just reads. On Linux
//! a TCP socket is locked for each `send` and `recv`: a receiver blocked in `recv` next to a
//! busy writer is woken again and again to find the lock taken (hundreds of times per 128 MiB),
//! and each of those wakeups is paid by the writer (`perf record -e sched:sched_switch`:
//! ~360 such sleeps per 128 MiB for the seed client before, 0-3 since; BENCHMARKS.md). A
//! writer stuck in one write (a peer that reads nothing until it has written everything) does
//! not strand the input: after 1 ms without a completed write the receiver reads itself.
//! Streams that cannot wait for input without reading it ([`Stream::wait_readable`], e.g. a TLS
//! stream of your own) keep the plain blocking read.
//!
//! **TLS.** With the `rustls` feature, `wss://` URLs just work and a server given
//! `SocketConfig::tls_server` accepts TLS ([`tls`] builds the configurations). TLS runs in
//! the driver over rustls' sans-IO session, above the plain TCP stream, so the two halves of a
//! split socket still read and write at once (a TLS stream object could not be read by one
//! thread while another writes to it); see `wsduplex_core::tls`.
//!
//! **Batching.** `send` writes before it returns, except on a split socket whose [`Receiver`]
//! waits in `recv` (Linux): it then waits in `poll(2)` on the socket and an eventfd, a
//! [`Sender`]'s message is left to it while less than 64 KiB is queued, and it writes
//! everything queued in one vectored write before it hands out anything; `send` returns at
//! once, and `flush` waits until everything is written. A burst of small sends costs a few
//! writes, not one each (BENCHMARKS.md: a pipelined echo of 64-byte messages at 19x
//! tungstenite's rate). `feed` only queues: what was fed goes out with the next `send`, `flush`
//! or `close`, or when `recv` has handed out every event already received. An echo or
//! request/response server that answers with `feed` writes one reply buffer per batch of
//! requests, and all queued frames leave in one vectored write.
//!
//! **Bounds.** Reads wake at the core's next deadline (and at least every 100 ms), so close
//! timeouts, reply deadlines and the EOF wait fire while a thread is blocked in a read. Writes
//! are bounded by [`SocketConfig::write_timeout`]; the core refuses to queue more than
//! `send_buffer_limit` bytes, and a send flushes before it returns. A write to a peer that has
//! gone fails with an error, never a `SIGPIPE` (`MSG_NOSIGNAL`), in a host that does not
//! ignore the signal too.

mod socket;
mod stream;

// The socket's API, as `wsduplex_core::socket_api!` writes it: the same names in every transport.
pub use socket::*;
pub use stream::Stream;
#[doc(inline)]
pub use wsduplex_core::exports::*;

/// This crate's README, whose example runs as a doctest so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadme;
