//! What tokio provides for a stream ([`wsduplex_async::Io`]): the two halves a socket is read
//! and written through, and tokio's timer.

use std::future::Future;
use std::io::{self, ErrorKind, IoSlice, Read};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use wsduplex_async::{both, downcast, poll_locked, send_now};

/// What a stream must be: readable and writable from two tasks at once through its halves.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncStream for T {}

/// One of the two handles to the stream: the read side polls one for reading, the write side
/// the other for writing. A TCP or Unix socket is split into tokio's owned halves (reads and
/// writes never wait for each other; it can wait for input without reading it: tokio's
/// readiness API on the socket each half refers to); any other stream (TLS ...) is shared
/// behind a lock held only inside a poll. Unlike `tokio::io::split`, writes stay vectored.
pub(crate) struct Half<S>(Inner<S>);

enum Inner<S> {
    /// Read through tokio's own `AsyncRead` for the half: one readiness check per read, where
    /// `try_io` on the shared socket made two (160 instructions per small echo, callgrind).
    TcpRead(tokio::net::tcp::OwnedReadHalf),
    TcpWrite(tokio::net::tcp::OwnedWriteHalf),
    #[cfg(unix)]
    UnixRead(tokio::net::unix::OwnedReadHalf),
    #[cfg(unix)]
    UnixWrite(tokio::net::unix::OwnedWriteHalf),
    Locked(Arc<Mutex<S>>),
}

/// The readiness API both tokio socket types share, so each operation is written once.
trait Socket: Sync {
    fn poll_ready(&self, cx: &mut Context<'_>, write: bool) -> Poll<io::Result<()>>;
    fn try_read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn try_write_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn shutdown_now(&self, how: Shutdown) -> io::Result<()>;
}

macro_rules! socket {
    ($t:ty) => {
        impl Socket for $t {
            fn poll_ready(&self, cx: &mut Context<'_>, write: bool) -> Poll<io::Result<()>> {
                if write { self.poll_write_ready(cx) } else { self.poll_read_ready(cx) }
            }
            fn try_read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
                let mut short = 0;
                let read = self.try_io(Interest::READABLE, || {
                    let n = (&*socket2::SockRef::from(self)).read(buf)?;
                    if DRAINED_BY_SHORT_READ && 0 < n && n < buf.len() {
                        // Drained: the readiness goes now, not after a read that finds nothing.
                        short = n;
                        return Err(ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                });
                match read {
                    Err(e) if e.kind() == ErrorKind::WouldBlock && short > 0 => Ok(short),
                    r => r,
                }
            }
            fn try_write_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                self.try_io(Interest::WRITABLE, || send_now(socket2::SockRef::from(self), bufs))
            }
            fn shutdown_now(&self, how: Shutdown) -> io::Result<()> {
                socket2::SockRef::from(self).shutdown(how)
            }
        }
    };
}
socket!(TcpStream);
#[cfg(unix)]
socket!(UnixStream);

/// A read that returns less than it asked for has drained the socket, so the readiness it
/// was given is cleared with it: the task then waits for the next edge instead of first making
/// a read that finds nothing (one `recvfrom` per message wait on a request/response
/// connection). tokio's own `AsyncRead` for `TcpStream` does the same, under the same
/// condition: an edge-triggered selector (epoll, kqueue), where data that arrives after the
/// read is a new edge with a new tick, which `try_io`'s clearing leaves alone; a closed read
/// side is never cleared. On the others (Windows, `poll`) a read that finds nothing clears it.
const DRAINED_BY_SHORT_READ: bool = cfg!(all(
    not(mio_unsupported_force_poll_poll),
    any(
        target_os = "android",
        target_os = "illumos",
        target_os = "linux",
        target_os = "redox",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "ios",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "tvos",
        target_os = "visionos",
        target_os = "watchos",
    )
));

/// Polls `op` until it stops saying `WouldBlock`: tokio clears the readiness it reported when
/// the operation finds none, so the next poll registers the task's waker. The operation goes
/// first (`try_io` itself checks the readiness tokio knows of, without a system call): a
/// socket is writable far more often than not, and asking first cost every write a second
/// look at it.
fn poll_io<T>(
    s: &dyn Socket,
    cx: &mut Context<'_>,
    write: bool,
    mut op: impl FnMut(&dyn Socket) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        match op(s) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => ready!(s.poll_ready(cx, write))?,
            r => return Poll::Ready(r),
        }
    }
}

