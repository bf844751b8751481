//! The async socket: the core behind a (never awaited-across) mutex, async locks for the read
//! and write halves, and a notification for whoever waits while another task reads.

use std::cell::RefCell;
use std::io::{self, ErrorKind, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, MutexGuard as SyncGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use async_lock::Mutex;
use async_net::TcpStream;
use bytes::Bytes;
use event_listener::Event as Notify;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};
use wsduplex_core::transport::{Outbox, read_ends_input};
use wsduplex_core::{
    Accept, ClientRequest, CloseFrame, Connection, DataKind, Delivery, Event, HandshakeError, Message, OsKeys, Outcome,
    Request, Response, State, Stats, Text, Transmit, WsUrl,
};

use crate::{Config, Error};

/// What a stream must be: readable and writable from two tasks through `io::split`.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncStream for T {}

/// One of the two handles to the stream: the read side polls one for reading, the write side
/// the other for writing. A TCP or Unix socket is simply cloned (reads and writes never wait
/// for each other); any other stream (TLS ...) is shared behind a lock held only inside a
/// poll. Unlike `futures_lite::io::split`, writes stay vectored.
enum Half<S> {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(async_net::unix::UnixStream),
    /// Always `Some`; an `Option` only so the stream could be tried as the types above.
    Locked(Arc<SyncMutex<Option<S>>>),
}

impl<S: AsyncStream> Half<S> {
    fn pair(stream: S) -> (Half<S>, Half<S>) {
        let mut slot = Some(stream);
        // Measured (`cargo bench -p wsduplex-bench --bench seed`): with a lock, a read polled
        // while a large write is in its system call blocks a second thread on the lock.
        let any = &mut slot as &mut dyn std::any::Any;
        if let Some(tcp) = any.downcast_mut::<Option<TcpStream>>().and_then(Option::take) {
            return (Half::Tcp(tcp.clone()), Half::Tcp(tcp));
        }
        #[cfg(unix)]
        if let Some(unix) = any.downcast_mut::<Option<async_net::unix::UnixStream>>().and_then(Option::take) {
            return (Half::Unix(unix.clone()), Half::Unix(unix));
        }
        let s = Arc::new(SyncMutex::new(slot));
        (Half::Locked(s.clone()), Half::Locked(s))
    }

    /// A handle that can wait for input without reading it, for sockets (see
    /// [`Shared::take_handed_off_input`]); other streams have none.
    fn readiness(&self) -> Option<Readiness> {
        match self {
            Half::Tcp(t) => Some(Readiness::Tcp(Arc::from(t.clone()))),
            #[cfg(unix)]
            Half::Unix(u) => Some(Readiness::Unix(Arc::from(u.clone()))),
            Half::Locked(_) => None,
        }
    }

    fn poll<T>(&mut self, f: impl FnOnce(Pin<&mut dyn Duplex>) -> Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match self {
            Half::Tcp(t) => f(Pin::new(t)),
            #[cfg(unix)]
            Half::Unix(u) => f(Pin::new(u)),
            Half::Locked(s) => match &mut *s.lock().unwrap_or_else(PoisonError::into_inner) {
                Some(s) => f(Pin::new(s)),
                None => Poll::Ready(Err(ErrorKind::NotConnected.into())),
            },
        }
    }
}

/// The reactor's handle of a socket: waits for input without taking it, and reads without
/// waiting (the socket is non-blocking).
enum Readiness {
    Tcp(Arc<Async<std::net::TcpStream>>),
    #[cfg(unix)]
    Unix(Arc<Async<std::os::unix::net::UnixStream>>),
}

