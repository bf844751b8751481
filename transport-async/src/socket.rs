//! The async socket: the driver behind a (never awaited-across) mutex, the read and write
//! sides each held by one task at a time (`side`), and a notification for whoever waits
//! while another task reads (`change`).
//! What to do is the driver's to say (`wsduplex_core::driver`); how to wait is the runtime's
//! ([`Io`]); this file only awaits.

use std::cell::RefCell;
use std::io::{self, ErrorKind, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::{Arc, Mutex as SyncMutex, MutexGuard as SyncGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::future;
use wsduplex_core::Connection;
use wsduplex_core::bytes::Bytes;
use wsduplex_core::driver::{
    Driver, HANDOFF_WAIT, Next, Outbox, ReadBuffer, ReadPlan, Readable, SocketConfig, SocketError, WriteStep, Written,
    goal, write_now,
};

use crate::change::Changes;
use crate::side::Side;
use crate::{Io, timed};

thread_local! {
    /// The buffer reads land in, one per thread: bytes go to the core (which keeps what it
    /// needs) in the same poll that read them, so no connection holds a read buffer of its own
    /// and an idle one costs only what the core keeps. Made at a thread's first read.
    static SCRATCH: RefCell<Option<ReadBuffer>> = const { RefCell::new(None) };
}

struct ReadSide<H> {
    stream: H,
    size: usize,
}

impl<H: Io> ReadSide<H> {
    /// Reads once into the thread's scratch buffer and hands the result to `on_read` (which
    /// gives it to the driver) in the same poll: nothing stays in the buffer between reads, and
    /// a future dropped after this returns loses nothing.
    fn poll_into<R>(&mut self, cx: &mut Context<'_>, on_read: impl FnOnce(io::Result<&[u8]>) -> R) -> Poll<R> {
        let stream = &mut self.stream;
        with_scratch(self.size, |buf| buf.poll_read(|room| stream.poll_read(cx, room), on_read))
    }

    /// Reads what has arrived without waiting (through the readiness handle, so no task's
    /// wakeup registration changes) and hands it to the driver.
    fn try_read_into(&mut self, driver: &SyncMutex<Driver>) {
        let stream = &mut self.stream;
        with_scratch(self.size, |buf| {
            buf.read(|room| stream.try_read(room), |res| lock(driver).on_read(Instant::now(), res));
        })
    }
}

/// Gives a read's result to the driver behind `driver`'s lock, and returns the driver, still
/// locked, for the caller to look at what the input did.
fn locked_read<'d>(
    driver: &'d SyncMutex<Driver>,
) -> impl for<'b> FnOnce(io::Result<&'b [u8]>) -> SyncGuard<'d, Driver> {
    move |res| {
        let mut d = lock(driver);
        d.on_read(Instant::now(), res);
        d
    }
}

/// Runs `f` on the thread's read buffer, reads of `size` bytes.
fn with_scratch<R>(size: usize, f: impl FnOnce(&mut ReadBuffer) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let buf = buf.get_or_insert_with(|| ReadBuffer::new(size));
            buf.set_size(size);
            f(buf)
        }
        // A stream that polls another connection inside its own poll: a buffer of its own.
        Err(_) => f(&mut ReadBuffer::new(size)),
    })
}

pin_project_lite::pin_project! {
    /// `f`'s output, or never without an `f`. A struct polled in place, not an async fn: that
    /// would hold the future twice (its argument and what it awaits), in every round of every
    /// task waiting in `recv` (memory per idle connection).
    struct OrNever<F> {
        #[pin]
        f: Option<F>,
    }
}

impl<F: Future> Future for OrNever<F> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project().f.as_pin_mut() {
            Some(f) => f.poll(cx),
            None => Poll::Pending,
        }
    }
}

fn or_never<F: Future>(f: Option<F>) -> OrNever<F> {
    OrNever { f }
}

fn lock<T>(m: &SyncMutex<T>) -> SyncGuard<'_, T> {
    // A panic in another task must not take this connection down with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct WriteSide<H> {
    stream: H,
    outbox: Outbox,
    /// The write side of a stream that is not a socket was closed (`poll_close`).
    closed: bool,
}

