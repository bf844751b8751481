//! The async socket of wsduplex, written once over a small runtime trait, the way quinn keeps
//! its runtime behind `Runtime`: [`Shared`] runs the core's driver (`wsduplex_core::driver`)
//! over any stream whose runtime implements [`Io`]. `wsduplex-smol` and `wsduplex-tokio`
//! implement [`Io`] for their own sockets and timers and generate their public `WebSocket`,
//! `Sender` and `Receiver` around [`Shared`] with `wsduplex_core::socket_api!`; a fix or an
//! optimisation of the async socket lands here once for both.
//!
//! Applications use `wsduplex-smol` or `wsduplex-tokio`, not this crate.
//!
//! What [`Shared`] guarantees, for every runtime:
//!
//! - **Reading while writing.** While a task streams data out, the receiving task waits for the
//!   socket to become readable without reading, and leaves the input to the writing task,
//!   which reads it between two writes and wakes the receiver. On Linux a TCP socket is locked
//!   for each `send` and `recv`: a `recv` from another executor thread during a large `send`
//!   blocks that thread in the kernel, where it is woken again for every send that follows. A
//!   writer stuck in one write does not strand the input: after 1 ms without a completed
//!   write the receiver reads itself. Streams that cannot wait for input without reading it
//!   (TLS ...) read as before.
//! - **Cancellation.** Dropping any future at any await point loses no data and leaves the
//!   socket usable: received bytes are handed to the core in the same poll that read them
//!   (events stay queued for the next `recv`); a message is either queued whole or not at all;
//!   a partly written buffer is resumed exactly where it stopped.
//! - **Bounds.** Close timeouts, reply deadlines and the EOF wait fire while a task awaits a
//!   read; each write is bounded by `SocketConfig::write_timeout`; the core refuses to queue
//!   more than `send_buffer_limit` bytes, and a send waits for the buffer to drain.

mod change;
mod polling;
mod side;
mod socket;

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use polling::{Pending, Polling, SinkOp};
pub use socket::Shared;

#[doc(hidden)]
pub use wsduplex_core::socket_api;

/// A runtime's whole socket module: given its TCP stream type and its [`Io`] half type, the
/// public `WebSocket`, `Sender`, `Receiver`, `connect`, `accept` ... (`socket_api!`), their
/// `Stream` and `Sink` impls ([`stream_sink!`]) and `connect_tcp` over `Shared`. The caller
/// has its `AsyncStream` bound in scope.
#[macro_export]
macro_rules! async_transport {
    ($tcp:ty, $half:ident) => {
        /// The connection's state behind every handle.
        type Shared<S> = $crate::Shared<$half<S>>;

        /// What each handle keeps in flight for its `Stream` and `Sink` impls.
        type Polling = $crate::Polling;

        $crate::socket_api!(async, AsyncStream = $tcp, clock = std::time::Instant::now);
        $crate::stream_sink!(AsyncStream);

        /// A TCP connection to `address`, within `timeout`.
        async fn connect_tcp(address: &str, timeout: std::time::Duration) -> std::io::Result<$tcp> {
            $crate::timed::<$half<$tcp>, _>(timeout, "connect timed out", <$tcp>::connect(address)).await
        }
    };
}

#[doc(hidden)]
pub use futures_core;
#[doc(hidden)]
pub use futures_lite;
#[doc(hidden)]
pub use futures_sink;

/// What [`stream_sink!`] names, wherever it expands.
#[doc(hidden)]
pub mod reexport {
    pub use wsduplex_core::driver::{Command, SocketError};
    pub use wsduplex_core::{CloseFrame, Event, LocalError, Message};
}