impl Readiness {
    async fn readable(&self) -> io::Result<()> {
        match self {
            Readiness::Tcp(a) => a.readable().await,
            #[cfg(unix)]
            Readiness::Unix(a) => a.readable().await,
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        match self {
            Readiness::Tcp(a) => {
                let mut s: &std::net::TcpStream = a.get_ref();
                s.read(buf)
            }
            #[cfg(unix)]
            Readiness::Unix(a) => {
                let mut s: &std::os::unix::net::UnixStream = a.get_ref();
                s.read(buf)
            }
        }
    }
}

/// Both directions of a stream, as one object type.
trait Duplex: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Duplex for T {}

thread_local! {
    /// The buffer reads land in, one per thread: bytes go to the core (which keeps what it
    /// needs) in the same poll that read them, so no connection holds a read buffer of its own
    /// and an idle one costs only what the core keeps.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

struct ReadSide<S> {
    stream: Half<S>,
    size: usize,
    /// The read direction is finished (EOF or error): nobody reads again.
    done: bool,
    readiness: Option<Readiness>,
    /// The writers' progress count when input was last handed off (see `Shared::drive`).
    handed_off_at: Option<u64>,
}

impl<S: AsyncStream> ReadSide<S> {
    /// Reads once into the thread's scratch buffer and hands the bytes to `conn` at once.
    fn poll_into(&mut self, cx: &mut Context<'_>, conn: &SyncMutex<Connection>) -> Poll<io::Result<usize>> {
        let stream = &mut self.stream;
        read_through_scratch(
            self.size,
            conn,
            |buf| stream.poll(|s| s.poll_read(cx, buf)),
            |r| match r {
                Poll::Ready(Ok(n)) => Some(*n),
                _ => None,
            },
        )
    }

    /// Reads what has arrived without waiting (through the readiness handle, so no task's
    /// wakeup registration changes) and hands it to `conn`.
    fn try_read_into(&mut self, conn: &SyncMutex<Connection>) -> io::Result<usize> {
        let Some(ready) = &self.readiness else { return Err(ErrorKind::WouldBlock.into()) };
        read_through_scratch(self.size, conn, |buf| ready.try_read(buf), |r| r.as_ref().ok().copied())
    }

    /// Waits until the socket has input, without taking it (streams without a readiness
    /// handle never get here: see `Shared::drive`).
    async fn wait_readable(&self) -> io::Result<()> {
        match &self.readiness {
            Some(ready) => ready.readable().await,
            None => Ok(()),
        }
    }
}

/// Runs `read` on `size` bytes of the thread's scratch buffer and hands what it read (`got`
/// says how much) to `conn` in the same call: nothing stays in the buffer between reads.
fn read_through_scratch<R>(
    size: usize,
    conn: &SyncMutex<Connection>,
    read: impl FnOnce(&mut [u8]) -> R,
    got: impl Fn(&R) -> Option<usize>,
) -> R {
    let feed = |buf: &mut Vec<u8>| {
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let r = read(&mut buf[..size]);
        if let Some(n) = got(&r).filter(|&n| n > 0) {
            conn.lock().unwrap_or_else(PoisonError::into_inner).handle_input(Instant::now(), &buf[..n]);
        }
        r
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => feed(&mut buf),
        // A stream that polls another connection inside its own poll: a buffer of its own.
        Err(_) => feed(&mut Vec::new()),
    })
}

struct WriteSide<S> {
    stream: Half<S>,
    /// Output handed out by the core and not completely written yet.
    outbox: Outbox,
    closed: bool,
}

impl<S: AsyncStream> WriteSide<S> {
    /// One vectored write of everything queued (the slices live only inside the poll).
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); Outbox::MAX_SLICES];
        let n = self.outbox.slices(&mut slices);
        self.stream.poll(|s| s.poll_write_vectored(cx, &slices[..n]))
    }
}

struct Shared<S> {
    conn: SyncMutex<Connection>,
    changed: Notify,
    reader: Mutex<ReadSide<S>>,
    writer: Mutex<WriteSide<S>>,
    write_timeout: Duration,
    /// Tasks inside a flush (application sends and closes).
    writing: AtomicUsize,
    /// Writes they completed: how a reader tells a writer that moves from one that is stuck.
    writes: AtomicU64,
    /// A reader saw input while a task was writing and left it to that task.
    input_handed_off: AtomicBool,
}

/// Longest input left to a writing task waits for it: past this the writer is taken to be
/// stuck in one write (a peer that does not read) and the reading task reads after all.
const HANDOFF_WAIT: Duration = Duration::from_millis(1);

