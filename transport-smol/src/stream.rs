//! What smol provides for a stream ([`wsduplex_async::Io`]): the two halves a socket is read
//! and written through, and async-io's timer.

use std::io::{self, ErrorKind, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use async_io::{Async, Timer};
use async_net::TcpStream;
#[cfg(unix)]
use async_net::unix::UnixStream;
use futures_lite::io::{AsyncRead, AsyncWrite};
use wsduplex_async::{both, downcast, poll_locked, send_now};

/// What a stream must be: readable and writable from two tasks through `io::split`.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncStream for T {}

type TcpSocket = Arc<Async<std::net::TcpStream>>;
#[cfg(unix)]
type UnixSocket = Arc<Async<std::os::unix::net::UnixStream>>;

/// One of the two handles to the stream: the read side polls one for reading, the write side
/// the other for writing. A TCP or Unix socket is simply shared (reads and writes never wait
/// for each other, and it can wait for input without reading it); any other stream (TLS ...)
/// is shared behind a lock held only inside a poll. Unlike `futures_lite::io::split`, writes
/// stay vectored.
pub(crate) struct Half<S> {
    inner: Inner<S>,
    /// The last read of this half found nothing, or little ([`SMALL_READ`]): the next one
    /// first waits for readability.
    drained: bool,
}

enum Inner<S> {
    Tcp(TcpSocket),
    #[cfg(unix)]
    Unix(UnixSocket),
    Locked(Arc<Mutex<S>>),
}

impl<S: AsyncStream> Half<S> {
    fn poll<T>(&mut self, f: impl FnOnce(Pin<&mut dyn Duplex>) -> Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &mut self.inner {
            Inner::Tcp(a) => f(Pin::new(&mut &**a)),
            #[cfg(unix)]
            Inner::Unix(a) => f(Pin::new(&mut &**a)),
            Inner::Locked(s) => poll_locked(s, |s| f(s)),
        }
    }
}

impl<S: AsyncStream> wsduplex_async::Io for Half<S> {
    type Stream = S;

    fn pair(stream: S) -> (Half<S>, Half<S>) {
        // Measured (`cargo bench -p wsduplex-bench --bench seed`): with a lock, a read polled
        // while a large write is in its system call blocks a second thread on the lock.
        let socket = downcast(stream).map(|tcp: TcpStream| both(TcpSocket::from(tcp), Inner::Tcp));
        #[cfg(unix)]
        let socket = socket.or_else(|s| downcast(s).map(|u: UnixStream| both(UnixSocket::from(u), Inner::Unix)));
        let (r, w) = socket.unwrap_or_else(|s| both(Arc::new(Mutex::new(s)), Inner::Locked));
        let half = |inner| Half { inner, drained: false };
        (half(r), half(w))
    }

    fn is_socket(&self) -> bool {
        !matches!(self.inner, Inner::Locked(_))
    }

    async fn readable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Tcp(a) => a.readable().await,
            #[cfg(unix)]
            Inner::Unix(a) => a.readable().await,
            Inner::Locked(_) => Ok(()),
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        match &self.inner {
            Inner::Tcp(a) => a.get_ref().read(buf),
            #[cfg(unix)]
            Inner::Unix(a) => a.get_ref().read(buf),
            Inner::Locked(_) => Err(ErrorKind::WouldBlock.into()),
        }
    }

    fn shutdown_now(&self, how: Shutdown) -> Option<io::Result<()>> {
        match &self.inner {
            Inner::Tcp(a) => Some(a.get_ref().shutdown(how)),
            #[cfg(unix)]
            Inner::Unix(a) => Some(a.get_ref().shutdown(how)),
            Inner::Locked(_) => None,
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match &self.inner {
            Inner::Tcp(a) => poll_read_socket(a, &mut self.drained, cx, buf),
            #[cfg(unix)]
            Inner::Unix(a) => poll_read_socket(a, &mut self.drained, cx, buf),
            Inner::Locked(_) => self.poll(|s| s.poll_read(cx, buf)),
        }
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match &self.inner {
            Inner::Tcp(a) => poll_send(a, cx, bufs),
            #[cfg(unix)]
            Inner::Unix(a) => poll_send(a, cx, bufs),
            Inner::Locked(_) => self.poll(|s| s.poll_write_vectored(cx, bufs)),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll(|s| s.poll_flush(cx))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll(|s| s.poll_close(cx))
    }

    async fn sleep_until(at: Instant) {
        Timer::at(at).await;
    }
}

/// A read that returned fewer bytes than this (and less than it asked for) is taken to have
/// drained a peer that sends little at a time: the next read waits for readability first.
const SMALL_READ: usize = 4 << 10;

/// Reads a socket: first the read, and the wait for readability only once a read found
/// nothing or returned a small part of what it asked for.
///
/// async-io's own `poll_read` reads first and waits only after a read found nothing, and its
/// readiness remembers the event that woke the task until the next wait, which then returns at
/// once and reads for nothing a second time: three `recvfrom` per message on a
/// request/response connection (the data and two that find nothing). Here the wakeup's event
/// is taken by the wait it ends, and a small short read (a request, an acknowledgement) is
/// followed by a wait, not a read: one `recvfrom` per message. A large short read is followed
/// by a read: on async-io every wait re-arms the registration and goes through the reactor,
/// and the seed stream, whose short reads are followed by more data at once, measured 1.04x
/// the time when every short read was followed by a wait, 1.06x with a 16 KiB bound and
/// 0.997x with this one (`bench/pairs.py`, 20-24 pairs of `seed-run wsduplex-async 5`).
fn poll_read_socket<T>(
    a: &Async<T>,
    drained: &mut bool,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: io::Read,
{
    use std::io::Read;
    loop {
        if *drained {
            ready!(a.poll_readable(cx))?;
            *drained = false;
        }
        match a.get_ref().read(buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => *drained = true,
            Ok(n) => {
                *drained = n > 0 && n < buf.len() && n < SMALL_READ;
                return Poll::Ready(Ok(n));
            }
            res => return Poll::Ready(res),
        }
    }
}

/// Writes to a socket ([`send_now`]), waiting for writability while it takes nothing.
fn poll_send<T>(a: &Async<T>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>>
where
    for<'a> socket2::SockRef<'a>: From<&'a T>,
{
    loop {
        match send_now(socket2::SockRef::from(a.get_ref()), bufs) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => ready!(a.poll_writable(cx))?,
            res => return Poll::Ready(res),
        }
    }
}

/// Both directions of a stream, as one object type.
trait Duplex: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Duplex for T {}
