//! The driver: every decision a transport makes that is not "how do I wait", written once.
//!
//! A transport keeps one [`Driver`] behind its own lock, beside a *read side* (the stream it
//! reads) and a *write side* (the stream it writes and its [`Outbox`]), each behind a lock of
//! its own so that a thread blocked writing to a slow peer never stops another from reading.
//! Whoever waits — in `recv`, in a send that must flush, in `close_and_wait` — drives the
//! connection in rounds; the driver says what each step is, the transport carries it out
//! with its own sockets, timers and wakeups. Like the [`Connection`] inside it, the driver is
//! a plain value: no I/O, no clock (time is passed in), tested with virtual time.
//!
//! # A round, in the order the transport asks
//!
//! 1. [`Driver::poll_goal`] with what the caller waits for (a [`goal`]): [`Next::Ready`] ends
//!    the wait (flushing first if the batch of events is handed out), [`Next::Flush`] writes
//!    queued output before waiting (the peer may be waiting for it), [`Next::Wait`] waits.
//! 2. Waiting, a caller that gets the read side asks [`Driver::read_plan`]: read (bounded by
//!    the deadline), or — while another thread writes — only wait until the stream is
//!    readable and then ask [`Driver::on_readable`], which either lets it read or hands the
//!    input to the writer ([`Readable::HandOff`]: release the read side, wait up to
//!    [`HANDOFF_WAIT`] for a change). Reads go into a [`ReadBuffer`] (whose start moves
//!    within a page after a large read: see its docs for why), and every read result goes to
//!    [`Driver::on_read`]. A caller
//!    without the read side waits for a change or the deadline, then calls
//!    [`Driver::on_timer`].
//! 3. Writing: [`Outbox::next`] says what to do next (write the queued bytes, shut down a
//!    direction, nothing), [`Outbox::on_write`] what a write's result means, and
//!    [`Driver::write_failed`] what a failed write does to the connection. A writer that
//!    blocks counts itself with [`Driver::start_writing`] / [`Driver::stop_writing`] and
//!    reports each completed write with [`Driver::wrote`]; each of these says whether a
//!    reader left input for it, which it then reads without blocking
//!    ([`Driver::take_handoff`]). A send of small output first tries [`Driver::take_small`]:
//!    the holder of a free write side takes the queued frames, writes them without waiting
//!    ([`write_now`]), and reports with [`Driver::wrote_small`], under whose lock it gives the
//!    write side back (output another caller queued meanwhile is then never stranded).
//!
//! # Why a waiting reader writes what a sender leaves
//!
//! Every write is a system call, and on a connection carrying small messages the calls are the
//! cost (88% of a pipelined echo's time was in the kernel). A `Sender` on an async transport
//! whose `Receiver` waits in `drive` therefore does not write: [`Driver::command`] answers
//! [`Sent::Delegated`], the receiver's round ([`Driver::start_waiting`]) is woken if it only
//! waits for input, and it writes everything queued in one vectored write, taking what more
//! sends queue meanwhile. The sender was told its message would be written, so no goal is
//! reached until it is ([`Driver::must_drain`]), each write bounded by the write timeout, and
//! past [`DELEGATE_MAX`] queued the sender writes itself. The blocking transport's receiver
//! does the same on a split socket over a stream that can be polled: it waits in `poll(2)` on
//! the socket and an eventfd the sender signals, instead of inside `read(2)` (Linux; elsewhere
//! its senders write themselves).
//!
//! # Why a reader hands its input to a writer
//!
//! Linux locks a TCP socket for each `send` and `recv`. A reader blocked in `recv` beside a
//! thread that streams large writes is woken again and again to find the socket taken
//! (hundreds of times per 128 MiB), and each of those wakeups is paid by the writer. So while
//! a writer is active the reader only waits for readability, and leaves the input to the
//! writer, who reads it between two writes. A writer stuck in one write (a peer that reads
//! nothing until it has written everything) must not strand the input: a reader that finds no
//! write completed since its last handoff reads itself.

mod api;
mod read;
mod write;

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use read::ReadBuffer;
pub use write::{Outbox, WriteStep, Written, write_now};

use crate::handshake::Rejection;
use crate::tls::{self, Tls};
use crate::{
    Accept, CloseFrame, Connection, DataKind, Event, HandshakeError, LocalError, Message, Outcome, PeerError, Request,
    Response, State,
};