enum Woke {
    Read(io::Result<usize>),
    /// Input is waiting and a task is writing: left for it to take between its writes.
    HandedOff,
    Wrote(io::Result<()>),
    Timer,
    Changed,
}

impl<S: AsyncStream> Shared<S> {
    fn new(stream: S, conn: Connection, config: &Config) -> Arc<Self> {
        let (r, w) = Half::pair(stream);
        let readiness = r.readiness();
        Arc::new(Shared {
            conn: SyncMutex::new(conn),
            changed: Notify::new(),
            reader: Mutex::new(ReadSide {
                stream: r,
                size: config.read_buffer_size.max(1),
                done: false,
                readiness,
                handed_off_at: None,
            }),
            writer: Mutex::new(WriteSide { stream: w, outbox: Outbox::default(), closed: false }),
            write_timeout: config.write_timeout,
            writing: AtomicUsize::new(0),
            writes: AtomicU64::new(0),
            input_handed_off: AtomicBool::new(false),
        })
    }

    fn conn(&self) -> SyncGuard<'_, Connection> {
        // A panic in another task must not take this connection down with it.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        self.changed.notify(usize::MAX);
    }

    /// Writes the core's output in order, every queued buffer in one vectored write. Progress
    /// is recorded after every write, so a future dropped here loses nothing: the next writer
    /// resumes at the same byte. `timeout` bounds each write that makes no progress.
    async fn write_out(&self, w: &mut WriteSide<S>, timeout: Option<Duration>) -> io::Result<()> {
        loop {
            if !w.outbox.has_bytes() {
                match w.outbox.take_then() {
                    Some(Transmit::ShutdownWrite | Transmit::Disconnect) => {
                        if !w.closed {
                            // Half-close: FIN after everything written. The socket itself is
                            // released when the last handle is dropped.
                            let _ = future::poll_fn(|cx| w.stream.poll(|s| s.poll_close(cx))).await;
                            w.closed = true;
                        }
                        self.notify();
                    }
                    Some(Transmit::Bytes(_)) | None => {
                        w.outbox.refill(&mut self.conn());
                        if w.outbox.is_empty() {
                            return future::poll_fn(|cx| w.stream.poll(|s| s.poll_flush(cx))).await;
                        }
                    }
                }
                continue;
            }
            let write = future::poll_fn(|cx| w.poll_write_queued(cx));
            let n = match timeout {
                Some(t) => {
                    let expire = async {
                        Timer::after(t).await;
                        Err(io::Error::new(ErrorKind::TimedOut, "write timed out: the peer does not read"))
                    };
                    future::or(write, expire).await?
                }
                None => write.await?,
            };
            if n == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
            w.outbox.advance(n);
            if timeout.is_some() {
                self.writes.fetch_add(1, Ordering::Relaxed);
                self.take_handed_off_input();
            }
        }
    }

    /// Reads the input a reader left to the writing tasks, if any. Called between writes, when
    /// this task does not hold the socket: a reader that tried a `recv` while another thread's
    /// `send` held the socket's lock would block its executor thread in the kernel, and be
    /// woken again for every send that follows (hundreds of times per 128 MiB).
    fn take_handed_off_input(&self) {
        if !self.input_handed_off.load(Ordering::SeqCst) {
            return;
        }
        // A reader holding the read side reads itself.
        let Some(mut r) = self.reader.try_lock() else { return };
        if r.done || !self.input_handed_off.swap(false, Ordering::SeqCst) {
            return;
        }
        let res = r.try_read_into(&self.conn);
        self.absorb(&mut r, res);
        drop(r);
        self.notify();
    }

    /// What a read result means for the connection (the bytes themselves were handed over
    /// in the poll that read them).
    fn absorb(&self, r: &mut ReadSide<S>, res: io::Result<usize>) {
        if read_ends_input(&res) {
            r.done = true;
            self.conn().handle_eof(Instant::now());
        }
    }

    /// Waits for a writing task to take the input left to it, at most [`HANDOFF_WAIT`].
    async fn await_writer(&self) {
        let taken = self.changed.listen();
        self.input_handed_off.store(true, Ordering::SeqCst);
        // Pairs with the end of `flush`: a writer that already left would not see the flag.
        if self.writing.load(Ordering::SeqCst) > 0 {
            future::or(taken, async {
                Timer::after(HANDOFF_WAIT).await;
            })
            .await;
        } else {
            self.input_handed_off.store(false, Ordering::SeqCst);
        }
    }

    /// Writes all queued output, waiting (each write bounded by the write timeout) on a slow
    /// peer. Application calls (sends, closes) use it.
    async fn flush(&self) -> Result<(), Error> {
        // Dropped with the future too: a cancelled flush is no longer writing.
        let _writing = Writing::new(self);
        loop {
            let mut w = self.writer.lock().await;
            if let Err(e) = self.write_out(&mut w, Some(self.write_timeout)).await {
                return Err(self.write_failed(&mut w, e));
            }
            // No notification: the outbox is empty (nobody's output is stranded) and a
            // shutdown was announced where it was written. A task waiting in `drive` would only
            // try a read, which contends for the socket with the next send for nothing.
            drop(w);
            if !self.conn().has_transmit() {
                return Ok(());
            }
        }
    }

    /// Writes what goes without waiting, unless another task is writing.
    async fn try_flush(&self) -> Result<(), Error> {
        if let Some(mut w) = self.writer.try_lock() {
            if let Some(Err(e)) = future::poll_once(self.write_out(&mut w, None)).await {
                return Err(self.write_failed(&mut w, e));
            }
            self.notify();
        }
        Ok(())
    }

    /// A write failed: the stream is unusable. A reset peer is the end of the input; a peer
    /// that stopped reading past the write timeout is given up on.
    fn write_failed(&self, w: &mut WriteSide<S>, e: io::Error) -> Error {
        {
            let mut c = self.conn();
            if e.kind() == ErrorKind::TimedOut {
                c.abort();
            } else {
                c.handle_eof(Instant::now());
            }
            while c.poll_transmit().is_some() {}
        }
        w.outbox.clear();
        w.closed = true;
        self.notify();
        Error::Io(e)
    }

    /// Drives the connection until `ready` returns a value. Each round races the read (when
    /// no other task reads), pending writes (when no other task writes), the core's next
    /// deadline and a notification from another task.
    async fn drive<T>(&self, mut ready: impl FnMut(&mut Connection) -> Option<T>) -> Result<T, Error> {
        loop {
            let mut changed = None;
            let state = loop {
                let mut c = self.conn();
                match ready(&mut c) {
                    Some(t) => break Ok((t, c.has_event())),
                    None if changed.is_some() => break Err((c.poll_timeout(), c.has_transmit())),
                    None => {
                        drop(c);
                        // Listen, then look again: no notification in between is lost. Calls
                        // that find an event waiting (most of them) need no listener at all.
                        changed = Some(self.changed.listen());
                    }
                }
            };
            let (deadline, has_output) = match state {
                Ok((t, more)) => {
                    // Replies to a batch of events leave in one write, once it is handed out.
                    if !more {
                        self.try_flush().await?;
                    }
                    return Ok(t);
                }
                Err(waiting) => waiting,
            };
            let mut reader = self.reader.try_lock().filter(|r| !r.done);
            let mut writer = self.writer.try_lock().filter(|w| has_output || !w.outbox.is_empty());
            let woke = {
                let read = async {
                    match reader.as_mut() {
                        // A task is writing: wait for input without taking it, then leave it to
                        // the writer, who takes it between two writes (`take_handed_off_input`).
                        Some(r) if r.readiness.is_some() && self.writing.load(Ordering::SeqCst) > 0 => {
                            if let Err(e) = r.wait_readable().await {
                                return Woke::Read(Err(e));
                            }
                            let progress = self.writes.load(Ordering::Relaxed);
                            if self.writing.load(Ordering::SeqCst) > 0 && r.handed_off_at != Some(progress) {
                                r.handed_off_at = Some(progress);
                                Woke::HandedOff
                            } else {
                                // The writer left, or is stuck in one write since the last
                                // handoff (its peer may be waiting for us to read): read.
                                self.input_handed_off.store(false, Ordering::SeqCst);
                                Woke::Read(r.try_read_into(&self.conn))
                            }
                        }
                        Some(r) => Woke::Read(future::poll_fn(|cx| r.poll_into(cx, &self.conn)).await),
                        None => future::pending().await,
                    }
                };
                let write = async {
                    match writer.as_mut() {
                        Some(w) => Woke::Wrote(self.write_out(w, None).await),
                        None => future::pending().await,
                    }
                };
                let timer = async {
                    match deadline {
                        Some(d) => {
                            Timer::at(d).await;
                            Woke::Timer
                        }
                        None => future::pending().await,
                    }
                };
                let changed = async {
                    match changed {
                        Some(listener) => listener.await,
                        None => future::pending().await,
                    }
                    Woke::Changed
                };
                future::or(read, future::or(write, future::or(timer, changed))).await
            };
            let now = Instant::now();
            match woke {
                Woke::Read(res) => {
                    let Some(r) = reader.as_mut() else { continue };
                    self.absorb(r, res);
                }
                Woke::HandedOff => {
                    drop(reader);
                    drop(writer);
                    self.await_writer().await;
                    continue;
                }
                Woke::Wrote(Err(e)) => {
                    if let Some(w) = writer.as_mut() {
                        return Err(self.write_failed(w, e));
                    }
                }
                Woke::Wrote(Ok(())) | Woke::Timer | Woke::Changed => {}
            }
            drop(reader);
            drop(writer);
            {
                let mut c = self.conn();
                if c.poll_timeout().is_some_and(|d| d <= now) {
                    c.handle_timeout(now);
                }
            }
            self.notify();
        }
    }
}

