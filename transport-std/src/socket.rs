//! The blocking socket: the core behind a mutex, a reader lock and a writer lock over two
//! handles of the stream, and a condition variable for whoever waits while another reads.

use std::io::{self, ErrorKind, IoSlice};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wsduplex_core::transport::{Outbox, read_ends_input};
use wsduplex_core::{
    Accept, ClientRequest, CloseFrame, Connection, DataKind, Delivery, Event, HandshakeError, Message, Outcome,
    Request, Response, State, Stats, Text, Transmit, WsUrl,
};

use crate::{Config, Error, OsKeys, Stream};

/// Longest a read blocks before the reader looks at the clock again: deadlines armed by another
/// thread (a close from the sending half) are honoured within this. Unit tests make it long, so
/// that a wait which only this bound ends shows as a failure, not as a slow pass.
const MAX_BLOCK: Duration = Duration::from_millis(if cfg!(test) { 10_000 } else { 100 });

/// Longest input left to a writing thread waits for it: past this the writer is taken to be
/// stuck in one write (a peer that does not read) and the reading thread reads after all.
const HANDOFF_WAIT: Duration = Duration::from_millis(1);

/// What a read round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Read (or timed out, or found the input finished).
    Done,
    /// Input is waiting and a thread is writing: left for it to take between its writes.
    HandedOff,
}

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

fn quiet_shutdown(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(()),
        r => r,
    }
}

struct ReadSide<S> {
    stream: S,
    buf: Vec<u8>,
    timeout: Option<Duration>,
    /// The read direction is finished (EOF or error): nobody reads again.
    done: bool,
    /// The writers' progress count when input was last handed off: unchanged at the next
    /// round means the writer did not get to it, and the reader reads after all.
    handed_off_at: Option<u64>,
}

impl<S: Stream> ReadSide<S> {
    /// What has arrived, without blocking, into the read buffer.
    fn try_read(&mut self) -> io::Result<usize> {
        self.stream.try_read(&mut self.buf)
    }
}

struct WriteSide<S> {
    stream: S,
    /// Output handed out by the core and not completely written yet.
    outbox: Outbox,
}

struct Shared<S> {
    conn: Mutex<Connection>,
    changed: Condvar,
    /// Threads waiting on `changed`. Notifying costs a system call even when nobody waits,
    /// and a stream notifies several times per message: only waiters are worth it.
    waiters: AtomicUsize,
    reader: Mutex<ReadSide<S>>,
    writer: Mutex<WriteSide<S>>,
    /// Threads inside a blocking flush (application sends and closes).
    writing: AtomicUsize,
    /// Writes completed by them: how a reader tells a writer that moves from one that is stuck.
    writes: AtomicU64,
    /// A reader saw input while a thread was writing and left it to that thread.
    input_handed_off: AtomicBool,
}

impl<S: Stream> Shared<S> {
    fn new(stream: S, conn: Connection, config: &Config) -> io::Result<Arc<Self>> {
        let writer = stream.try_clone()?;
        writer.set_write_timeout(Some(config.write_timeout))?;
        let reader = ReadSide {
            stream,
            buf: vec![0; config.read_buffer_size.max(1)],
            timeout: None,
            done: false,
            handed_off_at: None,
        };
        let writer = WriteSide { stream: writer, outbox: Outbox::default() };
        Ok(Arc::new(Shared {
            conn: Mutex::new(conn),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            writing: AtomicUsize::new(0),
            writes: AtomicU64::new(0),
            input_handed_off: AtomicBool::new(false),
        }))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
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

    /// Writes all queued output, blocking (up to the write timeout) on a slow peer; waits
    /// while another thread writes. Only application calls (sends, closes) use it.
    fn flush(&self) -> Result<(), Error> {
        self.writing.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            if let Err(e) = self.write_out(lock(&self.writer), true) {
                break Err(e);
            }
            if !self.conn().has_transmit() {
                break Ok(());
            }
        };
        // Pairs with the reader's handoff: either it sees no writer left and reads itself, or
        // we see what it left us here.
        self.writing.fetch_sub(1, Ordering::SeqCst);
        self.take_handed_off_input();
        result
    }