/// One read of `stream` into `buf`.
fn read_into<R: AsyncRead + ?Sized>(
    stream: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut read = ReadBuf::new(buf);
    ready!(stream.poll_read(cx, &mut read))?;
    Poll::Ready(Ok(read.filled().len()))
}

impl<S> Half<S> {
    fn socket(&self) -> Option<&dyn Socket> {
        match &self.0 {
            Inner::TcpRead(h) => Some(h.as_ref()),
            Inner::TcpWrite(h) => Some(h.as_ref()),
            #[cfg(unix)]
            Inner::UnixRead(h) => Some(h.as_ref()),
            #[cfg(unix)]
            Inner::UnixWrite(h) => Some(h.as_ref()),
            Inner::Locked(_) => None,
        }
    }

    fn locked<T>(&self, f: impl FnOnce(Pin<&mut S>) -> Poll<io::Result<T>>) -> Poll<io::Result<T>>
    where
        S: Unpin,
    {
        match &self.0 {
            Inner::Locked(s) => poll_locked(s, f),
            _ => Poll::Ready(Err(ErrorKind::Unsupported.into())),
        }
    }
}

impl<S: AsyncStream> wsduplex_async::Io for Half<S> {
    type Stream = S;

    fn pair(stream: S) -> (Half<S>, Half<S>) {
        let socket = downcast(stream).map(|tcp: TcpStream| {
            let (r, w) = tcp.into_split();
            (Inner::TcpRead(r), Inner::TcpWrite(w))
        });
        #[cfg(unix)]
        let socket = socket.or_else(|s| {
            downcast(s).map(|u: UnixStream| {
                let (r, w) = u.into_split();
                (Inner::UnixRead(r), Inner::UnixWrite(w))
            })
        });
        let (r, w) = socket.unwrap_or_else(|s| both(Arc::new(Mutex::new(s)), Inner::Locked));
        (Half(r), Half(w))
    }

    fn is_socket(&self) -> bool {
        self.socket().is_some()
    }

    async fn readable(&self) -> io::Result<()> {
        match self.socket() {
            Some(s) => std::future::poll_fn(|cx| s.poll_ready(cx, false)).await,
            None => Ok(()),
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self.socket() {
            Some(s) => s.try_read_now(buf),
            None => Err(ErrorKind::WouldBlock.into()),
        }
    }

    fn shutdown_now(&self, how: Shutdown) -> Option<io::Result<()>> {
        self.socket().map(|s| s.shutdown_now(how))
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match &mut self.0 {
            Inner::TcpRead(h) => read_into(Pin::new(h), cx, buf),
            #[cfg(unix)]
            Inner::UnixRead(h) => read_into(Pin::new(h), cx, buf),
            _ => match self.socket() {
                // The write half is never read; were it, the same read as before.
                Some(s) => poll_io(s, cx, false, |s| s.try_read_now(buf)),
                None => self.locked(|s| read_into(s, cx, buf)),
            },
        }
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self.socket() {
            Some(s) => poll_io(s, cx, true, |s| s.try_write_now(bufs)),
            None => self.locked(|s| s.poll_write_vectored(cx, bufs)),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket() {
            Some(_) => Poll::Ready(Ok(())),
            None => self.locked(|s| s.poll_flush(cx)),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket() {
            Some(_) => Poll::Ready(Ok(())),
            None => self.locked(|s| s.poll_shutdown(cx)),
        }
    }

    fn sleep_until(at: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at))
    }
}