/// Longest input left to a writer waits for it: past this the writer is taken to be stuck in
/// one write and the reader reads after all.
pub const HANDOFF_WAIT: Duration = Duration::from_millis(1);

/// Bytes a flush must start with for a reader to leave its input to the writer. A small write
/// holds the socket's lock for a few microseconds: a reader blocked in `recv` beside it loses
/// nothing, while the handoff's readiness wait and wakeups cost two system calls per message
/// of a small-message exchange (`echo-run wsduplex-std`: 24 000 `ppoll` and 43 000 `futex`
/// per 100 000 echoes, none of them in tungstenite's run).
pub const HANDOFF_MIN_WRITE: usize = 16 << 10;

/// Most bytes a `Sender` leaves queued for a waiting receiver to write ([`Sent::Delegated`]);
/// past this the sender writes itself, so a peer that reads slowly slows the sender down.
pub const DELEGATE_MAX: usize = 64 << 10;

/// Settings of a socket: the protocol's, plus the transport's own. Written with its builder
/// methods (`SocketConfig::default().write_timeout(..).core(Config::default()...)`), one per
/// field; `#[non_exhaustive]`, so a field added later breaks nobody.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SocketConfig {
    /// The sans-IO machine's limits and timers.
    pub core: crate::Config,
    /// Longest a single write may wait on a peer that does not read (default 30 s). Past it
    /// the connection is aborted and the call returns [`SocketError::Io`] (`TimedOut`).
    pub write_timeout: Duration,
    /// TCP connect timeout for `connect`, name resolution included (default 10 s).
    pub connect_timeout: Duration,
    /// Most bytes taken from the socket per read (default 128 KiB, what one 128 KiB frame needs
    /// to arrive in one read). The blocking transport keeps a [`ReadBuffer`] of this size (and
    /// a page) per connection; the async ones share one per executor thread.
    pub read_buffer_size: usize,
    /// Client: the TLS settings of `wss://` URLs; `None` (the default) for
    /// [`tls::default_client_config`]: Mozilla's roots.
    #[cfg(feature = "rustls")]
    pub tls_client: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// Server: with a configuration, `accept` and `accept_with` speak TLS (`wss://` only) on
    /// every stream they are given ([`tls::server_config`] builds
    /// one from PEM files). Streams an HTTP server hands over (`accept_parsed`,
    /// `from_upgraded`) are past its own TLS and ignore this.
    #[cfg(feature = "rustls")]
    pub tls_server: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            core: crate::Config::default(),
            write_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_buffer_size: 128 << 10,
            #[cfg(feature = "rustls")]
            tls_client: None,
            #[cfg(feature = "rustls")]
            tls_server: None,
        }
    }
}

/// What went wrong on a socket, as every transport reports it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// The socket failed (connection refused, reset, write timeout, ...).
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The opening handshake failed; `Rejected` (with the server's whole answer) when the
    /// server said no.
    #[error("handshake: {0}")]
    Handshake(HandshakeError),
    /// The application misused the API (nothing was sent).
    #[error(transparent)]
    Local(#[from] LocalError),
    /// The connection ended other than by a clean close handshake.
    #[error("connection ended: {0}")]
    Closed(Outcome),
}

impl SocketError {
    /// The close code we sent when the peer broke the protocol.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            SocketError::Closed(Outcome::Failed(e)) => Some(e.close_code()),
            _ => None,
        }
    }

    /// Why an opening handshake did not reach `Open`, from how the connection ended.
    fn from_handshake(outcome: Option<Outcome>) -> Self {
        match outcome {
            Some(Outcome::Failed(PeerError::Handshake(e))) => SocketError::Handshake(e),
            Some(Outcome::TimedOut(_)) => SocketError::Handshake(HandshakeError::TimedOut),
            Some(o) => SocketError::Closed(o),
            None => SocketError::Closed(Outcome::Abnormal),
        }
    }
}

