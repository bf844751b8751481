//! The blocking socket: the driver behind a mutex, a reader lock and a writer lock over two
//! handles of the stream, and a condition variable for whoever waits while another reads.
//! What to do is the driver's to say (`wsduplex_core::driver`); this file only blocks.

use std::io::{self, ErrorKind, IoSlice};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use wsduplex_core::Connection;
use wsduplex_core::driver::{
    Driver, HANDOFF_WAIT, Next, Outbox, ReadBuffer, ReadPlan, Readable, SocketConfig, SocketError, WriteStep, Written,
    write_now,
};

use crate::Stream;

/// Longest a read blocks before the reader looks at the clock again: deadlines armed by another
/// thread (a close from the sending half) are honoured within this. Unit tests make it long, so
/// that a wait which only this bound ends shows as a failure, not as a slow pass.
const MAX_BLOCK: Duration = Duration::from_millis(if cfg!(test) { 10_000 } else { 100 });

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread must not take this connection down with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

struct ReadSide<S> {
    stream: S,
    buf: ReadBuffer,
    timeout: Option<Duration>,
}

struct WriteSide<S> {
    stream: S,
    outbox: Outbox,
}

struct Shared<S> {
    driver: Mutex<Driver>,
    changed: Condvar,
    /// Threads waiting on `changed`. Notifying costs a system call even when nobody waits,
    /// and a stream notifies several times per message: only waiters are worth it.
    waiters: AtomicUsize,
    reader: Mutex<ReadSide<S>>,
    writer: Mutex<WriteSide<S>>,
    /// What a `Sender` signals to wake the receiver polling as the flusher (the driver's
    /// `Sent::Delegated`): made by the first receiver that waits on a split socket; `None`
    /// inside if it could not be.
    wake: Wake,
    write_timeout: Duration,
}

#[cfg(target_os = "linux")]
type Wake = std::sync::OnceLock<Option<std::os::fd::OwnedFd>>;
/// Elsewhere nothing to wait on: senders write themselves.
#[cfg(not(target_os = "linux"))]
type Wake = ();

impl<S: Stream> Shared<S> {
    fn new(stream: S, driver: Driver, config: &SocketConfig) -> io::Result<Arc<Self>> {
        let writer = stream.try_clone()?;
        writer.set_write_timeout(Some(config.write_timeout))?;
        Ok(Arc::new(Shared {
            driver: Mutex::new(driver),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            reader: Mutex::new(ReadSide { stream, buf: ReadBuffer::new(config.read_buffer_size), timeout: None }),
            writer: Mutex::new(WriteSide { stream: writer, outbox: Outbox::default() }),
            wake: Wake::default(),
            write_timeout: config.write_timeout,
        }))
    }

