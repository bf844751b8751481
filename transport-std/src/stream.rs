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
    /// Waits at most `timeout` for input without taking it: `Some(true)` once a read would not
    /// block (data, end of stream or an error), `Some(false)` on timeout. `None` if this stream
    /// cannot tell (the default): the transport then waits inside `read`. TCP and Unix sockets
    /// can, which lets a thread that writes take the input between its writes instead of a
    /// reading thread fighting it for the socket (see the crate docs, "Reading while writing").
    fn wait_readable(&self, timeout: Duration) -> io::Result<Option<bool>> {
        let _ = timeout;
        Ok(None)
    }
    /// Reads what has arrived without blocking (`WouldBlock` if nothing has). Called only on
    /// streams whose [`Self::wait_readable`] says `Some`.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = buf;
        Err(io::ErrorKind::Unsupported.into())
    }
    /// The descriptor to `poll(2)` for input and room to write, if the stream has one (TCP and
    /// Unix sockets). With it, the thread receiving on a split socket waits in `poll` and can
    /// be woken to write what the `Sender` left to it (the driver's `Sent::Delegated`).
    #[cfg(unix)]
    fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// Writes from `bufs`, blocking up to the write timeout. A peer gone is an error, never a
    /// signal: TCP and Unix sockets write with `sendmsg(2)` and `MSG_NOSIGNAL`. The default is
    /// `write_vectored` (which, on a socket, is `writev(2)`: SIGPIPE on a broken pipe).
    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored(bufs)
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

/// `poll(2)` for input: unlike a blocking `recv`, it does not take the socket's lock, and it is
/// not woken when the socket frees send space (which wakes every `recv` sleeping on it).
#[cfg(unix)]
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, timeout: Duration) -> io::Result<Option<bool>> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let timeout = Timespec::try_from(timeout).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(Some(n > 0)),
        Err(rustix::io::Errno::INTR) => Ok(Some(false)),
        Err(e) => Err(e.into()),
    }
}

/// `recv(2)` without blocking.
#[cfg(unix)]
fn recv_nonblocking(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let (n, _) = rustix::net::recv(fd, buf, rustix::net::RecvFlags::DONTWAIT)?;
    Ok(n)
}

/// `sendmsg(2)` of several buffers, without SIGPIPE; `wait`: blocking (up to the socket's
/// write timeout), as the socket is.
#[cfg(unix)]
fn send_vectored(socket: socket2::SockRef<'_>, bufs: &[IoSlice<'_>], wait: bool) -> io::Result<usize> {
    let flags = if wait { libc::MSG_NOSIGNAL } else { libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL };
    socket.send_vectored_with_flags(bufs, flags)
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
    fn wait_readable(&self, timeout: Duration) -> io::Result<Option<bool>> {
        wait_readable(std::os::fd::AsFd::as_fd(self), timeout)
    }
    #[cfg(unix)]
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_nonblocking(std::os::fd::AsFd::as_fd(self), buf)
    }
    #[cfg(unix)]
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_nonblocking(socket2::SockRef::from(&*self), buf)
    }
    #[cfg(unix)]
    fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(socket2::SockRef::from(&*self), bufs, false)
    }
    #[cfg(unix)]
    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(socket2::SockRef::from(&*self), bufs, true)
    }
    #[cfg(unix)]
    fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
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
    fn wait_readable(&self, timeout: Duration) -> io::Result<Option<bool>> {
        wait_readable(std::os::fd::AsFd::as_fd(self), timeout)
    }
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_nonblocking(std::os::fd::AsFd::as_fd(self), buf)
    }
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_nonblocking(socket2::SockRef::from(&*self), buf)
    }
    fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(socket2::SockRef::from(&*self), bufs, false)
    }
    fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(socket2::SockRef::from(&*self), bufs, true)
    }
    fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
    }
}