/// So `?` works in a function that returns `io::Result`. An I/O error stays itself; the
/// others keep their message under the kind that says who is at fault: the peer broke the
/// protocol or refused the handshake (`InvalidData`), we misused the API (`InvalidInput`), a
/// wait ran out (`TimedOut`), the connection ended otherwise (`ConnectionAborted`).
impl From<SocketError> for io::Error {
    fn from(e: SocketError) -> Self {
        let kind = match &e {
            SocketError::Io(_) => None,
            SocketError::Handshake(HandshakeError::TimedOut) | SocketError::Closed(Outcome::TimedOut(_)) => {
                Some(io::ErrorKind::TimedOut)
            }
            SocketError::Handshake(_) | SocketError::Closed(Outcome::Failed(_)) => Some(io::ErrorKind::InvalidData),
            SocketError::Local(_) => Some(io::ErrorKind::InvalidInput),
            SocketError::Closed(_) => Some(io::ErrorKind::ConnectionAborted),
        };
        match (kind, e) {
            (Some(kind), e) => io::Error::new(kind, e),
            (None, SocketError::Io(io)) => io,
            (None, e) => io::Error::other(e),
        }
    }
}

/// What the opening handshake settled: the server's response (client) or the client's
/// request (server).
#[derive(Debug, Clone)]
pub enum Opened {
    /// We are the client; the server answered this.
    Client(Response),
    /// We are the server; the client asked this.
    Server(Request),
}

impl Opened {
    /// Client: the server's response.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Opened::Client(r) => Some(r),
            Opened::Server(_) => None,
        }
    }

    /// Server: the client's request.
    pub fn request(&self) -> Option<&Request> {
        match self {
            Opened::Server(r) => Some(r),
            Opened::Client(_) => None,
        }
    }
}

crate::config::setters!(SocketConfig {
    core: crate::Config,
    write_timeout: Duration,
    connect_timeout: Duration,
    read_buffer_size: usize,
});

#[cfg(feature = "rustls")]
crate::config::setters!(SocketConfig {} optional {
    tls_client: std::sync::Arc<rustls::ClientConfig>,
    tls_server: std::sync::Arc<rustls::ServerConfig>,
});

/// What a waiting caller does next ([`Driver::poll_goal`]).
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Next<T> {
    /// The goal is reached. If `flush`, every event received is handed out and output is
    /// queued: write what the application fed in reply before returning, so a batch of replies
    /// leaves in one write.
    Ready {
        /// What the goal produced.
        value: T,
        /// Write queued output (without blocking) before returning.
        flush: bool,
    },
    /// Output is queued: write it (without blocking) before waiting, then look again.
    Flush,
    /// Wait for input, a change made by another caller, or the deadline.
    Wait {
        /// When the connection's next timer fires.
        deadline: Option<Instant>,
    },
}

/// How a caller holding the read side waits for input ([`Driver::read_plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum ReadPlan {
    /// Read, blocking until input, the deadline, or (async) a change.
    Read,
    /// A writer is active: wait until the stream is readable without reading, then ask
    /// [`Driver::on_readable`].
    WaitReadable,
}

/// What a caller does with input that is waiting ([`Driver::on_readable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Readable {
    /// Read it now, without blocking.
    Read,
    /// Left to the active writer: release the read side and wait (at most [`HANDOFF_WAIT`])
    /// for the writer's change notification.
    HandOff,
}

/// What a send command asks of the caller ([`Driver::command`]).
#[derive(Debug)]
#[must_use]
pub enum Sent {
    /// Queued; nothing to write now (`feed`).
    Queued,
    /// Queued: write everything out before returning.
    Flush,
    /// Not queued: the outgoing buffer is full. Write everything out, then issue the
    /// command, given back here, again.
    FlushAndRetry(Command),
    /// Queued, and left to the receiver waiting in `drive` ([`Driver::start_waiting`]), which
    /// writes everything queued, many messages in one write, before it returns anything: a
    /// `Sender`'s send returns at once. If `wake`, wake that receiver (`wake_flusher`: it is
    /// waiting for input, not writing).
    Delegated {
        /// The receiver must be woken to write.
        wake: bool,
    },
    /// Refused; nothing was queued.
    Refused(SocketError),
}

/// An application command: what a `Sender` can ask of the connection.
#[derive(Debug, Clone)]
pub enum Command {
    /// A whole message.
    Send(Message),
    /// Part of a message.
    Fragment {
        /// Text or binary (the kind of the message it continues).
        kind: DataKind,
        /// The fragment's payload.
        data: Bytes,
        /// True on the last fragment.
        end_of_message: bool,
    },
    /// A ping.
    Ping(Bytes),
    /// Close-output: our Close frame.
    Close(CloseFrame),
}

impl Command {
    /// True if waiters must look again after this command: a close arms a timer that a caller
    /// blocked in a read must wait for.
    pub fn changes_deadline(&self) -> bool {
        matches!(self, Command::Close(_))
    }
}

