//! What the transport needs from a byte stream, and the operating system's randomness.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A duplex byte stream that one thread can read while another writes.
///
/// Implemented for [`TcpStream`] and (on Unix) `UnixStream`. A TLS stream plugs in by
/// implementing this for a handle whose read and write sides share the session.
pub trait Stream: Read + Write + Send + Sized + 'static {
    /// A second handle to the same stream (one is read, the other written).
    fn try_clone(&self) -> io::Result<Self>;
    /// Bounds the next blocking read.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Bounds every blocking write.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Shuts down one or both directions.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    /// Writes what fits without blocking (`WouldBlock` if nothing does). The thread that reads
    /// uses it to send pongs and close replies: it must never block on a peer that is itself
    /// blocked writing to us. The default blocks; TCP and Unix sockets override it.
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }
    /// [`Self::try_write`] of several buffers in one call. The default writes the first
    /// non-empty one; TCP and Unix sockets write them all at once.
    fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.try_write(b),
            None => Ok(0),
        }
    }
}

/// `send(2)` without blocking and without SIGPIPE.
#[cfg(unix)]
fn send_nonblocking(socket: socket2::SockRef<'_>, buf: &[u8]) -> io::Result<usize> {
    socket.send_with_flags(buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
}

/// `sendmsg(2)` of several buffers, without blocking and without SIGPIPE.
#[cfg(unix)]
fn send_vectored_nonblocking(socket: socket2::SockRef<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    socket.send_vectored_with_flags(bufs, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
}

impl Stream for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
    #[cfg(unix)]
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_nonblocking(socket2::SockRef::from(&*self), buf)
    }
    #[cfg(unix)]
    fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored_nonblocking(socket2::SockRef::from(&*self), bufs)
    }
}

#[cfg(unix)]
impl Stream for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, how)
    }
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_nonblocking(socket2::SockRef::from(&*self), buf)
    }
    fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored_nonblocking(socket2::SockRef::from(&*self), bufs)
    }
}
