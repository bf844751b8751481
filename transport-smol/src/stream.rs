//! What the transport needs from a byte stream: the two halves a socket is read and written
//! through.

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use async_io::Async;
use async_net::TcpStream;
use futures_lite::io::{AsyncRead, AsyncWrite};

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
pub(crate) enum Half<S> {
    Tcp(TcpSocket),
    #[cfg(unix)]
    Unix(UnixSocket),
    /// Always `Some`; an `Option` only so the stream could be tried as the types above.
    Locked(Arc<Mutex<Option<S>>>),
}

impl<S: AsyncStream> Half<S> {
    pub(crate) fn pair(stream: S) -> (Half<S>, Half<S>) {
        let mut slot = Some(stream);
        // Measured (`cargo bench -p wsduplex-bench --bench seed`): with a lock, a read polled
        // while a large write is in its system call blocks a second thread on the lock.
        let any = &mut slot as &mut dyn std::any::Any;
        if let Some(tcp) = any.downcast_mut::<Option<TcpStream>>().and_then(Option::take) {
            let tcp = TcpSocket::from(tcp);
            return (Half::Tcp(tcp.clone()), Half::Tcp(tcp));
        }
        #[cfg(unix)]
        if let Some(unix) = any.downcast_mut::<Option<async_net::unix::UnixStream>>().and_then(Option::take) {
            let unix = UnixSocket::from(unix);
            return (Half::Unix(unix.clone()), Half::Unix(unix));
        }
        let s = Arc::new(Mutex::new(slot));
        (Half::Locked(s.clone()), Half::Locked(s))
    }

    /// True if this can wait for input without reading it ([`Half::readable`]).
    pub(crate) fn is_socket(&self) -> bool {
        !matches!(self, Half::Locked(_))
    }

    /// A socket: waits until input has arrived, without taking it.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        match self {
            Half::Tcp(a) => a.readable().await,
            #[cfg(unix)]
            Half::Unix(a) => a.readable().await,
            Half::Locked(_) => Ok(()),
        }
    }

    /// A socket: reads what has arrived without waiting, and without changing any task's
    /// wakeup registration.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        match self {
            Half::Tcp(a) => a.get_ref().read(buf),
            #[cfg(unix)]
            Half::Unix(a) => a.get_ref().read(buf),
            Half::Locked(_) => Err(ErrorKind::WouldBlock.into()),
        }
    }

    /// Shuts a socket down in the direction asked, at once; `None` for any other stream,
    /// which can only close its write side (`poll_close`) and is released when the last
    /// handle drops.
    pub(crate) fn shutdown_now(&self, how: Shutdown) -> Option<io::Result<()>> {
        match self {
            Half::Tcp(a) => Some(a.get_ref().shutdown(how)),
            #[cfg(unix)]
            Half::Unix(a) => Some(a.get_ref().shutdown(how)),
            Half::Locked(_) => None,
        }
    }

    pub(crate) fn poll<T>(
        &mut self,
        f: impl FnOnce(Pin<&mut dyn Duplex>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match self {
            Half::Tcp(a) => f(Pin::new(&mut &**a)),
            #[cfg(unix)]
            Half::Unix(a) => f(Pin::new(&mut &**a)),
            Half::Locked(s) => match &mut *s.lock().unwrap_or_else(PoisonError::into_inner) {
                Some(s) => f(Pin::new(s)),
                None => Poll::Ready(Err(ErrorKind::NotConnected.into())),
            },
        }
    }
}

/// Both directions of a stream, as one object type.
pub(crate) trait Duplex: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Duplex for T {}