/// What callers wait for, as the `goal` of [`Driver::poll_goal`].
pub mod goal {
    use super::SocketError;
    use crate::{Connection, Event, Outcome, Request, Response};

    /// The next event; `None` once the connection is released.
    pub fn event(c: &mut Connection) -> Option<Option<Event>> {
        match c.poll_event() {
            Some(e) => Some(Some(e)),
            None => c.is_terminated().then_some(None),
        }
    }

    /// The connection released, and how it ended. Bounded: the close timeout, the reply
    /// deadline and the EOF wait all end in `Closed` and then a disconnect. Events that
    /// arrive meanwhile stay queued.
    pub fn released(c: &mut Connection) -> Option<Result<Outcome, SocketError>> {
        c.is_terminated().then(|| c.outcome().cloned().ok_or(SocketError::Closed(Outcome::Aborted)))
    }

    /// Client: the server's response, or why the handshake failed.
    pub fn connected(c: &mut Connection) -> Option<Result<Response, SocketError>> {
        match c.poll_event() {
            Some(Event::Connected(r)) => Some(Ok(*r)),
            Some(Event::Closed(o)) => Some(Err(SocketError::from_handshake(Some(o)))),
            Some(_) => None,
            None => c.is_terminated().then(|| Err(SocketError::from_handshake(c.outcome().cloned()))),
        }
    }

    /// Server: the client's upgrade request, or why the handshake failed.
    pub fn request(c: &mut Connection) -> Option<Result<Request, SocketError>> {
        match c.poll_event() {
            Some(Event::Request(r)) => Some(Ok(*r)),
            Some(Event::Closed(o)) => Some(Err(SocketError::from_handshake(Some(o)))),
            Some(_) => None,
            None => c.is_terminated().then(|| Err(SocketError::from_handshake(c.outcome().cloned()))),
        }
    }
}

/// The async transports' `Stream` of data messages, over what `recv` returned: as
/// [`message_of`], except that the stream ends (`Some(Ok(None))`) at the peer's Close. The
/// peer sends nothing after it (RFC 6455 §5.5.1), and the code that drains a stream and then
/// closes its sink — `StreamExt::forward`, the echo of tokio-tungstenite's examples — replies
/// at once instead of at the `CloseReply::Deadline`. The `Sender` can still send final
/// replies before closing.
pub fn stream_item_of(event: Option<Event>) -> Option<Result<Option<Message>, SocketError>> {
    match event {
        Some(Event::CloseReceived { .. }) => Some(Ok(None)),
        other => message_of(other),
    }
}

/// `recv_message`'s filter over what `recv` returned: `Some` ends the call with that result
/// (a message; `None` after a clean close; [`SocketError::Closed`] after any other end),
/// `None` skips the event (pings, pongs, boundaries, the peer's Close, a clean `Closed`).
pub fn message_of(event: Option<Event>) -> Option<Result<Option<Message>, SocketError>> {
    match event {
        Some(Event::Message(m)) => Some(Ok(Some(m))),
        Some(Event::Closed(o)) if !o.is_clean() => Some(Err(SocketError::Closed(o))),
        Some(_) => None,
        None => Some(Ok(None)),
    }
}

/// The connection plus what its transport's readers and writers must agree on. One per
/// connection, behind the transport's lock; see the module docs for the order of the calls.
#[derive(Debug)]
pub struct Driver {
    conn: Connection,
    /// The TLS session between the socket's bytes and the connection's (`crate::tls`).
    /// Boxed: a rustls session is 1.2 KiB, which every plain connection would carry too
    /// (memory per idle connection).
    tls: Option<Box<Tls>>,
    /// The read direction is finished (EOF or error): nobody reads again.
    read_done: bool,
    /// Callers inside a blocking flush (application sends and closes).
    writers: usize,
    /// One of them started with at least [`HANDOFF_MIN_WRITE`] bytes: readers hand off.
    streaming: bool,
    /// Who holds the read side while waiting, and so writes what senders leave to it.
    flusher: Flusher,
    /// Output was left to the flusher ([`Sent::Delegated`]) and is not all written yet.
    delegated: bool,
    /// The write side's outbox held bytes (or a shutdown) after its last refill: it may still.
    /// It asks for a refill whenever it runs empty, so false means it is empty.
    outbox_busy: bool,
    /// `Sender`s alive (0 or 1): while one is, final replies may still come from it.
    senders: usize,
    /// Writes they completed: how a reader tells a writer that moves from one that is stuck.
    writes: u64,
    /// A reader saw input while a writer was active and left it to the writer.
    handed_off: bool,
    /// `writes` at the last handoff: unchanged at the next one means the writer did not get
    /// to it, and the reader reads after all.
    handed_off_at: Option<u64>,
}