    fn driver(&self) -> MutexGuard<'_, Driver> {
        lock(&self.driver)
    }

    /// The driver of a connection with one handle (`&mut`: no lock).
    fn driver_mut(&mut self) -> &mut Driver {
        self.driver.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// `flush` for the only handle. A blocking flush costs its locks next to its system
    /// call nothing worth a second path.
    fn flush_alone(&mut self) -> Result<(), SocketError> {
        self.flush()
    }

    /// `drive` for the only handle: as `flush_alone`.
    fn drive_alone<T>(&mut self, goal: impl FnMut(&mut Connection) -> Option<T>) -> Result<T, SocketError> {
        self.drive(goal)
    }

    /// Wakes the threads waiting for a change (state, reader or writer released).
    fn notify(&self) {
        // Pairs with the fence in `drive`: either the waiter sees our change before it waits,
        // or we see it counted here.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 {
            self.changed.notify_all();
        }
    }

    /// Wakes the receiver polling as the flusher.
    fn wake_flusher(&self) {
        #[cfg(target_os = "linux")]
        if let Some(Some(fd)) = self.wake.get() {
            // An eventfd adds to its count: one read by the poller takes all the wakeups.
            let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
        }
    }

    /// The eventfd this receiver polls beside its stream to write for the `Sender`, if it is
    /// to: a split socket, a plain read planned (no writer streaming beside it), a stream that
    /// can be polled.
    #[cfg(target_os = "linux")]
    fn flusher_wake(&self, d: &Driver, r: &ReadSide<S>, plan: ReadPlan) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        if !d.has_sender() || plan != ReadPlan::Read || r.stream.poll_fd().is_none() {
            return None;
        }
        let flags = rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK;
        self.wake.get_or_init(|| rustix::event::eventfd(0, flags).ok()).as_ref().map(|fd| fd.as_fd())
    }

    #[cfg(not(target_os = "linux"))]
    fn flusher_wake(&self, _: &Driver, _: &ReadSide<S>, _: ReadPlan) -> Option<std::convert::Infallible> {
        None
    }

    /// Waits as the flusher, at most `wait`: for input (read at once), a sender's wakeup, or
    /// room to write if `out` (the caller's next round writes).
    #[cfg(target_os = "linux")]
    fn poll_as_flusher(&self, r: &mut ReadSide<S>, wake: std::os::fd::BorrowedFd<'_>, out: bool, wait: Duration) {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let ReadSide { stream, buf, .. } = r;
        let Some(fd) = stream.poll_fd() else { return };
        let flags = if out { PollFlags::IN | PollFlags::OUT } else { PollFlags::IN };
        let timeout = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 100_000_000 });
        let mut fds = [PollFd::new(&fd, flags), PollFd::new(&wake, PollFlags::IN)];
        let polled = rustix::event::poll(&mut fds, Some(&timeout));
        let (input, woken) = (fds[0].revents(), fds[1].revents());
        if !woken.is_empty() {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(wake, &mut count);
        }
        match polled {
            Err(e) if e != rustix::io::Errno::INTR => self.driver().on_read(Instant::now(), Err(e.into())),
            _ if input.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) => {
                buf.read(|room| stream.try_read(room), |res| self.driver().on_read(Instant::now(), res));
            }
            _ => self.driver().on_timer(Instant::now()),
        }
    }

    /// Writes all queued output, blocking (up to the write timeout) on a slow peer; waits
    /// while another thread writes. Only application calls (sends, closes) use it.
    fn flush(&self) -> Result<(), SocketError> {
        if self.write_small_now()? {
            return Ok(());
        }
        self.driver().start_writing();
        let result = loop {
            if let Err(e) = self.write_out(lock(&self.writer), true) {
                break Err(e);
            }
            if !self.driver().has_output() {
                break Ok(());
            }
        };
        if self.driver().stop_writing() {
            self.take_handed_off_input();
        }
        result
    }

    /// Writes small queued output at once if the write side is free ([`Driver::take_small`]):
    /// true if all of it went. What did not go stays queued for the writer `flush` blocks
    /// as, which resumes at the same byte.
    fn write_small_now(&self) -> Result<bool, SocketError> {
        let Some(mut w) = try_lock(&self.writer) else { return Ok(false) };
        let Some(mut bytes) = self.driver().take_small(&w.outbox) else { return Ok(false) };
        let stream = &mut w.stream;
        if let Err(e) = write_now(&mut bytes, |buf| Some(stream.try_write_vectored(&[IoSlice::new(buf)]))) {
            return Err(self.write_failed(w, e));
        }
        let mut d = self.driver();
        let done = d.wrote_small(&mut w.outbox, bytes);
        // Given back under the driver's lock (see `Driver::wrote_small`).
        drop(w);
        Ok(done)
    }

    /// Reads the input a reader left to the writing threads (see the driver's docs), between
    /// two writes, when this thread does not hold the socket.
    fn take_handed_off_input(&self) {
        // A reader holding the read side reads itself.
        let Some(mut r) = try_lock(&self.reader) else { return };
        if !self.driver().take_handoff() {
            return;
        }
        let ReadSide { stream, buf, .. } = &mut *r;
        buf.read(|room| stream.try_read(room), |res| self.driver().on_read(Instant::now(), res));
        drop(r);
        self.notify();
    }

    /// Writes what goes without blocking, unless another thread is writing (it checks again
    /// after it lets go of the writer, so nothing queued now is stranded). Whoever reads uses
    /// this: a reader blocked on a write could stall both ends. What does not fit now is
    /// written by the next flush, or by the reader's next round (at most `MAX_BLOCK` later).
    fn try_flush(&self) -> Result<(), SocketError> {
        while let Some(w) = try_lock(&self.writer) {
            if !self.write_out(w, false)? || !self.driver().has_output() {
                break;
            }
        }
        Ok(())
    }

    /// Carries out the write side's steps until nothing is queued. False if a non-blocking
    /// write would have blocked: the rest stays in the outbox for the next writer.
    fn write_out(&self, mut w: MutexGuard<'_, WriteSide<S>>, blocking: bool) -> Result<bool, SocketError> {
        let mut shut = false;
        let complete = loop {
            let WriteSide { stream, outbox } = &mut *w;
            let result = match outbox.next(|o| self.driver().refill(o)) {
                WriteStep::Idle => break true,
                WriteStep::Shutdown(how) => {
                    shut = true;
                    match stream.shutdown(how) {
                        Err(e) if e.kind() != ErrorKind::NotConnected => return Err(self.write_failed(w, e)),
                        _ => continue,
                    }
                }
                WriteStep::Write => {
                    let mut slices = [IoSlice::new(&[]); Outbox::MAX_SLICES];
                    let n = outbox.slices(&mut slices);
                    if blocking { stream.send_vectored(&slices[..n]) } else { stream.try_write_vectored(&slices[..n]) }
                }
            };
            match outbox.on_write(result, blocking) {
                Written::Progress if blocking && self.driver().wrote() => self.take_handed_off_input(),
                Written::Progress | Written::Again => {}
                Written::WouldBlock => break false,
                Written::Failed(e) => return Err(self.write_failed(w, e)),
            }
        };
        drop(w);
        // Waiters care when output is left for them to retry, or the stream was shut down (the
        // connection may have ended). Bytes written in full change nothing for them, and a
        // wakeup per send would pull a handed-off reader back before the writer took its input.
        if shut || !complete {
            self.notify();
        }
        Ok(complete)
    }

    fn write_failed(&self, mut w: MutexGuard<'_, WriteSide<S>>, e: io::Error) -> SocketError {
        let error = self.driver().write_failed(Instant::now(), &mut w.outbox, e);
        let _ = w.stream.shutdown(Shutdown::Both);
        drop(w);
        self.notify();
        error
    }

    /// Drives the connection until `goal` returns a value. Every round either reads once
    /// (when no other thread is reading) or waits for the thread that is; each is bounded by
    /// the connection's next deadline and [`MAX_BLOCK`].
    fn drive<T>(&self, mut goal: impl FnMut(&mut Connection) -> Option<T>) -> Result<T, SocketError> {
        let mut flushed = false;
        // Set while this thread is the flusher; it stops being one however it returns.
        let flusher = StopWaiting(self, std::cell::Cell::new(false));
        // Since when output left to us waits for a peer that does not read.
        let mut draining: Option<Instant> = None;
        loop {
            let mut d = self.driver();
            let deadline = match d.poll_goal(&mut goal, flushed) {
                Next::Ready { value, flush } => {
                    drop(d);
                    if flush {
                        self.try_flush()?;
                    }
                    return Ok(value);
                }
                Next::Flush => {
                    drop(d);
                    self.try_flush()?;
                    flushed = true;
                    continue;
                }
                Next::Wait { deadline } => deadline,
            };
            let now = Instant::now();
            let mut wait = deadline.map_or(MAX_BLOCK, |t| t.saturating_duration_since(now)).min(MAX_BLOCK);
            if d.must_drain() {
                // What a sender left to us is bounded like its own write would have been.
                let left = self.write_timeout.saturating_sub(now - *draining.get_or_insert(now));
                if left.is_zero() {
                    drop(d);
                    let timed_out = io::Error::new(ErrorKind::TimedOut, "write timed out");
                    return Err(self.write_failed(lock(&self.writer), timed_out));
                }
                wait = wait.min(left);
            } else {
                draining = None;
            }
            self.waiters.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            match try_lock(&self.reader).filter(|_| d.may_read()) {
                Some(mut r) => {
                    self.waiters.fetch_sub(1, Ordering::Relaxed);
                    let plan = d.read_plan(true);
                    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
                    if let Some(wake) = self.flusher_wake(&d, &r, plan) {
                        if d.must_drain() && d.has_output() {
                            // Left to us while we were busy (we were still writing for the
                            // sender, who did not wake us): ours to write before we sleep.
                            drop((d, r));
                            self.try_flush()?;
                            continue;
                        }
                        d.start_waiting(false);
                        flusher.1.set(true);
                        drop(d);
                        #[cfg(target_os = "linux")]
                        {
                            let out = try_lock(&self.writer).is_some_and(|w| !w.outbox.is_empty());
                            self.poll_as_flusher(&mut r, wake, out, wait);
                        }
                        // Busy from now until the next poll: what senders leave meanwhile, we
                        // write without being woken.
                        self.driver().start_waiting(true);
                    } else {
                        drop(d);
                        if self.read_once(&mut r, plan, wait) == Readable::HandOff {
                            drop(r);
                            self.await_handoff(wait);
                            continue;
                        }
                    }
                }
                None => {
                    let (mut d, _) = self.changed.wait_timeout(d, wait).unwrap_or_else(PoisonError::into_inner);
                    self.waiters.fetch_sub(1, Ordering::Relaxed);
                    d.on_timer(Instant::now());
                }
            }
            flushed = false;
            self.notify();
            self.try_flush()?;
        }
    }

    /// Reads once, waiting at most `wait`, the way `plan` says. A stream that cannot wait for
    /// input without reading it ([`Stream::wait_readable`] says `None`) waits inside the read.
    fn read_once(&self, r: &mut ReadSide<S>, plan: ReadPlan, wait: Duration) -> Readable {
        let wait = wait.max(Duration::from_millis(1));
        let ReadSide { stream, buf, timeout } = r;
        if plan == ReadPlan::WaitReadable {
            match stream.wait_readable(wait) {
                Ok(Some(false)) => {
                    self.driver().on_timer(Instant::now());
                    return Readable::Read;
                }
                Ok(Some(true)) => {
                    if self.driver().on_readable() == Readable::HandOff {
                        return Readable::HandOff;
                    }
                    buf.read(|room| stream.try_read(room), |res| self.driver().on_read(Instant::now(), res));
                    return Readable::Read;
                }
                Ok(None) | Err(_) => {}
            }
        }
        let mut res = Ok(());
        if *timeout != Some(wait) {
            res = stream.set_read_timeout(Some(wait));
            *timeout = Some(wait);
        }
        buf.read(|room| res.and_then(|()| stream.read(room)), |res| self.driver().on_read(Instant::now(), res));
        Readable::Read
    }

    /// Waits for the writing thread to take the input left to it, at most [`HANDOFF_WAIT`].
    fn await_handoff(&self, wait: Duration) {
        let d = self.driver();
        if d.is_handed_off() {
            self.waiters.fetch_add(1, Ordering::Relaxed);
            let _ = self.changed.wait_timeout(d, HANDOFF_WAIT.min(wait)).unwrap_or_else(PoisonError::into_inner);
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn abort(&self) {
        self.driver().abort();
        if let Some(mut w) = try_lock(&self.writer) {
            // Abandon a half-written frame: nothing more goes out after an abort.
            w.outbox.clear();
        }
        let _ = self.try_flush();
        self.notify();
    }
}

/// Ends a thread's turn as the flusher when its `drive` returns (`Driver::stop_waiting`).
struct StopWaiting<'a, S: Stream>(&'a Shared<S>, std::cell::Cell<bool>);

impl<S: Stream> Drop for StopWaiting<'_, S> {
    fn drop(&mut self) {
        if self.1.get() {
            self.0.driver().stop_waiting();
        }
    }
}

/// A blocking handle keeps nothing in flight between calls.
type Polling = ();

wsduplex_core::socket_api!(blocking, Stream = TcpStream, clock = Instant::now);

/// A TCP connection to `address` (each of its addresses in turn), within `timeout` for the
/// lookup and for each attempt.
fn connect_tcp(address: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, format!("{address} resolves to no address"));
    for a in resolve(address, timeout)? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Resolves `host:port`, waiting at most `timeout`: the system resolver blocks without a bound
/// of its own, so it runs on a helper thread (an IP literal needs none).
fn resolve(address: &str, timeout: Duration) -> io::Result<Vec<std::net::SocketAddr>> {
    if let Ok(addr) = address.parse::<std::net::SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = address.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(owned.to_socket_addrs().map(Vec::from_iter));
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| Err(io::Error::new(ErrorKind::TimedOut, "name resolution timed out")))
}

#[cfg(test)]
mod tests;
