//! The write side's decisions: what to write next, and what a write's result means.

use std::io;
use std::net::Shutdown;

use crate::tls::Tls;
use crate::{Connection, Transmit};

/// What the holder of the write side does next ([`Outbox::next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum WriteStep {
    /// Write the queued bytes ([`Outbox::slices`]), all in one vectored write, then give the
    /// result to [`Outbox::on_write`].
    Write,
    /// Every byte before it is written: shut the stream down. `Write` after our Close when
    /// we wait for the peer's EOF (the server closes TCP first, RFC 6455 §7.1.1); `Both` to
    /// disconnect: it also ends a read blocked in the kernel at once, the only way to wake a
    /// thread inside `read(2)` on a silent peer. A stream that cannot shut down its read
    /// direction (TLS) closes its write side and is released when the last handle drops.
    Shutdown(Shutdown),
    /// Nothing is queued.
    Idle,
}

/// What a write's result means ([`Outbox::on_write`]).
#[derive(Debug)]
#[must_use]
pub enum Written {
    /// Bytes went out (the outbox has advanced past them): go on.
    Progress,
    /// Interrupted by a signal: write again.
    Again,
    /// A write that must not block found no room: leave the rest for the next writer.
    WouldBlock,
    /// The stream is unusable: [`super::Driver::write_failed`].
    Failed(io::Error),
}

/// Buffers taken from [`Connection::poll_transmit`] and not yet completely written: the
/// write side's queue. It hands the socket every queued buffer at once (a
/// vectored write: a frame's header and payload, a batch of small frames), and remembers how
/// far a partial write got, so whoever writes next resumes at the same byte.
#[derive(Debug, Default)]
pub struct Outbox {
    bufs: std::collections::VecDeque<bytes::Bytes>,
    /// Bytes of the front buffer already written.
    at: usize,
    /// A shutdown or disconnect that follows the buffers.
    then: Option<Transmit>,
}

impl Outbox {
    /// Buffers per vectored write (below every platform's `IOV_MAX`).
    pub const MAX_SLICES: usize = 64;
    /// Bytes gathered per vectored write at most.
    const MAX_BYTES: usize = 4 << 20;

    /// What to do next. `refill` moves the connection's output in ([`super::Driver::refill`]);
    /// it is called only when no bytes are left, so a writer with bytes to write does not
    /// take the driver's lock.
    pub fn next(&mut self, refill: impl FnOnce(&mut Outbox)) -> WriteStep {
        if self.bufs.is_empty() && self.then.is_none() {
            refill(self);
        }
        if !self.bufs.is_empty() {
            return WriteStep::Write;
        }
        match self.then.take() {
            Some(Transmit::ShutdownWrite) => WriteStep::Shutdown(Shutdown::Write),
            Some(Transmit::Disconnect) => WriteStep::Shutdown(Shutdown::Both),
            Some(Transmit::Bytes(_)) | None => WriteStep::Idle,
        }
    }

    /// What the result of writing [`Outbox::slices`] means; records the bytes written.
    /// `blocking` says whether the write could wait for room: then `WouldBlock` is an expired
    /// write timeout (Linux reports it so), a failure.
    pub fn on_write(&mut self, result: io::Result<usize>, blocking: bool) -> Written {
        match result {
            Ok(0) => Written::Failed(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                self.advance(n);
                Written::Progress
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Written::Again,
            Err(e) if !blocking && e.kind() == io::ErrorKind::WouldBlock => Written::WouldBlock,
            Err(e) => Written::Failed(e),
        }
    }

    /// Takes output from `conn` until the queue holds a write's worth or something other than
    /// bytes comes (a shutdown, which waits for the bytes before it). Over TLS the bytes are
    /// sealed into records, our `close_notify` goes before the shutdown, and the queue takes
    /// the records (the TLS handshake's too, when the connection has nothing).
    pub(super) fn refill(&mut self, conn: &mut Connection, tls: Option<&mut Tls>) {
        let mut total: usize = self.bufs.iter().map(|b| b.len()).sum::<usize>() - self.at;
        let start = self.bufs.len();
        while self.then.is_none() && self.bufs.len() < Self::MAX_SLICES && total < Self::MAX_BYTES {
            match conn.poll_transmit() {
                Some(Transmit::Bytes(b)) => {
                    total += b.len();
                    if !b.is_empty() {
                        self.bufs.push_back(b);
                    }
                }
                Some(t) => self.then = Some(t),
                None => break,
            }
        }
        if let Some(tls) = tls {
            // The plaintext just taken is sealed and replaced by its records, in the queue's
            // own storage (no buffer of its own per write).
            tls.seal(&self.bufs.make_contiguous()[start..]);
            self.bufs.truncate(start);
            if self.then.is_some() {
                tls.close_notify();
            }
            if let Some(records) = tls.take_output() {
                self.bufs.push_back(records);
            }
        }
    }

    /// Queues `bytes` first: what a write without waiting left ([`super::Driver::wrote_small`]).
    pub(super) fn push(&mut self, bytes: bytes::Bytes) {
        debug_assert!(self.is_empty(), "only into an empty outbox");
        self.bufs.push_front(bytes);
        self.at = 0;
    }

    /// True if nothing at all is queued.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty() && self.then.is_none()
    }

    /// Fills `slices` with the unwritten bytes, in order; returns how many it filled.
    pub fn slices<'a>(&'a self, slices: &mut [io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (i, b) in self.bufs.iter().enumerate().take(slices.len()) {
            let b = if i == 0 { &b[self.at..] } else { &b[..] };
            slices[i] = io::IoSlice::new(b);
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

/// Writes `bytes` with `write`, a write that never waits (`None`: it would have), until none
/// is left or a write would wait; what is left stays in `bytes`. The error is a failed
/// write's, for [`super::Driver::write_failed`].
pub fn write_now(
    bytes: &mut bytes::Bytes,
    mut write: impl FnMut(&[u8]) -> Option<io::Result<usize>>,
) -> io::Result<()> {
    use bytes::Buf;
    while !bytes.is_empty() {
        match write(bytes) {
            Some(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Some(Ok(n)) => bytes.advance(n),
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Some(Err(e)) => return Err(e),
            None => return Ok(()),
        }
    }
    Ok(())
}