impl Driver {
    /// Drives `conn`.
    pub fn new(conn: Connection) -> Self {
        Driver {
            conn,
            tls: None,
            read_done: false,
            writers: 0,
            streaming: false,
            flusher: Flusher::None,
            delegated: false,
            outbox_busy: false,
            senders: 0,
            writes: 0,
            handed_off: false,
            handed_off_at: None,
        }
    }

    /// Client: drives `conn` over TLS to `tls_host` (a `wss://` URL's host) with
    /// `config.tls_client`, or over the plain stream if `None`.
    pub fn client(conn: Connection, tls_host: Option<&str>, config: &SocketConfig) -> Result<Self, SocketError> {
        #[cfg_attr(not(feature = "rustls"), allow(unused_mut))]
        let mut driver = Driver::new(conn);
        if let Some(host) = tls_host {
            #[cfg(feature = "rustls")]
            {
                driver.tls = Some(Box::new(Tls::client(config.tls_client.as_ref(), host)?));
            }
            #[cfg(not(feature = "rustls"))]
            {
                let _ = (host, config);
                return Err(LocalError::Tls("wss:// needs the transport's `rustls` feature".into()).into());
            }
        }
        Ok(driver)
    }

    /// Server: drives `conn` over TLS if `config.tls_server` is set.
    pub fn server(conn: Connection, config: &SocketConfig) -> Result<Self, SocketError> {
        #[cfg_attr(not(feature = "rustls"), allow(unused_mut))]
        let mut driver = Driver::new(conn);
        #[cfg(feature = "rustls")]
        if let Some(tls) = &config.tls_server {
            driver.tls = Some(Box::new(Tls::server(tls)?));
        }
        #[cfg(not(feature = "rustls"))]
        let _ = config;
        Ok(driver)
    }

    /// True if the connection runs over TLS.
    pub fn is_secure(&self) -> bool {
        self.tls.is_some()
    }

    /// True if bytes are waiting to be written: the connection's, or TLS records (the TLS
    /// handshake's, an alert).
    pub fn has_output(&self) -> bool {
        self.conn.has_transmit() || self.tls.as_deref().is_some_and(Tls::wants_write)
    }