/// Counts a task as writing for as long as it lives; at the end, takes any input left to it.
struct Writing<'a, S: AsyncStream>(&'a Shared<S>);

impl<'a, S: AsyncStream> Writing<'a, S> {
    fn new(shared: &'a Shared<S>) -> Self {
        shared.writing.fetch_add(1, Ordering::SeqCst);
        Writing(shared)
    }
}

impl<S: AsyncStream> Drop for Writing<'_, S> {
    fn drop(&mut self) {
        self.0.writing.fetch_sub(1, Ordering::SeqCst);
        self.0.take_handed_off_input();
    }
}

/// Operations shared by the socket and its halves.
struct Handle<S>(Arc<Shared<S>>);

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Handle(self.0.clone())
    }
}

impl<S: AsyncStream> Handle<S> {
    /// Queues with `op` (waiting while the outgoing buffer is full), then writes all if `flush`.
    async fn send_with(
        &self,
        flush: bool,
        mut op: impl FnMut(&mut Connection) -> Result<(), wsduplex_core::LocalError>,
    ) -> Result<(), Error> {
        loop {
            let r = op(&mut self.0.conn());
            match r {
                Ok(()) if !flush => return Ok(()),
                // This task writes it: nobody else needs waking.
                Ok(()) => return self.0.flush().await,
                Err(wsduplex_core::LocalError::SendBufferFull { .. }) => self.0.flush().await?,
                Err(e) => return Err(self.closed_or(e)),
            }
        }
    }