    /// Reads the input a reader left to the writing threads, if any (see [`Round::HandedOff`]).
    /// Called between writes, when this thread does not hold the socket.
    fn take_handed_off_input(&self) {
        if !self.input_handed_off.load(Ordering::SeqCst) {
            return;
        }
        // A reader holding the read side reads itself.
        let Some(mut r) = try_lock(&self.reader) else { return };
        if r.done || !self.input_handed_off.swap(false, Ordering::SeqCst) {
            return;
        }
        let res = r.try_read();
        self.absorb(&mut r, res);
        drop(r);
        self.notify();
    }

    /// Writes what goes without blocking, unless another thread is writing (it checks again
    /// after it lets go of the writer, so nothing queued now is stranded). Whoever reads uses
    /// this: a reader blocked on a write could stall both ends. What does not fit now is
    /// written by the next flush, or by the reader's next round (at most `MAX_BLOCK` later).
    fn try_flush(&self) -> Result<(), Error> {
        while let Some(w) = try_lock(&self.writer) {
            if !self.write_out(w, false)? || !self.conn().has_transmit() {
                break;
            }
        }
        Ok(())
    }

    /// Writes the core's output in order, every queued buffer in one vectored write. False if
    /// a non-blocking write would have blocked: the rest stays in the outbox (partly written
    /// buffers included) for the next writer.
    fn write_out(&self, mut w: MutexGuard<'_, WriteSide<S>>, blocking: bool) -> Result<bool, Error> {
        let mut shut = false;
        let complete = loop {
            let WriteSide { stream, outbox } = &mut *w;
            if !outbox.has_bytes() {
                let r = match outbox.take_then() {
                    Some(Transmit::ShutdownWrite) => quiet_shutdown(stream.shutdown(Shutdown::Write)),
                    Some(Transmit::Disconnect) => quiet_shutdown(stream.shutdown(Shutdown::Both)),
                    Some(Transmit::Bytes(_)) | None => {
                        outbox.refill(&mut self.conn());
                        if outbox.is_empty() {
                            break true;
                        }
                        continue;
                    }
                };
                if let Err(e) = r {
                    return Err(self.write_failed(w, e));
                }
                shut = true;
                continue;
            }
            let r = {
                let mut slices = [IoSlice::new(&[]); Outbox::MAX_SLICES];
                let n = outbox.slices(&mut slices);
                if blocking { stream.write_vectored(&slices[..n]) } else { stream.try_write_vectored(&slices[..n]) }
            };
            let failure = match r {
                Ok(0) => io::Error::from(ErrorKind::WriteZero),
                Ok(n) => {
                    outbox.advance(n);
                    if blocking {
                        self.writes.fetch_add(1, Ordering::Relaxed);
                        self.take_handed_off_input();
                    }
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if !blocking && e.kind() == ErrorKind::WouldBlock => break false,
                // An expired write timeout surfaces as EAGAIN on Linux: say what it is.
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    io::Error::new(ErrorKind::TimedOut, "write timed out: the peer does not read")
                }
                Err(e) => e,
            };
            return Err(self.write_failed(w, failure));
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

    /// A write failed: the stream is unusable. A reset peer is the end of the input; a peer
    /// that stopped reading past the write timeout is given up on.
    fn write_failed(&self, mut w: MutexGuard<'_, WriteSide<S>>, e: io::Error) -> Error {
        {
            let mut c = self.conn();
            if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) {
                c.abort();
            } else {
                c.handle_eof(Instant::now());
            }
            while c.poll_transmit().is_some() {}
        }
        w.outbox.clear();
        let _ = w.stream.shutdown(Shutdown::Both);
        drop(w);
        self.notify();
        Error::Io(e)
    }

    /// Drives the connection until `ready` returns a value. Every round either reads once
    /// (when no other thread is reading) or waits for the thread that is; due timers fire
    /// either way, and queued output is written. Each round is bounded by the core's next
    /// deadline and [`MAX_BLOCK`].
    fn drive<T>(&self, mut ready: impl FnMut(&mut Connection) -> Option<T>) -> Result<T, Error> {
        loop {
            let mut c = self.conn();
            let mut flushed = false;
            let found = loop {
                if let Some(t) = ready(&mut c) {
                    break Some(t);
                }
                if flushed || !c.has_transmit() {
                    break None;
                }
                // Fed output goes out before we wait for input: the peer may be waiting for it.
                // What the write changed (a Disconnect ends the connection) is looked at again.
                drop(c);
                self.try_flush()?;
                c = self.conn();
                flushed = true;
            };
            if let Some(t) = found {
                // Replies to a batch of events leave in one write, once the batch is handed out.
                let more = c.has_event();
                drop(c);
                if !more {
                    self.try_flush()?;
                }
                return Ok(t);
            }
            let now = Instant::now();
            let wait = c.poll_timeout().map_or(MAX_BLOCK, |d| d.saturating_duration_since(now)).min(MAX_BLOCK);
            self.waiters.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            match try_lock(&self.reader).filter(|r| !r.done) {
                Some(mut r) => {
                    self.waiters.fetch_sub(1, Ordering::Relaxed);
                    drop(c);
                    if self.read_once(&mut r, wait) == Round::HandedOff {
                        drop(r);
                        self.await_writer(wait);
                        continue;
                    }
                }
                None => {
                    let (mut c, _) = self.changed.wait_timeout(c, wait).unwrap_or_else(PoisonError::into_inner);
                    self.waiters.fetch_sub(1, Ordering::Relaxed);
                    let now = Instant::now();
                    if c.poll_timeout().is_some_and(|d| d <= now) {
                        c.handle_timeout(now);
                    }
                }
            }
            self.notify();
            self.try_flush()?;
        }
    }

    /// Reads once, waiting at most `wait`. While another thread writes, a stream that can wait
    /// for input without reading it ([`Stream::wait_readable`]) leaves the input to that
    /// thread: Linux locks a TCP socket for each `send` and `recv`, and a reader that wakes to
    /// find it taken by a large `send` sleeps and is woken again for every one that follows
    /// (hundreds of wakeups per 128 MiB streamed, each one paid by the writer).
    fn read_once(&self, r: &mut ReadSide<S>, wait: Duration) -> Round {
        let wait = wait.max(Duration::from_millis(1));
        if self.writing.load(Ordering::SeqCst) > 0 {
            match r.stream.wait_readable(wait) {
                Ok(Some(false)) => {
                    self.absorb(r, Err(ErrorKind::WouldBlock.into()));
                    return Round::Done;
                }
                Ok(Some(true)) => {
                    let progress = self.writes.load(Ordering::Relaxed);
                    if r.handed_off_at != Some(progress) {
                        r.handed_off_at = Some(progress);
                        return Round::HandedOff;
                    }
                    // Handed off before and no write completed since: the writer is stuck in
                    // one (the peer may be waiting for us to read). Read after all.
                    self.input_handed_off.store(false, Ordering::SeqCst);
                    let res = r.try_read();
                    self.absorb(r, res);
                    return Round::Done;
                }
                // The stream cannot tell: wait inside the read.
                Ok(None) | Err(_) => {}
            }
        }
        let ReadSide { stream, buf, timeout, .. } = r;
        let mut res = Ok(());
        if *timeout != Some(wait) {
            res = stream.set_read_timeout(Some(wait));
            *timeout = Some(wait);
        }
        let res = res.and_then(|()| stream.read(buf));
        self.absorb(r, res);
        Round::Done
    }

    /// Waits for a writing thread to take the input left to it, at most [`HANDOFF_WAIT`].
    fn await_writer(&self, wait: Duration) {
        let c = self.conn();
        self.waiters.fetch_add(1, Ordering::Relaxed);
        self.input_handed_off.store(true, Ordering::SeqCst);
        // Pairs with the end of `flush`: a writer that already left would not see the flag.
        if self.writing.load(Ordering::SeqCst) > 0 {
            let _ = self.changed.wait_timeout(c, HANDOFF_WAIT.min(wait)).unwrap_or_else(PoisonError::into_inner);
        } else {
            // The writer is gone: the next round reads.
            self.input_handed_off.store(false, Ordering::SeqCst);
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Hands the result of a read to the core and fires due timers.
    fn absorb(&self, r: &mut ReadSide<S>, res: io::Result<usize>) {
        let now = Instant::now();
        let mut c = self.conn();
        if read_ends_input(&res) {
            r.done = true;
            c.handle_eof(now);
        } else if let Ok(n) = res {
            c.handle_input(now, &r.buf[..n]);
        }
        if c.poll_timeout().is_some_and(|d| d <= now) {
            c.handle_timeout(now);
        }
    }
}

/// Operations shared by the socket and its halves.
struct Handle<S>(Arc<Shared<S>>);

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Handle(self.0.clone())
    }
}

impl<S: Stream> Handle<S> {
    /// Queues with `op` (writing out while the outgoing buffer is full), then writes all if
    /// `flush`.
    fn send_with(
        &self,
        flush: bool,
        mut op: impl FnMut(&mut Connection) -> Result<(), wsduplex_core::LocalError>,
    ) -> Result<(), Error> {
        loop {
            let r = op(&mut self.0.conn());
            match r {
                Ok(()) if !flush => return Ok(()),
                // This thread writes it: nobody else needs waking.
                Ok(()) => return self.0.flush(),
                // The outgoing buffer is full: write it out (this is where a send blocks), retry.
                Err(wsduplex_core::LocalError::SendBufferFull { .. }) => self.0.flush()?,
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

    fn send(&self, message: Message, flush: bool) -> Result<(), Error> {
        let mut message = Some(message);
        self.send_with(flush, |c| match message.take() {
            Some(m) => c.send(m.clone()).inspect_err(|_| message = Some(m)),
            None => Ok(()),
        })
    }

    fn send_fragment(&self, kind: DataKind, data: Bytes, end_of_message: bool) -> Result<(), Error> {
        self.send_with(true, |c| c.send_fragment(kind, data.clone(), end_of_message))
    }

    fn ping(&self, payload: Bytes) -> Result<(), Error> {
        self.send_with(true, |c| c.ping(payload.clone()))
    }

    fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame::new(code, reason);
        // Bind the result first: the guard must be gone before `closed_or` locks again.
        let result = self.0.conn().close(Instant::now(), frame);
        result.map_err(|e| self.closed_or(e))?;
        self.0.notify();
        self.0.flush()
    }

    fn wait_closed(&self) -> Result<Outcome, Error> {
        // Bounded: the core's close timeout, reply deadline and EOF wait all end in Closed and
        // then Disconnect.
        self.0.drive(|c| c.is_terminated().then(|| c.outcome().cloned()))?.ok_or(Error::Closed(Outcome::Aborted))
    }

    fn close_and_wait(&self, code: u16, reason: &str) -> Result<Outcome, Error> {
        self.close(code, reason)?;
        self.wait_closed()
    }

    fn abort(&self) {
        self.0.conn().abort();
        if let Some(mut w) = try_lock(&self.0.writer) {
            // Abandon a half-written frame: nothing more goes out after an abort.
            w.outbox.clear();
        }
        let _ = self.0.try_flush();
        self.0.notify();
    }

    fn recv(&self) -> Result<Option<Event>, Error> {
        self.0.drive(|c| match c.poll_event() {
            Some(e) => Some(Some(e)),
            None => c.is_terminated().then_some(None),
        })
    }

    fn recv_message(&self) -> Result<Option<Message>, Error> {
        loop {
            match self.recv()? {
                Some(Event::Message(m)) => return Ok(Some(m)),
                Some(Event::Closed(o)) if !o.is_clean() => return Err(Error::Closed(o)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    fn state(&self) -> State {
        self.0.conn().state()
    }

    fn set_delivery(&self, delivery: Delivery) {
        self.0.conn().set_delivery(delivery)
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

/// A WebSocket connection owned by one thread at a time. [`WebSocket::split`] it to send
/// and receive from two threads.
pub struct WebSocket<S: Stream = TcpStream> {
    handle: Handle<S>,
    opened: Opened,
}

/// The sending half of a split [`WebSocket`].
pub struct Sender<S: Stream = TcpStream> {
    handle: Handle<S>,
}

/// The receiving half of a split [`WebSocket`].
pub struct Receiver<S: Stream = TcpStream> {
    handle: Handle<S>,
}

macro_rules! sending {
    () => {
        /// Sends a whole message and writes it out (with everything queued before it); blocks
        /// while the socket does not take it.
        pub fn send(&self, message: Message) -> Result<(), Error> {
            self.handle.send(message, true)
        }

        /// Sends a text message.
        pub fn send_text(&self, text: impl Into<Text>) -> Result<(), Error> {
            self.handle.send(Message::Text(text.into()), true)
        }

        /// Sends a binary message.
        pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), Error> {
            self.handle.send(Message::Binary(data.into()), true)
        }

        /// Queues a message without writing it, so many small ones leave in one write. It goes
        /// out with the next `send`, `flush` or `close`, or when `recv` has handed out every
        /// event already received: an echo that feeds its replies answers a batch of messages
        /// with one write. Blocks only while the outgoing buffer is full.
        pub fn feed(&self, message: Message) -> Result<(), Error> {
            self.handle.send(message, false)
        }

        /// Writes out everything queued; blocks while the socket does not take it.
        pub fn flush(&self) -> Result<(), Error> {
            self.handle.0.flush()
        }

        /// Sends part of a message; `end_of_message` finishes it.
        pub fn send_fragment(&self, kind: DataKind, data: Bytes, end_of_message: bool) -> Result<(), Error> {
            self.handle.send_fragment(kind, data, end_of_message)
        }

        /// Sends a ping.
        pub fn ping(&self, payload: Bytes) -> Result<(), Error> {
            self.handle.ping(payload)
        }

        /// Close-output: sends our Close and returns. Receiving goes on until the peer's Close;
        /// from `CloseReceived` this is our reply.
        pub fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
            self.handle.close(code, reason)
        }

        /// Close-output, then waits until the connection is closed and released (bounded by
        /// the close timeout and the EOF wait). Events that arrive meanwhile stay queued for
        /// `recv`.
        pub fn close_and_wait(&self, code: u16, reason: &str) -> Result<Outcome, Error> {
            self.handle.close_and_wait(code, reason)
        }

        /// Gives up: no Close frame, the connection is dropped at once.
        pub fn abort(&self) {
            self.handle.abort()
        }
    };
}

macro_rules! receiving {
    () => {
        /// The next event: messages (or chunks), pings, pongs, chunk boundaries, the peer's
        /// Close, and finally [`Event::Closed`]. `None` once the connection is released.
        pub fn recv(&self) -> Result<Option<Event>, Error> {
            self.handle.recv()
        }

        /// Whole messages or streaming chunks, from the next message on.
        pub fn set_delivery(&self, delivery: Delivery) {
            self.handle.set_delivery(delivery)
        }

        /// The next data message, skipping other events. `Ok(None)` after a clean close;
        /// [`Error::Closed`] if the connection ended otherwise.
        pub fn recv_message(&self) -> Result<Option<Message>, Error> {
            self.handle.recv_message()
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

impl<S: Stream> WebSocket<S> {
    sending!();
    receiving!();
    inspecting!();

    /// Splits into a sending and a receiving half for two threads.
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

impl<S: Stream> Sender<S> {
    sending!();
    inspecting!();
}

impl<S: Stream> Receiver<S> {
    receiving!();
    inspecting!();
}

/// Connects to a `ws://` URL over TCP and performs the opening handshake.
pub fn connect(url: &str, config: Config) -> Result<WebSocket<TcpStream>, Error> {
    let url = WsUrl::parse(url)?;
    let mut last = io::Error::new(ErrorKind::NotFound, format!("{} resolves to no address", url.address));
    for a in resolve(&url.address, config.connect_timeout)? {
        match TcpStream::connect_timeout(&a, config.connect_timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return connect_with(stream, url.request(), config);
            }
            Err(e) => last = e,
        }
    }
    Err(Error::Io(last))
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

/// Performs the client's opening handshake over a stream the caller connected (TLS, a Unix
/// socket, a proxy tunnel ...).
pub fn connect_with<S: Stream>(stream: S, request: ClientRequest, config: Config) -> Result<WebSocket<S>, Error> {
    let conn = Connection::client(config.core.clone(), request, OsKeys::default(), Instant::now())?;
    let shared = Shared::new(stream, conn, &config)?;
    shared.flush()?;
    let response = shared.drive(|c| match c.poll_event() {
        Some(Event::Connected(r)) => Some(Ok(r)),
        Some(Event::Closed(o)) => Some(Err(Error::from_handshake(Some(o)))),
        Some(_) => None,
        None => c.is_terminated().then(|| Err(Error::from_handshake(c.outcome().cloned()))),
    })??;
    Ok(WebSocket { handle: Handle(shared), opened: Opened::Client(response) })
}

/// Accepts a WebSocket on an accepted TCP stream, agreeing to every valid request.
pub fn accept(stream: TcpStream, config: Config) -> Result<WebSocket<TcpStream>, Error> {
    stream.set_nodelay(true)?;
    accept_with(stream, config, |_| Ok(Accept::default()))
}

/// Accepts a WebSocket on a stream; `decide` sees the request and chooses a subprotocol and
/// headers, or rejects with an HTTP status.
pub fn accept_with<S: Stream>(
    stream: S,
    config: Config,
    decide: impl FnOnce(&Request) -> Result<Accept, u16>,
) -> Result<WebSocket<S>, Error> {
    let shared = Shared::new(stream, Connection::server(config.core.clone(), Instant::now()), &config)?;
    let request = shared.drive(|c| match c.poll_event() {
        Some(Event::Request(r)) => Some(Ok(r)),
        Some(Event::Closed(o)) => Some(Err(Error::from_handshake(Some(o)))),
        Some(_) => None,
        None => c.is_terminated().then(|| Err(Error::from_handshake(c.outcome().cloned()))),
    });
    let request = match request {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => {
            let _ = shared.flush();
            return Err(e);
        }
    };
    let decision = decide(&request);
    let now = Instant::now();
    let result = match decision {
        Ok(accept) => shared.conn().accept(now, accept).map_err(Error::Local),
        Err(status) => {
            let r = shared.conn().reject(now, status);
            r.map_err(Error::Local).and(Err(Error::Handshake(HandshakeError::Rejected(status))))
        }
    };
    shared.flush()?;
    result?;
    Ok(WebSocket { handle: Handle(shared), opened: Opened::Server(request) })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A writing thread that takes the end of the input between two writes (the handoff) leaves
    /// the core's answer to it, the Disconnect, for the receiver to write. The receiver writes
    /// it and must then see that the connection is over, not wait for a wakeup nobody sends.
    #[test]
    fn recv_ends_as_soon_as_it_writes_the_disconnect_itself() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let stream = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let _peer = listener.accept().expect("accept");
        let config = Config::default();
        let conn = Connection::server_established(config.core.clone(), Instant::now());
        let shared = Shared::new(stream, conn, &config).expect("socket");
        {
            let mut r = lock(&shared.reader);
            shared.absorb(&mut r, Ok(0));
        }
        {
            let mut c = shared.conn();
            assert!(matches!(c.poll_event(), Some(Event::Closed(Outcome::Abnormal))));
            assert!(c.poll_event().is_none());
            assert!(c.has_transmit() && !c.is_terminated(), "the Disconnect is left queued");
        }
        let start = Instant::now();
        assert!(Handle(shared).recv().expect("recv").is_none());
        assert!(start.elapsed() < MAX_BLOCK / 2, "recv waited {:?} for nothing", start.elapsed());
    }
}