    /// True if anything may be waiting to be written: [`Driver::has_output`], or bytes (or a
    /// shutdown) the write side's outbox took and has not written yet. False means a writer
    /// would find nothing to do.
    pub fn has_unwritten(&self) -> bool {
        self.has_output() || self.outbox_busy
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection, to change settings ([`Connection::set_delivery`] ...).
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Looks at the caller's `goal` once. `flushed` says whether this wait already wrote
    /// its output (then it waits even if output is queued: what did not fit is the write
    /// side's to finish).
    ///
    /// Output a `Sender` left to the waiting receiver ([`Sent::Delegated`]) is written before
    /// any goal is reached, unless a blocking flush is under way (it writes everything): the
    /// sender was promised that the receiver writes it, and a receiver that returned first
    /// might not come back.
    pub fn poll_goal<T>(&mut self, goal: impl FnOnce(&mut Connection) -> Option<T>, flushed: bool) -> Next<T> {
        if !self.must_drain()
            && let Some(value) = goal(&mut self.conn)
        {
            // Nothing queued, nothing to write: most receives of a request/response exchange.
            let flush = !self.conn.has_event() && self.has_unwritten();
            return Next::Ready { value, flush };
        }
        if !flushed && self.has_output() {
            return Next::Flush;
        }
        Next::Wait { deadline: self.conn.poll_timeout() }
    }

    /// True while output left to the receiver is not all written and no blocking flush is
    /// under way: whoever waits writes it first, each write bounded by the write timeout.
    pub fn must_drain(&self) -> bool {
        self.delegated && self.writers == 0
    }

    /// A caller holding the read side starts waiting (a round of the async `drive`; the
    /// blocking one's `poll` beside its eventfd), holding the write side too or about to write
    /// if `writing`: until [`Driver::stop_waiting`], a `Sender` may leave its messages to it.
    pub fn start_waiting(&mut self, writing: bool) {
        self.flusher = if writing { Flusher::Writing } else { Flusher::Waiting };
    }

    /// The round ended (or its future was dropped).
    pub fn stop_waiting(&mut self) {
        self.flusher = Flusher::None;
    }

    /// False once the input is finished: a caller that holds the read side waits as one
    /// without it.
    pub fn may_read(&self) -> bool {
        !self.read_done
    }

    /// How the holder of the read side waits; `can_wait_readable` says whether its stream
    /// can wait for input without reading it (TCP and Unix sockets can; TLS cannot). Only a
    /// writer streaming large writes ([`HANDOFF_MIN_WRITE`]) makes it wait for readability.
    pub fn read_plan(&self, can_wait_readable: bool) -> ReadPlan {
        if self.writers > 0 && self.streaming && can_wait_readable { ReadPlan::WaitReadable } else { ReadPlan::Read }
    }

    /// The stream became readable while waiting per [`ReadPlan::WaitReadable`].
    pub fn on_readable(&mut self) -> Readable {
        if self.writers > 0 && self.handed_off_at != Some(self.writes) {
            self.handed_off_at = Some(self.writes);
            self.handed_off = true;
            Readable::HandOff
        } else {
            // The writer left, or completed no write since the last handoff: it is stuck in
            // one (its peer may be waiting for us to read).
            self.handed_off = false;
            Readable::Read
        }
    }

    /// Bytes that an HTTP server read past the request's head before handing the stream over
    /// (the client's first frames). Unlike [`Driver::on_read`], no bytes is not the end of
    /// the input.
    pub fn on_leftover(&mut self, now: Instant, bytes: &[u8]) {
        self.conn.handle_input(now, bytes);
    }

    /// A read's result: the bytes read (empty: end of stream) or why nothing was. The end
    /// of stream and every failure other than "nothing yet" (would block, timed out,
    /// interrupted) finish the input. Due timers fire either way.
    pub fn on_read(&mut self, now: Instant, result: io::Result<&[u8]>) {
        match result {
            Ok([]) => self.finish_input(now),
            Ok(bytes) => match &mut self.tls {
                None => self.conn.handle_input(now, bytes),
                Some(tls) => {
                    let conn = &mut self.conn;
                    conn.reserve_input(bytes.len());
                    let input = tls.on_input(bytes, |plain| conn.take_input(now, plain));
                    conn.settle_input();
                    match input {
                        tls::Input::More => {}
                        tls::Input::Closed => self.finish_input(now),
                        tls::Input::Failed(e) => {
                            self.read_done = true;
                            self.conn.handle_tls_error(now, e.to_string());
                        }
                    }
                }
            },
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.finish_input(now),
        }
        self.on_timer(now);
    }

    fn finish_input(&mut self, now: Instant) {
        self.read_done = true;
        self.conn.handle_eof(now);
    }

    /// Fires the connection's timers that are due at `now`.
    pub fn on_timer(&mut self, now: Instant) {
        if self.conn.poll_timeout().is_some_and(|d| d <= now) {
            self.conn.handle_timeout(now);
        }
    }

    /// True while a `Sender` exists: a receiver may write what it leaves.
    pub fn has_sender(&self) -> bool {
        self.senders > 0
    }

    /// The socket was split: a `Sender` exists.
    pub fn sender_created(&mut self) {
        self.senders += 1;
    }

    /// A `Sender` was dropped. True if that answered the peer's Close (see
    /// [`Driver::receiving_alone`]): nothing can send any more, so the reply is due. The caller
    /// wakes the waiters, one of which writes it.
    pub fn sender_dropped(&mut self, now: impl FnOnce() -> Instant) -> bool {
        self.senders = self.senders.saturating_sub(1);
        self.senders == 0 && self.conn.state() == State::CloseReceived && self.conn.reply_to_close(now())
    }

    /// The receiving side asks for the next event. **The prompt close rule:** in
    /// `CloseReceived`, once the peer's Close has been handed out (no event is waiting), with
    /// no `Sender` alive, whoever receives is the only one who could send, and by asking for
    /// the next event it says it has no final reply to send: the peer's Close is answered now
    /// (its code echoed) instead of at the `CloseReply::Deadline`. So an echo loop that never
    /// looks at `CloseReceived` closes at once, while a server that sends a final reply from
    /// `CloseReceived` (the seed's tally) still does, before it receives again. A split
    /// socket's `Sender` may still be sending final replies: its Close, its drop or the
    /// deadline answers. True if the reply was queued (the caller wakes the waiters).
    pub fn receiving_alone(&mut self, now: impl FnOnce() -> Instant) -> bool {
        self.senders == 0
            && self.conn.state() == State::CloseReceived
            && !self.conn.has_event()
            && self.conn.reply_to_close(now())
    }

    /// A caller starts a blocking flush (of what the connection has queued now).
    pub fn start_writing(&mut self) {
        self.writers += 1;
        self.streaming |= self.conn.send_buffered() >= HANDOFF_MIN_WRITE;
    }

    /// A blocking write completed. True if a reader left input to the writers: take it
    /// ([`Driver::take_handoff`]) before the next write.
    pub fn wrote(&mut self) -> bool {
        self.writes += 1;
        self.handed_off
    }

    /// A caller's blocking flush ended (also when it failed, or its future was dropped).
    /// True if input was left to it: take it, the reader is waiting for it.
    pub fn stop_writing(&mut self) -> bool {
        self.writers -= 1;
        self.streaming &= self.writers > 0;
        self.handed_off
    }

    /// A writer holding the read side claims the input left to it: true if it is to read
    /// now, without blocking, and give the result to [`Driver::on_read`].
    pub fn take_handoff(&mut self) -> bool {
        std::mem::take(&mut self.handed_off) && !self.read_done
    }

    /// True if a reader left input to the writers.
    pub fn is_handed_off(&self) -> bool {
        self.handed_off
    }

    /// Moves the connection's output into `outbox`, up to a vectored write's worth, stopping
    /// at a shutdown (which waits for the bytes before it).
    pub fn refill(&mut self, outbox: &mut Outbox) {
        // Asked after every write, when most often nothing more was queued.
        if self.has_output() {
            outbox.refill(&mut self.conn, self.tls.as_deref_mut());
        }
        self.outbox_busy = !outbox.is_empty();
        if outbox.is_empty() {
            // The writer asks only once its outbox is written, and the connection had nothing.
            self.delegated = false;
        }
    }

    /// Small output to write at once ([`write_now`]), taken from the connection when the holder
    /// of the write side finds its `outbox` empty, no TLS, and less than [`HANDOFF_MIN_WRITE`]
    /// queued, all of it frames (no large payload, no shutdown): such a write holds the
    /// socket for microseconds, so its writer need not count itself
    /// ([`Driver::start_writing`]) for a reader to leave input to, and most sends of small
    /// messages end there. The write is made without this lock (a receiver that finds it
    /// taken by a sender in a system call would sleep, and then miss its turn to write what
    /// sends leave it: `Sent::Delegated`); then [`Driver::wrote_small`]. `None`: flush as a
    /// writer; empty: nothing is queued.
    pub fn take_small(&mut self, outbox: &Outbox) -> Option<Bytes> {
        if !outbox.is_empty() || self.conn.send_buffered() >= HANDOFF_MIN_WRITE || self.tls.is_some() {
            return None;
        }
        self.conn.take_staged()
    }

    /// What [`Driver::take_small`] took was written up to `rest` (empty: all of it), and the
    /// write side is about to be given back (under this lock, so that output queued meanwhile
    /// by a caller that found the write side taken is never stranded: it is seen here). True
    /// if nothing is left to write; otherwise `rest` went to the `outbox`, and whoever flushes
    /// writes it first.
    pub fn wrote_small(&mut self, outbox: &mut Outbox, rest: Bytes) -> bool {
        if !rest.is_empty() {
            outbox.push(rest);
        }
        self.outbox_busy = !outbox.is_empty();
        let done = outbox.is_empty() && !self.has_output();
        if done {
            // What `refill` records when the outbox it filled is written and nothing more came.
            self.delegated = false;
        }
        done
    }

    /// A write or shutdown failed: the stream is unusable, and what is queued is dropped. A
    /// write that timed out (`TimedOut`; `WouldBlock` from a blocking write whose timeout
    /// expired, as Linux reports it) means the peer stopped reading: we give up on it
    /// ([`Outcome::Aborted`]). Any other failure (a reset, a broken pipe) is the end of the
    /// input ([`Outcome::Abnormal`] unless the close handshake was done). The caller then
    /// shuts the stream down both ways and wakes the waiters.
    pub fn write_failed(&mut self, now: Instant, outbox: &mut Outbox, error: io::Error) -> SocketError {
        let error = match error.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                self.conn.abort();
                io::Error::new(io::ErrorKind::TimedOut, "write timed out: the peer does not read")
            }
            _ => {
                self.conn.handle_eof(now);
                error
            }
        };
        while self.conn.poll_transmit().is_some() {}
        outbox.clear();
        self.delegated = false;
        self.outbox_busy = false;
        SocketError::Io(error)
    }

    /// Issues an application command. `flush` false only for `feed`: the message waits for
    /// the next write (a send, a flush, a close, or `recv` handing out its last event).
    /// `now` is asked only by a command that starts a timer (a close): a clock read per
    /// message was 9% of a small-message echo's time on a machine whose clock is slow to read.
    ///
    /// The command is taken by value and given back only when the buffer is full
    /// ([`Sent::FlushAndRetry`]): a copy kept for that retry cost every send an allocation
    /// (the first clone of a received payload's `Bytes` makes it shared).
    pub fn command(&mut self, now: impl FnOnce() -> Instant, command: Command, flush: bool) -> Sent {
        let c = &mut self.conn;
        let data = matches!(command, Command::Send(_) | Command::Fragment { .. });
        if data && let Err(LocalError::SendBufferFull { .. }) = c.check_can_send() {
            return Sent::FlushAndRetry(command);
        }
        let close = matches!(command, Command::Close(_));
        let result = match command {
            Command::Send(m) => c.send(m),
            Command::Fragment { kind, data, end_of_message } => c.send_fragment(kind, data, end_of_message),
            Command::Ping(payload) => c.ping(payload),
            Command::Close(frame) => c.close(now(), frame),
        };
        match result {
            Ok(()) if flush && data && self.may_delegate() => {
                self.delegated = true;
                // Woken once per wait: from the wakeup on, the receiver writes everything
                // queued before it returns anything (`must_drain`), so waking it again would
                // only cost each send a system call until it runs (`echo-run wsduplex-std`:
                // 21 900 eventfd writes for 340 wakeups per 300 000 sends).
                let wake = self.flusher == Flusher::Waiting;
                if wake {
                    self.flusher = Flusher::Writing;
                }
                Sent::Delegated { wake }
            }
            Ok(()) if flush || close => Sent::Flush,
            Ok(()) => Sent::Queued,
            Err(e) => Sent::Refused(self.refused(e)),
        }
    }

    /// A `Sender`'s data message may be left to the receiver waiting in `drive`: a split
    /// socket (the caller is the `Sender`), a flusher waiting, and not too much queued. One
    /// system call then writes what many sends queued.
    fn may_delegate(&self) -> bool {
        self.senders > 0 && self.flusher != Flusher::None && self.conn.send_buffered() <= DELEGATE_MAX
    }

    /// A command refused because the connection ended reports how it ended.
    fn refused(&self, e: LocalError) -> SocketError {
        match (&e, self.conn.outcome()) {
            (LocalError::NotOpen(State::Closed), Some(o)) if !o.is_clean() => SocketError::Closed(o.clone()),
            _ => SocketError::Local(e),
        }
    }

    /// Server: answers the request with the application's decision (accept with a
    /// subprotocol and headers, or reject with a status, headers and a body). The answer is queued: flush it
    /// whatever this returns.
    pub fn answer(&mut self, now: Instant, decision: Result<Accept, Rejection>) -> Result<(), SocketError> {
        match decision {
            Ok(accept) => self.conn.accept(now, accept).map_err(SocketError::Local),
            Err(rejection) => {
                self.conn.reject(now, rejection.clone()).map_err(SocketError::Local)?;
                Err(SocketError::Handshake(HandshakeError::Rejected(Box::new(rejection))))
            }
        }
    }

    /// Gives up at once: no Close frame, disconnect. The caller drops what its outbox holds
    /// (a half-written frame included) if it can take the write side now, flushes, and wakes
    /// the waiters.
    pub fn abort(&mut self) {
        self.conn.abort();
        self.delegated = false;
    }
}

/// Who writes what a `Sender` leaves ([`Driver::start_waiting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flusher {
    /// Nobody: a sender writes itself.
    None,
    /// A caller waits for input holding the read side: it must be woken to write.
    Waiting,
    /// A caller waits holding the read and the write side, writing, or was woken to write:
    /// it writes what comes before it lets go.
    Writing,
}

#[cfg(test)]
mod tests;