impl<H: Io> WriteSide<H> {
    /// One vectored write of everything queued (the slices live only inside the poll).
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); Outbox::MAX_SLICES];
        let n = self.outbox.slices(&mut slices);
        self.stream.poll_write_vectored(cx, &slices[..n])
    }

    /// Writes `bytes` ([`Driver::take_small`]'s) as far as the stream takes them now, leaving
    /// the rest in `bytes`. True if the stream also flushed: a stream that buffers (a TLS
    /// stream of the caller's) and cannot flush now leaves the flush to a writer that waits.
    fn write_small(&mut self, bytes: &mut Bytes) -> io::Result<bool> {
        // Polled with a waker that does nothing: whatever waits is a waiting writer's to wait for.
        let cx = &mut Context::from_waker(std::task::Waker::noop());
        let stream = &mut self.stream;
        write_now(bytes, |buf| match stream.poll_write_vectored(cx, &[IoSlice::new(buf)]) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        })?;
        match stream.poll_flush(cx) {
            Poll::Ready(result) => result.map(|()| true),
            Poll::Pending => Ok(false),
        }
    }

    /// A write failed: the driver drops what is queued, and the stream is shut down.
    fn failed(&mut self, driver: &mut Driver, e: io::Error) -> SocketError {
        let error = driver.write_failed(Instant::now(), &mut self.outbox, e);
        let _ = self.stream.shutdown_now(Shutdown::Both);
        self.closed = true;
        error
    }

    async fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        let result = match self.stream.shutdown_now(how) {
            Some(r) => r,
            None if self.closed => Ok(()),
            None => future::poll_fn(|cx| self.stream.poll_close(cx)).await,
        };
        self.closed = true;
        match result {
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

/// One connection's state, shared by the socket's handles (a `WebSocket`, or its `Sender` and
/// `Receiver`). The methods `wsduplex_core::socket_api!` calls are public; a runtime crate
/// names it `Shared<S>` for its own stream type (`type Shared<S> = wsduplex_async::Shared<Half<S>>`).
pub struct Shared<H> {
    driver: SyncMutex<Driver>,
    changed: Changes,
    reader: Side<ReadSide<H>>,
    writer: Side<WriteSide<H>>,
    write_timeout: Duration,
}

/// What ended a round of `drive`. `Read`: the driver has the result; `Reached`: and it
/// reached the goal (`Next::Ready`, looked at under the lock the read took).
enum Woke<T> {
    Read,
    Reached { value: T, flush: bool },
    HandedOff,
    Wrote(Result<(), SocketError>),
    Timer,
    Changed,
}

impl<H: Io> Shared<H> {
    /// The shared state of a connection over `stream`.
    pub fn new(stream: H::Stream, driver: Driver, config: &SocketConfig) -> io::Result<Arc<Self>> {
        let (r, w) = H::pair(stream);
        Ok(Arc::new(Shared {
            driver: SyncMutex::new(driver),
            changed: Changes::default(),
            reader: Side::new(ReadSide { stream: r, size: config.read_buffer_size.max(1) }),
            writer: Side::new(WriteSide { stream: w, outbox: Outbox::default(), closed: false }),
            write_timeout: config.write_timeout,
        }))
    }

    /// The driver, locked (never across an await).
    pub fn driver(&self) -> SyncGuard<'_, Driver> {
        lock(&self.driver)
    }

    /// The driver of a connection with one handle (`&mut`: no lock).
    pub fn driver_mut(&mut self) -> &mut Driver {
        self.driver.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every task waiting for a change.
    pub fn notify(&self) {
        self.changed.notify();
    }

    /// Wakes the receiving task a `Sender` left its message to: its round listens for
    /// changes.
    pub fn wake_flusher(&self) {
        self.notify();
    }

    /// Carries out the write side's steps until nothing is queued. Progress is recorded
    /// after every write, so a future dropped here loses nothing: the next writer resumes at
    /// the same byte. `timeout` bounds each write that makes no progress; `None` for whoever
    /// only writes what goes now.
    async fn write_out(&self, w: &mut WriteSide<H>, timeout: Option<Duration>) -> Result<(), SocketError> {
        loop {
            let result = match w.outbox.next(|o| self.driver().refill(o)) {
                WriteStep::Idle => {
                    let flushed = future::poll_fn(|cx| w.stream.poll_flush(cx)).await;
                    return flushed.map_err(|e| self.write_failed(w, e));
                }
                WriteStep::Shutdown(how) => {
                    let shut = w.shutdown(how).await;
                    self.notify();
                    match shut {
                        Ok(()) => continue,
                        Err(e) => return Err(self.write_failed(w, e)),
                    }
                }
                WriteStep::Write => {
                    let write = future::poll_fn(|cx| w.poll_write_queued(cx));
                    match timeout {
                        Some(limit) => timed::<H, _>(limit, "write timed out", write).await,
                        None => write.await,
                    }
                }
            };
            match w.outbox.on_write(result, timeout.is_some()) {
                Written::Progress if timeout.is_some() && self.driver().wrote() => self.take_handed_off_input(),
                Written::Progress | Written::Again | Written::WouldBlock => {}
                Written::Failed(e) => return Err(self.write_failed(w, e)),
            }
        }
    }

    /// Reads the input a reader left to the writing tasks (see the driver's docs), between
    /// two writes, when this task does not hold the socket: a reader that tried a `recv`
    /// while another thread's `send` held the socket's lock would block its executor thread
    /// in the kernel.
    fn take_handed_off_input(&self) {
        // A reader holding the read side reads itself.
        let Some(mut r) = self.reader.take_now(&self.changed) else { return };
        if !self.driver().take_handoff() {
            return;
        }
        r.try_read_into(&self.driver);
        drop(r);
        self.notify();
    }

    fn write_failed(&self, w: &mut WriteSide<H>, e: io::Error) -> SocketError {
        let error = w.failed(&mut self.driver(), e);
        self.notify();
        error
    }

    /// Writes all queued output, waiting (each write bounded by the write timeout) on a slow
    /// peer. Application calls (sends, closes) use it.
    pub async fn flush(&self) -> Result<(), SocketError> {
        if self.write_small_now()? {
            return Ok(());
        }
        // Dropped with the future too: a cancelled flush is no longer writing.
        let _writing = Writing::new(self);
        loop {
            let mut w = self.writer.take(&self.changed).await;
            self.write_out(&mut w, Some(self.write_timeout)).await?;
            // No notification: the outbox is empty (nobody's output is stranded) and a
            // shutdown was announced where it was written. A task waiting in `drive` would only
            // try a read, which contends for the socket with the next send for nothing.
            drop(w);
            if !self.driver().has_output() {
                return Ok(());
            }
        }
    }

    /// [`Shared::flush`] for the only handle (a `WebSocket` not split, with no `Stream` or
    /// `Sink` operation in flight): a small write made at once takes neither the driver's
    /// lock nor the write side's (`&mut`: no other task can hold them); anything else is
    /// `flush`'s.
    pub async fn flush_alone(&mut self) -> Result<(), SocketError> {
        let w = self.writer.get_mut();
        let d = self.driver.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut bytes) = d.take_small(&w.outbox) {
            match w.write_small(&mut bytes) {
                Ok(flushed) => {
                    if d.wrote_small(&mut w.outbox, bytes) && flushed {
                        return Ok(());
                    }
                }
                // No task to wake: there is no other handle.
                Err(e) => return Err(w.failed(d, e)),
            }
        }
        // Boxed: see `drive_alone`.
        Box::pin(self.flush()).await
    }

    /// Writes small queued output at once if the write side is free ([`Driver::take_small`]):
    /// true if all of it went. What did not go stays queued for the writer `flush` waits as,
    /// which resumes at the same byte.
    fn write_small_now(&self) -> Result<bool, SocketError> {
        let Some(mut w) = self.writer.take_now(&self.changed) else { return Ok(false) };
        let Some(mut bytes) = self.driver().take_small(&w.outbox) else { return Ok(false) };
        let flushed = match w.write_small(&mut bytes) {
            Ok(flushed) => flushed,
            Err(e) => return Err(self.write_failed(&mut w, e)),
        };
        let mut d = self.driver();
        let done = d.wrote_small(&mut w.outbox, bytes) && flushed;
        // Given back under the driver's lock (see `Driver::wrote_small`).
        drop(w);
        Ok(done)
    }

    /// A goal's value, once what the look that reached it asked to write goes without waiting
    /// (`Next::Ready`'s `flush`).
    #[inline]
    fn reached<T>(&self, value: T, flush: bool) -> Result<T, SocketError> {
        if flush {
            self.try_flush()?;
        }
        Ok(value)
    }

    /// Writes what goes without waiting, unless another task is writing. One poll with a
    /// waker that does nothing: what does not go now is written by a round that waits for
    /// it (with its own waker), and a plain function keeps this write's future out of every
    /// `drive` future (memory per idle connection).
    fn try_flush(&self) -> Result<(), SocketError> {
        if let Some(mut w) = self.writer.take_now(&self.changed) {
            let write = std::pin::pin!(self.write_out(&mut w, None));
            if let Poll::Ready(Err(e)) = write.poll(&mut Context::from_waker(std::task::Waker::noop())) {
                return Err(e);
            }
            self.notify();
        }
        Ok(())
    }

    /// Drives the connection until `goal` returns a value. Each round races the read (when
    /// no other task reads), pending writes (when no other task writes), the connection's
    /// next deadline and a notification from another task.
    pub async fn drive<T>(&self, mut goal: impl FnMut(&mut Connection) -> Option<T>) -> Result<T, SocketError> {
        loop {
            // Listen, then look: no notification in between is lost. Listening first costs a
            // call that finds an event waiting two atomic operations; looking again after
            // listening cost every call that waits (an echo's every receive) a second look
            // under the lock.
            let mut changed = self.changed.listen();
            let mut flushed = false;
            let (deadline, unwritten, plan, draining, split) = loop {
                let (next, unwritten, plan, draining, split) = {
                    let mut d = self.driver();
                    let next = d.poll_goal(&mut goal, flushed);
                    let plan = d.may_read().then(|| d.read_plan(true));
                    (next, d.has_unwritten(), plan, d.must_drain(), d.has_sender())
                };
                match next {
                    Next::Ready { value, flush } => {
                        return self.reached(value, flush);
                    }
                    Next::Flush => {
                        self.try_flush()?;
                        flushed = true;
                        // Its own notification must not end the round it is about to wait in.
                        changed = self.changed.listen();
                    }
                    Next::Wait { deadline } => break (deadline, unwritten, plan, draining, split),
                }
            };
            // The round of a socket that waits for its next message (an echo's every receive):
            // only input or a change can end it, so it is written plainly, without the race of
            // four futures below (half the code an echo runs, and a server's instruction cache
            // holds only so much: BENCHMARKS.md, "Many connections", session 11).
            if deadline.is_none()
                && !unwritten
                && !split
                && plan == Some(ReadPlan::Read)
                && let Some(mut r) = self.reader.take_now(&self.changed)
            {
                let reached = future::poll_fn(|cx| {
                    if let Poll::Ready(mut d) = r.poll_into(cx, locked_read(&self.driver)) {
                        return Poll::Ready(match d.poll_goal(&mut goal, false) {
                            Next::Ready { value, flush } => Some((value, flush)),
                            _ => None,
                        });
                    }
                    Pin::new(&mut changed).poll(cx).map(|()| {
                        self.driver().on_timer(Instant::now());
                        None
                    })
                })
                .await;
                drop((r, changed));
                self.notify();
                match reached {
                    Some((value, flush)) => {
                        return self.reached(value, flush);
                    }
                    None => continue,
                }
            }
            // Queued for the read side: this round listens, and its holder's release ends it.
            let mut reader = if plan.is_some() { self.reader.take_or_queue(&self.changed) } else { None };
            // Taken only with something to write: a round that waits for input leaves the write
            // side alone.
            let mut writer = if unwritten { self.writer.take_now(&self.changed) } else { None };
            // Holding the read side, this round writes what a `Sender` leaves to it (the
            // driver's `Sent::Delegated`); output it must write before returning anything is
            // bounded by the write timeout, as the sender's own write would have been.
            // Only a `Sender` leaves output to a flusher, and none can appear during a round
            // that has none: `split` takes the `WebSocket` by value.
            let _flusher = (reader.is_some() && split).then(|| Flusher::new(self, writer.is_some()));
            let write_timeout = draining.then_some(self.write_timeout);
            // In a block of its own: the round's result, which may hold the goal's value, is
            // gone before the handoff's wait (no room for it in every waiting future).
            let handed_off = {
                let woke = {
                    let read = async {
                        match reader.as_mut() {
                            Some(r) if r.stream.is_socket() && plan == Some(ReadPlan::WaitReadable) => {
                                if let Err(e) = r.stream.readable().await {
                                    self.driver().on_read(Instant::now(), Err(e));
                                } else if self.driver().on_readable() == Readable::HandOff {
                                    return Woke::HandedOff;
                                } else {
                                    r.try_read_into(&self.driver);
                                }
                                Woke::Read
                            }
                            Some(r) => {
                                let mut d = future::poll_fn(|cx| r.poll_into(cx, locked_read(&self.driver))).await;
                                // Most rounds end here, with the message read: one lock for both.
                                // The round is over, so it stops being the flusher first, as its
                                // guard's drop would: a `Sender`'s message left to it after this
                                // look would be stranded if it returns.
                                d.stop_waiting();
                                match d.poll_goal(&mut goal, false) {
                                    Next::Ready { value, flush } => Woke::Reached { value, flush },
                                    _ => Woke::Read,
                                }
                            }
                            None => future::pending().await,
                        }
                    };
                    // Boxed: a round writes only beside pending output, and inline its future would
                    // be part of every task waiting in `recv` (memory per idle connection).
                    let write = async {
                        Woke::Wrote(or_never(writer.as_mut().map(|w| Box::pin(self.write_out(w, write_timeout)))).await)
                    };
                    let timer = async {
                        or_never(deadline.map(H::sleep_until)).await;
                        Woke::Timer
                    };
                    let changed = async {
                        changed.await;
                        Woke::Changed
                    };
                    future::or(read, future::or(write, future::or(timer, changed))).await
                };
                drop(reader);
                drop(writer);
                match woke {
                    Woke::HandedOff => true,
                    Woke::Wrote(Err(e)) => return Err(e),
                    Woke::Reached { value, flush } => {
                        self.notify();
                        return self.reached(value, flush);
                    }
                    // `on_read` has fired the timers that were due.
                    Woke::Read => false,
                    Woke::Wrote(Ok(())) | Woke::Timer | Woke::Changed => {
                        self.driver().on_timer(Instant::now());
                        false
                    }
                }
            };
            if handed_off {
                self.await_handoff().await;
                continue;
            }
            self.notify();
        }
    }

    /// [`Shared::drive`] for the only handle (see [`Shared::flush_alone`]). A wait for input
    /// alone (no deadline, nothing to write: an echo's every receive) is a read straight into
    /// the driver, without its lock, the read side's, or a listener for changes: no other task
    /// can make one. Any other wait is `drive`'s.
    pub async fn drive_alone<T>(
        &mut self,
        mut goal: impl FnMut(&mut Connection) -> Option<T>,
    ) -> Result<T, SocketError> {
        let mut flushed = false;
        loop {
            let d = self.driver_mut();
            match d.poll_goal(&mut goal, flushed) {
                Next::Ready { value, flush } => {
                    return self.reached(value, flush);
                }
                Next::Flush => {
                    self.try_flush()?;
                    flushed = true;
                    continue;
                }
                Next::Wait { deadline: None }
                    if !d.has_unwritten() && d.may_read() && d.read_plan(true) == ReadPlan::Read => {}
                Next::Wait { .. } => break,
            }
            let d = self.driver.get_mut().unwrap_or_else(PoisonError::into_inner);
            let r = self.reader.get_mut();
            future::poll_fn(|cx| r.poll_into(cx, |res| d.on_read(Instant::now(), res))).await;
            flushed = false;
        }
        // Boxed: inline, the future of `drive` (its race of the read, the writes, the timer and
        // the changes) would be part of every `recv` future a task holds across its awaits,
        // and an echo writes the lines of those it moves its values through (D1 misses per echo,
        // BENCHMARKS.md, session 12). Only a wait with a deadline or output pending comes here.
        Box::pin(self.drive(goal)).await
    }

    /// The next item of the `Stream` impls: a data message, `Ok(None)` from the peer's Close
    /// on (`wsduplex_core::driver::stream_item_of`).
    pub async fn next_message(&self) -> Result<Option<wsduplex_core::Message>, SocketError> {
        loop {
            if let Some(result) = wsduplex_core::driver::stream_item_of(self.drive(goal::event).await?) {
                return result;
            }
        }
    }

    /// Waits for the writing task to take the input left to it, at most [`HANDOFF_WAIT`].
    async fn await_handoff(&self) {
        let taken = self.changed.listen();
        if self.driver().is_handed_off() {
            future::or(taken, H::sleep_until(Instant::now() + HANDOFF_WAIT)).await;
        }
    }

    /// Gives up: no Close frame; the stream is shut down at once.
    pub async fn abort(&self) {
        self.driver().abort();
        if let Some(mut w) = self.writer.take_now(&self.changed) {
            // Abandon a half-written frame: nothing more goes out after an abort.
            w.outbox.clear();
        }
        let _ = self.try_flush();
        self.notify();
    }
}

/// Marks a round of `drive` as the one that writes what a `Sender` leaves, for as long as it
/// lives (also when its future is dropped).
struct Flusher<'a, H: Io>(&'a Shared<H>);

impl<'a, H: Io> Flusher<'a, H> {
    fn new(shared: &'a Shared<H>, writing: bool) -> Self {
        shared.driver().start_waiting(writing);
        Flusher(shared)
    }
}

impl<H: Io> Drop for Flusher<'_, H> {
    fn drop(&mut self) {
        self.0.driver().stop_waiting();
    }
}

/// Counts a task as writing for as long as it lives; at the end, takes any input left to it.
struct Writing<'a, H: Io>(&'a Shared<H>);

impl<'a, H: Io> Writing<'a, H> {
    fn new(shared: &'a Shared<H>) -> Self {
        shared.driver().start_writing();
        Writing(shared)
    }
}

impl<H: Io> Drop for Writing<'_, H> {
    fn drop(&mut self) {
        if self.0.driver().stop_writing() {
            self.0.take_handed_off_input();
        }
    }
}
