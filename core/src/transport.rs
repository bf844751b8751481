//! What the transports share, so both expose the very same types: their settings and their
//! error. Plain data: nothing here does I/O.

use std::time::Duration;

use crate::{HandshakeError, LocalError, Outcome, PeerError};

/// Transport settings, plus the core's.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sans-IO machine's limits and timers.
    pub core: crate::Config,
    /// Longest a single write may wait on a peer that does not read (default 30 s). Past it
    /// the connection is aborted and the call returns [`Error::Io`].
    pub write_timeout: Duration,
    /// TCP connect timeout for `connect` (default 10 s).
    pub connect_timeout: Duration,
    /// Most bytes taken from the socket per read (default 128 KiB, what one 128 KiB frame needs
    /// to arrive in one read). The blocking transport keeps a buffer of this size per
    /// connection; the async one shares one per executor thread.
    pub read_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            core: crate::Config::default(),
            write_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_buffer_size: 128 << 10,
        }
    }
}

/// Errors of a transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket failed (connection refused, reset, write timeout, ...).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The opening handshake failed; `Rejected(status)` when the server said no.
    #[error("handshake: {0}")]
    Handshake(HandshakeError),
    /// The application misused the API (nothing was sent).
    #[error(transparent)]
    Local(#[from] LocalError),
    /// The connection ended other than by a clean close handshake.
    #[error("connection ended: {0}")]
    Closed(Outcome),
}

impl Error {
    /// The close code we sent when the peer broke the protocol.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Error::Closed(Outcome::Failed(e)) => Some(e.close_code()),
            _ => None,
        }
    }

    /// Why an opening handshake did not reach `Open`, from how the connection ended.
    pub fn from_handshake(outcome: Option<Outcome>) -> Self {
        match outcome {
            Some(Outcome::Failed(PeerError::Handshake(e))) => Error::Handshake(e),
            Some(Outcome::TimedOut(_)) => Error::Handshake(HandshakeError::TimedOut),
            Some(o) => Error::Closed(o),
            None => Error::Closed(Outcome::Abnormal),
        }
    }
}

/// True if a read's result ends the input: end of stream, or a failure (a reset ...) other than
/// the ones that only mean "nothing yet" (would block, timed out, interrupted). Both transports
/// then mark their read side done and tell the core ([`crate::Connection::handle_eof`]).
pub fn read_ends_input(result: &std::io::Result<usize>) -> bool {
    use std::io::ErrorKind;
    match result {
        Ok(n) => *n == 0,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted),
    }
}

/// Buffers taken from [`crate::Connection::poll_transmit`] and not yet completely written:
/// the write queue both transports share. It hands the socket every queued buffer at once (a
/// vectored write: a frame's header and payload, a batch of small frames), and remembers how
/// far a partial write got, so whoever writes next resumes at the same byte.
#[derive(Debug, Default)]
pub struct Outbox {
    bufs: std::collections::VecDeque<bytes::Bytes>,
    /// Bytes of the front buffer already written.
    at: usize,
    /// A shutdown or disconnect that follows the buffers.
    then: Option<crate::Transmit>,
}

impl Outbox {
    /// Buffers per vectored write (below every platform's `IOV_MAX`).
    pub const MAX_SLICES: usize = 64;
    /// Bytes gathered per vectored write at most.
    const MAX_BYTES: usize = 4 << 20;

    /// Takes output from `conn` until the queue holds a write's worth or something other than
    /// bytes comes (a shutdown, which waits for the bytes before it).
    pub fn refill(&mut self, conn: &mut crate::Connection) {
        let mut total: usize = self.bufs.iter().map(|b| b.len()).sum::<usize>() - self.at;
        while self.then.is_none() && self.bufs.len() < Self::MAX_SLICES && total < Self::MAX_BYTES {
            match conn.poll_transmit() {
                Some(crate::Transmit::Bytes(b)) => {
                    total += b.len();
                    if !b.is_empty() {
                        self.bufs.push_back(b);
                    }
                }
                Some(t) => self.then = Some(t),
                None => break,
            }
        }
    }

    /// True while bytes are waiting to be written.
    pub fn has_bytes(&self) -> bool {
        !self.bufs.is_empty()
    }

    /// The shutdown or disconnect to perform now that every byte before it is written.
    pub fn take_then(&mut self) -> Option<crate::Transmit> {
        if self.bufs.is_empty() { self.then.take() } else { None }
    }

    /// True if nothing at all is queued.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty() && self.then.is_none()
    }

    /// Fills `slices` with the unwritten bytes, in order; returns how many it filled.
    pub fn slices<'a>(&'a self, slices: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (i, b) in self.bufs.iter().enumerate().take(slices.len()) {
            let b = if i == 0 { &b[self.at..] } else { &b[..] };
            slices[i] = std::io::IoSlice::new(b);
            n += 1;
        }
        n
    }

    /// Records that `n` more bytes were written.
    pub fn advance(&mut self, mut n: usize) {
        while let Some(front) = self.bufs.front() {
            let left = front.len() - self.at;
            if n < left {
                self.at += n;
                return;
            }
            n -= left;
            self.at = 0;
            self.bufs.pop_front();
        }
    }

    /// Drops everything queued (after an abort or a failed write).
    pub fn clear(&mut self) {
        self.bufs.clear();
        self.at = 0;
        self.then = None;
    }
}