    /// A send refused because the connection ended reports how it ended.
    fn closed_or(&self, e: wsduplex_core::LocalError) -> Error {
        match (&e, self.0.conn().outcome()) {
            (wsduplex_core::LocalError::NotOpen(State::Closed), Some(o)) if !o.is_clean() => Error::Closed(o.clone()),
            _ => Error::Local(e),
        }
    }

    async fn send(&self, message: Message, flush: bool) -> Result<(), Error> {
        self.send_with(flush, |c| c.send(message.clone())).await
    }

    async fn send_fragment(&self, kind: DataKind, data: Bytes, end_of_message: bool) -> Result<(), Error> {
        self.send_with(true, |c| c.send_fragment(kind, data.clone(), end_of_message)).await
    }

    async fn ping(&self, payload: Bytes) -> Result<(), Error> {
        self.send_with(true, |c| c.ping(payload.clone())).await
    }

    async fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame::new(code, reason);
        // Bind the result first: the guard must be gone before `closed_or` locks again.
        let result = self.0.conn().close(Instant::now(), frame);
        result.map_err(|e| self.closed_or(e))?;
        self.0.notify();
        self.0.flush().await
    }

    async fn wait_closed(&self) -> Result<Outcome, Error> {
        // Bounded: the core's close timeout, reply deadline and EOF wait all end in Closed and
        // then Disconnect.
        self.0.drive(|c| c.is_terminated().then(|| c.outcome().cloned())).await?.ok_or(Error::Closed(Outcome::Aborted))
    }

    async fn close_and_wait(&self, code: u16, reason: &str) -> Result<Outcome, Error> {
        self.close(code, reason).await?;
        self.wait_closed().await
    }

    async fn abort(&self) {
        self.0.conn().abort();
        if let Some(mut w) = self.0.writer.try_lock() {
            // Abandon a half-written frame: nothing more goes out after an abort.
            w.outbox.clear();
        }
        let _ = self.0.try_flush().await;
        self.0.notify();
    }

    async fn recv(&self) -> Result<Option<Event>, Error> {
        self.0
            .drive(|c| match c.poll_event() {
                Some(e) => Some(Some(e)),
                None => c.is_terminated().then_some(None),
            })
            .await
    }

    async fn recv_message(&self) -> Result<Option<Message>, Error> {
        loop {
            match self.recv().await? {
                Some(Event::Message(m)) => return Ok(Some(m)),
                Some(Event::Closed(o)) if !o.is_clean() => return Err(Error::Closed(o)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    fn set_delivery(&self, delivery: Delivery) {
        self.0.conn().set_delivery(delivery)
    }

    fn state(&self) -> State {
        self.0.conn().state()
    }

    fn stats(&self) -> Stats {
        self.0.conn().stats()
    }

    fn outcome(&self) -> Option<Outcome> {
        self.0.conn().outcome().cloned()
    }
}

/// What the opening handshake settled.
#[derive(Debug, Clone)]
enum Opened {
    Client(Response),
    Server(Request),
}

/// A WebSocket connection owned by one task at a time. [`WebSocket::split`] it to send and
/// receive from two tasks.
pub struct WebSocket<S: AsyncStream = TcpStream> {
    handle: Handle<S>,
    opened: Opened,
}

/// The sending half of a split [`WebSocket`].
pub struct Sender<S: AsyncStream = TcpStream> {
    handle: Handle<S>,
}

/// The receiving half of a split [`WebSocket`].
pub struct Receiver<S: AsyncStream = TcpStream> {
    handle: Handle<S>,
}

macro_rules! sending {
    () => {
        /// Sends a whole message and writes it out (with everything queued before it); waits
        /// while the socket does not take it.
        pub async fn send(&self, message: Message) -> Result<(), Error> {
            self.handle.send(message, true).await
        }

        /// Sends a text message.
        pub async fn send_text(&self, text: impl Into<Text>) -> Result<(), Error> {
            self.handle.send(Message::Text(text.into()), true).await
        }

        /// Sends a binary message.
        pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), Error> {
            self.handle.send(Message::Binary(data.into()), true).await
        }

        /// Queues a message without writing it, so many small ones leave in one write. It goes
        /// out with the next `send`, `flush` or `close`, or when `recv` has handed out every
        /// event already received: an echo that feeds its replies answers a batch of messages
        /// with one write. Waits only while the outgoing buffer is full.
        pub async fn feed(&self, message: Message) -> Result<(), Error> {
            self.handle.send(message, false).await
        }

        /// Writes out everything queued; waits while the socket does not take it.
        pub async fn flush(&self) -> Result<(), Error> {
            self.handle.0.flush().await
        }

        /// Sends part of a message; `end_of_message` finishes it.
        pub async fn send_fragment(&self, kind: DataKind, data: Bytes, end_of_message: bool) -> Result<(), Error> {
            self.handle.send_fragment(kind, data, end_of_message).await
        }

        /// Sends a ping.
        pub async fn ping(&self, payload: Bytes) -> Result<(), Error> {
            self.handle.ping(payload).await
        }

        /// Close-output: sends our Close and returns. Receiving goes on until the peer's Close;
        /// from `CloseReceived` this is our reply.
        pub async fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
            self.handle.close(code, reason).await
        }

        /// Close-output, then waits until the connection is closed and released (bounded by
        /// the close timeout and the EOF wait). Events that arrive meanwhile stay queued for
        /// `recv`.
        pub async fn close_and_wait(&self, code: u16, reason: &str) -> Result<Outcome, Error> {
            self.handle.close_and_wait(code, reason).await
        }

        /// Gives up: no Close frame, the connection is dropped at once.
        pub async fn abort(&self) {
            self.handle.abort().await
        }
    };
}

macro_rules! receiving {
    () => {
        /// The next event: messages (or chunks), pings, pongs, chunk boundaries, the peer's
        /// Close, and finally [`Event::Closed`]. `None` once the connection is released.
        pub async fn recv(&self) -> Result<Option<Event>, Error> {
            self.handle.recv().await
        }

        /// Whole messages or streaming chunks, from the next message on.
        pub fn set_delivery(&self, delivery: Delivery) {
            self.handle.set_delivery(delivery)
        }

        /// The next data message, skipping other events. `Ok(None)` after a clean close;
        /// [`Error::Closed`] if the connection ended otherwise.
        pub async fn recv_message(&self) -> Result<Option<Message>, Error> {
            self.handle.recv_message().await
        }
    };
}

macro_rules! inspecting {
    () => {
        /// The close-handshake state.
        pub fn state(&self) -> State {
            self.handle.state()
        }

        /// Per-direction counts.
        pub fn stats(&self) -> Stats {
            self.handle.stats()
        }

        /// How the connection ended, once it has.
        pub fn outcome(&self) -> Option<Outcome> {
            self.handle.outcome()
        }
    };
}

impl<S: AsyncStream> WebSocket<S> {
    sending!();
    receiving!();
    inspecting!();

    /// Splits into a sending and a receiving half for two tasks.
    pub fn split(self) -> (Sender<S>, Receiver<S>) {
        (Sender { handle: self.handle.clone() }, Receiver { handle: self.handle })
    }

    /// Client: the server's response.
    pub fn response(&self) -> Option<&Response> {
        match &self.opened {
            Opened::Client(r) => Some(r),
            Opened::Server(_) => None,
        }
    }

    /// Server: the client's request.
    pub fn request(&self) -> Option<&Request> {
        match &self.opened {
            Opened::Server(r) => Some(r),
            Opened::Client(_) => None,
        }
    }
}

impl<S: AsyncStream> Sender<S> {
    sending!();
    inspecting!();
}

impl<S: AsyncStream> Receiver<S> {
    receiving!();
    inspecting!();

    /// The events as a `futures_core::Stream`, ending when the connection is released.
    pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<Event, Error>> {
        futures_lite::stream::unfold(Some(self), |rx| async move {
            let rx = rx?;
            match rx.recv().await {
                Ok(Some(e)) => Some((Ok(e), Some(rx))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

/// Connects to a `ws://` URL over TCP and performs the opening handshake.
pub async fn connect(url: &str, config: Config) -> Result<WebSocket<TcpStream>, Error> {
    let url = WsUrl::parse(url)?;
    let connect = TcpStream::connect(url.address.as_str());
    let expire = async {
        Timer::after(config.connect_timeout).await;
        Err(io::Error::new(ErrorKind::TimedOut, "connect timed out"))
    };
    let stream = future::or(connect, expire).await?;
    stream.set_nodelay(true)?;
    connect_with(stream, url.request(), config).await
}

/// Performs the client's opening handshake over a stream the caller connected (TLS, a Unix
/// socket, a proxy tunnel ...).
pub async fn connect_with<S: AsyncStream>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<WebSocket<S>, Error> {
    let conn = Connection::client(config.core.clone(), request, OsKeys::default(), Instant::now())?;
    let shared = Shared::new(stream, conn, &config);
    shared.flush().await?;
    let response = shared
        .drive(|c| match c.poll_event() {
            Some(Event::Connected(r)) => Some(Ok(r)),
            Some(Event::Closed(o)) => Some(Err(Error::from_handshake(Some(o)))),
            Some(_) => None,
            None => c.is_terminated().then(|| Err(Error::from_handshake(c.outcome().cloned()))),
        })
        .await??;
    Ok(WebSocket { handle: Handle(shared), opened: Opened::Client(response) })
}

/// Accepts a WebSocket on an accepted TCP stream, agreeing to every valid request.
pub async fn accept(stream: TcpStream, config: Config) -> Result<WebSocket<TcpStream>, Error> {
    stream.set_nodelay(true)?;
    accept_with(stream, config, |_| Ok(Accept::default())).await
}

/// Accepts a WebSocket on a stream; `decide` sees the request and chooses a subprotocol and
/// headers, or rejects with an HTTP status.
pub async fn accept_with<S: AsyncStream>(
    stream: S,
    config: Config,
    decide: impl FnOnce(&Request) -> Result<Accept, u16>,
) -> Result<WebSocket<S>, Error> {
    let shared = Shared::new(stream, Connection::server(config.core.clone(), Instant::now()), &config);
    let request = shared
        .drive(|c| match c.poll_event() {
            Some(Event::Request(r)) => Some(Ok(r)),
            Some(Event::Closed(o)) => Some(Err(Error::from_handshake(Some(o)))),
            Some(_) => None,
            None => c.is_terminated().then(|| Err(Error::from_handshake(c.outcome().cloned()))),
        })
        .await;
    let request = match request {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => {
            let _ = shared.flush().await;
            return Err(e);
        }
    };
    let now = Instant::now();
    let result = match decide(&request) {
        Ok(accept) => shared.conn().accept(now, accept).map_err(Error::Local),
        Err(status) => {
            let r = shared.conn().reject(now, status);
            r.map_err(Error::Local).and(Err(Error::Handshake(HandshakeError::Rejected(status))))
        }
    };
    shared.flush().await?;
    result?;
    Ok(WebSocket { handle: Handle(shared), opened: Opened::Server(request) })
}

#[cfg(test)]
mod tests {
    use async_net::TcpListener;

    use super::*;

    /// Twin of the blocking transport's test: a writing task that takes the end of the input
    /// between two writes leaves the core's Disconnect for the receiver to write; the receiver
    /// writes it and must then see that the connection is over, not wait for a timer.
    #[test]
    fn recv_ends_as_soon_as_it_writes_the_disconnect_itself() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("address");
            let stream = TcpStream::connect(addr).await.expect("connect");
            let _peer = listener.accept().await.expect("accept");
            let config = Config::default();
            let conn = Connection::server_established(config.core.clone(), Instant::now());
            let shared = Shared::new(stream, conn, &config);
            {
                let mut r = shared.reader.try_lock().expect("read side");
                shared.absorb(&mut r, Ok(0));
            }
            {
                let mut c = shared.conn();
                assert!(matches!(c.poll_event(), Some(Event::Closed(Outcome::Abnormal))));
                assert!(c.poll_event().is_none());
                assert!(c.has_transmit() && !c.is_terminated(), "the Disconnect is left queued");
            }
            let start = Instant::now();
            let handle = Handle(shared);
            let ended = future::or(async { Some(handle.recv().await) }, async {
                Timer::after(Duration::from_secs(5)).await;
                None
            })
            .await;
            assert!(matches!(ended, Some(Ok(None))), "recv did not end: {ended:?}");
            assert!(start.elapsed() < Duration::from_secs(1), "recv waited {:?}", start.elapsed());
        });
    }
}