/// What a runtime provides for one stream: two handles to it (one polled for reading, the
/// other for writing, by two tasks at once) and a timer.
///
/// A socket (TCP, Unix) is simply shared by its two handles: reads and writes never wait for
/// each other, and it can wait for input without reading it ([`Io::readable`]). Any other
/// stream (TLS ...) is shared behind a lock held only inside a poll, and says so with
/// [`Io::is_socket`] false.
pub trait Io: Sized + Send + 'static {
    /// The stream the handles are made from.
    type Stream;

    /// The two handles to `stream`: the first for reading, the second for writing.
    fn pair(stream: Self::Stream) -> (Self, Self);

    /// True if this can wait for input without reading it ([`Io::readable`], [`Io::try_read`]).
    fn is_socket(&self) -> bool;

    /// A socket: waits until input has arrived, without taking it.
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;

    /// A socket: reads what has arrived without waiting, and without changing any task's
    /// wakeup registration. Other streams: `WouldBlock`.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Shuts a socket down in the direction asked, at once; `None` for any other stream, which
    /// can only close its write side ([`Io::poll_close`]) and is released when the last handle
    /// drops.
    fn shutdown_now(&self, how: Shutdown) -> Option<io::Result<()>>;

    /// Reads into `buf`.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes from `bufs`, in one vectored write where the stream can.
    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>>;

    /// Flushes what the stream buffers (a TLS session's records).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Closes the write side of a stream that is not a socket (TLS: close_notify).
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Completes at `at`: the runtime's timer.
    fn sleep_until(at: Instant) -> impl Future<Output = ()> + Send;
}

/// `stream` itself if it is a `T` (a runtime's own socket type, which its handles share
/// without a lock), otherwise `stream` back: for [`Io::pair`].
pub fn downcast<S: 'static, T: 'static>(stream: S) -> Result<T, S> {
    let mut slot = Some(stream);
    let taken = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<T>>().and_then(Option::take);
    match (taken, slot) {
        (Some(t), _) => Ok(t),
        (None, Some(s)) => Err(s),
        (None, None) => unreachable!("the stream is taken only as a `T`"),
    }
}

/// The two handles [`Io::pair`] returns, both made by `half` from one shared value.
pub fn both<T, H>(shared: Arc<T>, half: impl Fn(Arc<T>) -> H) -> (H, H) {
    (half(shared.clone()), half(shared))
}

/// Polls a stream that is not a socket, shared by its two handles behind a lock held only
/// inside the poll.
pub fn poll_locked<S: Unpin, T>(
    stream: &Mutex<S>,
    f: impl FnOnce(Pin<&mut S>) -> Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    f(Pin::new(&mut *stream.lock().unwrap_or_else(PoisonError::into_inner)))
}

/// Writes `bufs` to a socket that does not block, with send(2) (one buffer) or sendmsg(2):
/// the runtimes' own writes are writev(2), whose path through the file layer cost about
/// 0.4 µs of a small echo's 6-8 µs of system time more than a socket call (`cargo bench -p
/// wsduplex-bench --bench many`, BENCHMARKS.md). A peer gone is an error, never SIGPIPE
/// (`MSG_NOSIGNAL`, where the platform has it): a program that does not ignore the signal
/// (a C host, a binary built to die on a broken pipe) would be killed by it.
pub fn send_now(socket: socket2::SockRef<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    match bufs {
        [one] => socket.send_with_flags(one, NO_SIGNAL),
        _ => socket.send_vectored_with_flags(bufs, NO_SIGNAL),
    }
}

#[cfg(not(any(target_vendor = "apple", windows)))]
const NO_SIGNAL: std::ffi::c_int = libc::MSG_NOSIGNAL;
// Apple's sockets have no such flag (their runtimes set `SO_NOSIGPIPE`); Windows has no signal.
#[cfg(any(target_vendor = "apple", windows))]
const NO_SIGNAL: std::ffi::c_int = 0;

/// `f`'s result, or a `TimedOut` error saying `what` once `limit` has passed on `I`'s timer.
pub async fn timed<I: Io, T>(limit: Duration, what: &str, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    let expire = async {
        match Instant::now().checked_add(limit) {
            Some(at) => I::sleep_until(at).await,
            None => std::future::pending().await,
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, what))
    };
    futures_lite::future::or(f, expire).await
}
