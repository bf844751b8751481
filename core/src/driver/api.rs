//! The public face of every transport, written once: `WebSocket`, `Sender`, `Receiver` and
//! their methods, blocking or async. A transport invokes [`socket_api!`](crate::socket_api)
//! beside its `Shared<S>`, which provides what differs — how it waits:
//!
//! - `fn new(stream: S, driver: Driver, config: &SocketConfig) -> io::Result<Arc<Self>>`;
//! - `fn driver(&self) -> impl DerefMut<Target = Driver>`: the driver's lock;
//! - `fn notify(&self)`: wakes the callers waiting for a change;
//! - `fn wake_flusher(&self)`: wakes the caller that waits to write what a `Sender` left to
//!   it ([`Sent::Delegated`](crate::driver::Sent::Delegated));
//! - `[async] fn flush(&self) -> Result<(), SocketError>`: writes everything queued, waiting
//!   for room (each write bounded by the write timeout);
//! - `[async] fn drive<T>(&self, goal) -> Result<T, SocketError>`: drives rounds until `goal`
//!   returns a value (see the [driver's docs](crate::driver));
//! - `[async] fn abort(&self)`;
//! - `fn driver_mut(&mut self) -> &mut Driver`, `[async] fn flush_alone(&mut self)` and
//!   `[async] fn drive_alone<T>(&mut self, goal)`: the same for the only handle of a
//!   connection, which needs no lock (a `WebSocket` whose methods hold `&mut self`, not split,
//!   with no `Stream` or `Sink` operation in flight: `Arc::get_mut` says so). A transport may
//!   simply call the shared ones;
//!
//! and beside it `[async] fn connect_tcp(address: &str, timeout: Duration) -> io::Result<T>`
//! for its TCP stream type `T`, the default stream type given to the macro, and `Polling`
//! (`Default`): what each handle keeps in flight for the `Stream` and `Sink` impls of the
//! async transports (`wsduplex_async::Polling`); `()` for the blocking one.
//!
//! So the three transports have the same names, the same shape and the same documentation,
//! differing only in `async`: a method changes once for all of them.

/// Generates a transport's `Handle`, `WebSocket`, `Sender`, `Receiver`, `connect`, `accept`,
/// `connect_with`, `accept_with`, `accept_parsed` and `from_upgraded` (see the module
/// docs of `wsduplex_core::driver::api`). `socket_api!(blocking, Stream = TcpStream, clock =
/// Instant::now)` or `socket_api!(async, AsyncStream = TcpStream, clock = Instant::now)`: the
/// bound on the stream type, its default, and the clock the transport reads (the core reads
/// none, not even in the code this macro writes for the transport).
#[doc(hidden)]
#[macro_export]
macro_rules! socket_api {
    (blocking, $bound:path = $default:ty, clock = $clock:path) => {
        $crate::socket_api!(@items [] [] $bound, $default, $clock);
    };
    (async, $bound:path = $default:ty, clock = $clock:path) => {
        $crate::socket_api!(@items [async] [.await] $bound, $default, $clock);
    };
    (@items [$($a:tt)?] [$(.$aw:tt)?] $bound:path, $default:ty, $clock:path) => {
        /// Operations shared by the socket and its halves.
        struct Handle<S>(std::sync::Arc<Shared<S>>);

        impl<S> Clone for Handle<S> {
            fn clone(&self) -> Self {
                Handle(self.0.clone())
            }
        }

        impl<S: $bound> Handle<S> {
            /// Issues `command`, writing out while the outgoing buffer is full (this is where
            /// a send waits), then everything if `flush`.
            $($a)? fn command(&self, command: $crate::driver::Command, flush: bool) -> Result<(), $crate::driver::SocketError> {
                let shared = &*self.0;
                $crate::socket_api!(@command [$(.$aw)?] $clock, shared, driver, flush, command, flush)
            }

            /// `command` from the `WebSocket`: on the connection alone while no other handle
            /// exists (not split, no `Stream` or `Sink` operation in flight), without its locks.
            $($a)? fn command_mut(&mut self, command: $crate::driver::Command, flush: bool) -> Result<(), $crate::driver::SocketError> {
                match std::sync::Arc::get_mut(&mut self.0) {
                    Some(alone) => $crate::socket_api!(@command [$(.$aw)?] $clock, alone, driver_mut, flush_alone, command, flush),
                    None => $crate::socket_api!(@boxed [$(.$aw)?] self.command(command, flush)),
                }
            }

            /// Writes out everything queued.
            $($a)? fn flush(&self) -> Result<(), $crate::driver::SocketError> {
                self.0.flush()$(.$aw)?
            }

            /// `flush` from the `WebSocket` (see `command_mut`).
            $($a)? fn flush_mut(&mut self) -> Result<(), $crate::driver::SocketError> {
                match std::sync::Arc::get_mut(&mut self.0) {
                    Some(alone) => alone.flush_alone()$(.$aw)?,
                    None => $crate::socket_api!(@boxed [$(.$aw)?] self.0.flush()),
                }
            }

            /// Drives the connection until `goal` returns a value.
            $($a)? fn drive<T>(
                &self,
                goal: impl FnMut(&mut $crate::Connection) -> Option<T>,
            ) -> Result<T, $crate::driver::SocketError> {
                self.0.drive(goal)$(.$aw)?
            }

            /// `drive` from the `WebSocket` (see `command_mut`).
            $($a)? fn drive_mut<T>(
                &mut self,
                goal: impl FnMut(&mut $crate::Connection) -> Option<T>,
            ) -> Result<T, $crate::driver::SocketError> {
                match std::sync::Arc::get_mut(&mut self.0) {
                    Some(alone) => alone.drive_alone(goal)$(.$aw)?,
                    None => $crate::socket_api!(@boxed [$(.$aw)?] self.0.drive(goal)),
                }
            }

            /// The next event, after the prompt close rule (`Driver::receiving_alone`).
            $($a)? fn receive(&self) -> Result<Option<$crate::Event>, $crate::driver::SocketError> {
                if self.0.driver().receiving_alone($clock) {
                    self.0.notify();
                }
                self.0.drive($crate::driver::goal::event)$(.$aw)?
            }

            /// `receive` from the `WebSocket` (see `command_mut`).
            $($a)? fn receive_mut(&mut self) -> Result<Option<$crate::Event>, $crate::driver::SocketError> {
                match std::sync::Arc::get_mut(&mut self.0) {
                    Some(alone) => {
                        if alone.driver_mut().receiving_alone($clock) {
                            alone.notify();
                        }
                        alone.drive_alone($crate::driver::goal::event)$(.$aw)?
                    }
                    None => $crate::socket_api!(@boxed [$(.$aw)?] self.receive()),
                }
            }
        }

        /// A WebSocket connection with one owner at a time: its methods that send or receive
        /// take `&mut self`, as a socket's one task (or thread) calls them in turn, and run
        /// on the connection without taking its locks. [`WebSocket::split`] it to send and
        /// receive from two threads or tasks at once.
        pub struct WebSocket<S: $bound = $default> {
            handle: Handle<S>,
            opened: $crate::driver::Opened,
            #[allow(dead_code)] // the blocking transport polls nothing
            polling: Polling,
        }

        /// The sending half of a split [`WebSocket`].
        pub struct Sender<S: $bound = $default> {
            handle: Handle<S>,
            #[allow(dead_code)] // the blocking transport polls nothing
            polling: Polling,
        }

        /// The receiving half of a split [`WebSocket`].
        pub struct Receiver<S: $bound = $default> {
            handle: Handle<S>,
            #[allow(dead_code)] // the blocking transport polls nothing
            polling: Polling,
        }

        impl<S: $bound> WebSocket<S> {
            $crate::socket_api!(@sending [$($a)?] [$(.$aw)?] [mut] command_mut flush_mut drive_mut);
            $crate::socket_api!(@receiving [$($a)?] [$(.$aw)?] [mut] receive_mut);
            $crate::socket_api!(@inspecting);

            /// Splits into a sending and a receiving half. While the `Sender` lives, the peer's
            /// Close is answered by its `close` (or at the `CloseReply::Deadline`): it may still
            /// be sending final replies. Dropping it answers at once.
            pub fn split(self) -> (Sender<S>, Receiver<S>) {
                self.handle.0.driver().sender_created();
                (
                    Sender { handle: self.handle.clone(), polling: Polling::default() },
                    Receiver { handle: self.handle, polling: Polling::default() },
                )
            }

            /// Client: the server's response.
            pub fn response(&self) -> Option<&$crate::Response> {
                self.opened.response()
            }

            /// Server: the client's request.
            pub fn request(&self) -> Option<&$crate::Request> {
                self.opened.request()
            }
        }

        /// Connects to a `ws://` or `wss://` URL over TCP (within
        /// `SocketConfig::connect_timeout`) and performs the opening handshake; for `wss://`,
        /// TLS first (SNI and certificate verification for the URL's host, with
        /// `SocketConfig::tls_client`; the transport's `rustls` feature).
        pub $($a)? fn connect(
            url: &str,
            config: $crate::driver::SocketConfig,
        ) -> Result<WebSocket<$default>, $crate::driver::SocketError> {
            let url = $crate::WsUrl::parse(url)?;
            let stream = connect_tcp(&url.address, config.connect_timeout)$(.$aw)??;
            stream.set_nodelay(true)?;
            let tls = url.secure.then_some(url.host.as_str());
            let peer = stream.peer_addr().ok();
            open_client(stream, url.request(), tls, peer, config)$(.$aw)?
        }

        /// Accepts a WebSocket on an accepted TCP stream, agreeing to every valid request
        /// (over TLS if `SocketConfig::tls_server` is set).
        pub $($a)? fn accept(
            stream: $default,
            config: $crate::driver::SocketConfig,
        ) -> Result<WebSocket<$default>, $crate::driver::SocketError> {
            stream.set_nodelay(true)?;
            let peer = stream.peer_addr().ok();
            answer(server_shared(stream, peer, &config)?, &[], |_| Ok($crate::Accept::default()))$(.$aw)?
        }

        /// Performs the client's opening handshake over a stream the caller connected (a Unix
        /// socket, a proxy tunnel, a TLS stream of its own ...).
        pub $($a)? fn connect_with<S: $bound>(
            stream: S,
            request: $crate::ClientRequest,
            config: $crate::driver::SocketConfig,
        ) -> Result<WebSocket<S>, $crate::driver::SocketError> {
            open_client(stream, request, None, None, config)$(.$aw)?
        }

        /// The client's side of the handshake, over TLS to `tls` (the server's name) if given;
        /// `peer` names the server in `tracing` events.
        $($a)? fn open_client<S: $bound>(
            stream: S,
            request: $crate::ClientRequest,
            tls: Option<&str>,
            peer: Option<::core::net::SocketAddr>,
            config: $crate::driver::SocketConfig,
        ) -> Result<WebSocket<S>, $crate::driver::SocketError> {
            let shared = client_shared(stream, request, tls, peer, &config)?;
            shared.flush()$(.$aw)??;
            let response = shared.drive($crate::driver::goal::connected)$(.$aw)???;
            Ok(WebSocket { handle: Handle(shared), opened: $crate::driver::Opened::Client(response), polling: Polling::default() })
        }

        /// Accepts a WebSocket on a stream (over TLS if `SocketConfig::tls_server` is set);
        /// `decide` sees the request and chooses a subprotocol and headers, or a rejection
        /// (`Err(403.into())`, or a `Rejection` with headers and a body).
        pub $($a)? fn accept_with<S: $bound>(
            stream: S,
            config: $crate::driver::SocketConfig,
            decide: impl FnOnce(&$crate::Request) -> Result<$crate::Accept, $crate::Rejection>,
        ) -> Result<WebSocket<S>, $crate::driver::SocketError> {
            answer(server_shared(stream, None, &config)?, &[], decide)$(.$aw)?
        }

        // What opens a connection is built by plain functions, before the first await: an
        // async fn keeps the locals it moved out of in its future (rustc does not reuse their
        // room), and a `Connection` or `Driver` kept there for the life of every task that
        // accepted would double the memory of an idle connection.

        /// The client's connection, shared; `peer` names the server in `tracing` events.
        fn client_shared<S: $bound>(
            stream: S,
            request: $crate::ClientRequest,
            tls: Option<&str>,
            peer: Option<::core::net::SocketAddr>,
            config: &$crate::driver::SocketConfig,
        ) -> Result<std::sync::Arc<Shared<S>>, $crate::driver::SocketError> {
            let keys = $crate::OsKeys::default();
            let mut conn = $crate::Connection::client(config.core.clone(), request, keys, $clock())?;
            if let Some(peer) = peer {
                conn.set_peer(peer);
            }
            let driver = $crate::driver::Driver::client(conn, tls, config)?;
            Ok(Shared::new(stream, driver, config)?)
        }

        /// The server's connection, shared, before it has read the request; `peer` names the
        /// client in `tracing` events.
        fn server_shared<S: $bound>(
            stream: S,
            peer: Option<::core::net::SocketAddr>,
            config: &$crate::driver::SocketConfig,
        ) -> Result<std::sync::Arc<Shared<S>>, $crate::driver::SocketError> {
            let mut conn = $crate::Connection::server(config.core.clone(), $clock());
            if let Some(peer) = peer {
                conn.set_peer(peer);
            }
            let driver = $crate::driver::Driver::server(conn, config)?;
            Ok(Shared::new(stream, driver, config)?)
        }

        /// Accepts a WebSocket on a stream whose upgrade request an HTTP server already read
        /// and parsed (`Request::try_from(&http_request)`), answering it ourselves as
        /// [`accept_with`] does. `leftover`: bytes the HTTP server read past the request's
        /// head; they are the client's first frames and go to the connection first.
        pub $($a)? fn accept_parsed<S: $bound>(
            stream: S,
            request: $crate::Request,
            leftover: &[u8],
            config: $crate::driver::SocketConfig,
            decide: impl FnOnce(&$crate::Request) -> Result<$crate::Accept, $crate::Rejection>,
        ) -> Result<WebSocket<S>, $crate::driver::SocketError> {
            answer(parsed_shared(stream, request, &config)?, leftover, decide)$(.$aw)?
        }

        /// The server's connection, shared, for a request an HTTP server read.
        fn parsed_shared<S: $bound>(
            stream: S,
            request: $crate::Request,
            config: &$crate::driver::SocketConfig,
        ) -> Result<std::sync::Arc<Shared<S>>, $crate::driver::SocketError> {
            let conn = $crate::Connection::server_parsed(config.core.clone(), request, $clock());
            Ok(Shared::new(stream, $crate::driver::Driver::new(conn), config)?)
        }

        /// Adopts a stream on which an HTTP server (hyper, axum ...) has already answered the
        /// upgrade with the 101 that [`accept_response`]($crate::accept_response) built for
        /// `request`: the connection is open. `leftover`: bytes the HTTP server read past the
        /// request's head, fed to the connection first (hyper keeps those inside the upgraded
        /// stream it hands over: pass `&[]`).
        pub $($a)? fn from_upgraded<S: $bound>(
            stream: S,
            request: $crate::Request,
            leftover: &[u8],
            config: $crate::driver::SocketConfig,
        ) -> Result<WebSocket<S>, $crate::driver::SocketError> {
            let now = $clock();
            let conn = $crate::Connection::server_established(config.core.clone(), now);
            let shared = Shared::new(stream, $crate::driver::Driver::new(conn), &config)?;
            shared.driver().on_leftover(now, leftover);
            let opened = $crate::driver::Opened::Server(request);
            Ok(WebSocket { handle: Handle(shared), opened, polling: Polling::default() })
        }

        /// The server's side of the handshake, whatever read the request, on the connection
        /// already shared (see `server_shared`).
        $($a)? fn answer<S: $bound>(
            shared: std::sync::Arc<Shared<S>>,
            leftover: &[u8],
            decide: impl FnOnce(&$crate::Request) -> Result<$crate::Accept, $crate::Rejection>,
        ) -> Result<WebSocket<S>, $crate::driver::SocketError> {
            shared.driver().on_leftover($clock(), leftover);
            let request = shared.drive($crate::driver::goal::request)$(.$aw)?.and_then(|r| r);
            let answered = request.and_then(|r| shared.driver().answer($clock(), decide(&r)).map(|()| r));
            // The answer (or the error response) goes out whatever the decision was.
            let flushed = shared.flush()$(.$aw)?;
            let request = answered?;
            flushed?;
            Ok(WebSocket { handle: Handle(shared), opened: $crate::driver::Opened::Server(request), polling: Polling::default() })
        }

        impl<S: $bound> Drop for Sender<S> {
            fn drop(&mut self) {
                // Nothing can send final replies any more: a peer's Close is answered now.
                if self.handle.0.driver().sender_dropped($clock) {
                    self.handle.0.notify();
                }
            }
        }

        impl<S: $bound> Sender<S> {
            $crate::socket_api!(@sending [$($a)?] [$(.$aw)?] [] command flush drive);
            $crate::socket_api!(@inspecting);
        }

        impl<S: $bound> Receiver<S> {
            $crate::socket_api!(@receiving [$($a)?] [$(.$aw)?] [] receive);
            $crate::socket_api!(@inspecting);
        }
    };
    (@sending [$($a:tt)?] [$(.$aw:tt)?] [$($m:tt)?] $command:ident $flush:ident $drive:ident) => {
        /// Sends a whole message and writes it out (with everything queued before it); waits
        /// while the socket does not take it.
        ///
        /// On an async transport's split socket whose `Receiver` is waiting in `recv`, a
        /// `Sender`'s message is instead left to that task while less than 64 KiB is queued
        /// (`driver::Sent::Delegated`): it writes everything queued in one write before it
        /// hands out anything, and this returns at once. An error of that write ends the
        /// connection: `recv` and the next send report it.
        pub $($a)? fn send(&$($m)? self, message: $crate::Message) -> Result<(), $crate::driver::SocketError> {
            self.handle.$command($crate::driver::Command::Send(message), true)$(.$aw)?
        }

        /// Sends a text message.
        pub $($a)? fn send_text(&$($m)? self, text: impl Into<$crate::Text>) -> Result<(), $crate::driver::SocketError> {
            self.send($crate::Message::Text(text.into()))$(.$aw)?
        }

        /// Sends a binary message.
        pub $($a)? fn send_binary(&$($m)? self, data: impl Into<$crate::bytes::Bytes>) -> Result<(), $crate::driver::SocketError> {
            self.send($crate::Message::Binary(data.into()))$(.$aw)?
        }

        /// Queues a message without writing it, so many small ones leave in one write. It goes
        /// out with the next `send`, `flush` or `close`, or when `recv` has handed out every
        /// event already received: an echo that feeds its replies answers a batch of messages
        /// with one write. Waits only while the outgoing buffer is full.
        pub $($a)? fn feed(&$($m)? self, message: $crate::Message) -> Result<(), $crate::driver::SocketError> {
            self.handle.$command($crate::driver::Command::Send(message), false)$(.$aw)?
        }

        /// Writes out everything queued; waits while the socket does not take it.
        pub $($a)? fn flush(&$($m)? self) -> Result<(), $crate::driver::SocketError> {
            self.handle.$flush()$(.$aw)?
        }

        /// Sends part of a message; `end_of_message` finishes it.
        pub $($a)? fn send_fragment(
            &$($m)? self,
            kind: $crate::DataKind,
            data: $crate::bytes::Bytes,
            end_of_message: bool,
        ) -> Result<(), $crate::driver::SocketError> {
            self.handle.$command($crate::driver::Command::Fragment { kind, data, end_of_message }, true)$(.$aw)?
        }

        /// Sends a ping.
        pub $($a)? fn ping(&$($m)? self, payload: $crate::bytes::Bytes) -> Result<(), $crate::driver::SocketError> {
            self.handle.$command($crate::driver::Command::Ping(payload), true)$(.$aw)?
        }

        /// Close-output: sends our Close and returns. Receiving goes on until the peer's Close;
        /// from `CloseReceived` this is our reply.
        pub $($a)? fn close(&$($m)? self, code: impl Into<$crate::CloseCode>, reason: &str) -> Result<(), $crate::driver::SocketError> {
            let frame = $crate::CloseFrame::new(code, reason);
            self.handle.$command($crate::driver::Command::Close(frame), true)$(.$aw)?
        }

        /// Close-output, then waits until the connection is closed and released (bounded by
        /// the close timeout and the EOF wait). Events that arrive meanwhile stay queued for
        /// `recv`.
        pub $($a)? fn close_and_wait(&$($m)? self, code: impl Into<$crate::CloseCode>, reason: &str) -> Result<$crate::Outcome, $crate::driver::SocketError> {
            self.close(code, reason)$(.$aw)??;
            self.handle.$drive($crate::driver::goal::released)$(.$aw)??
        }

        /// Gives up: no Close frame, the connection is dropped at once.
        pub $($a)? fn abort(&$($m)? self) {
            self.handle.0.abort()$(.$aw)?
        }
    };
    (@receiving [$($a:tt)?] [$(.$aw:tt)?] [$($m:tt)?] $receive:ident) => {
        /// The next event: messages (or chunks), pings, pongs, chunk boundaries, the peer's
        /// Close, and finally `Event::Closed`. `None` once the connection is released.
        ///
        /// Asking for the next event after the peer's Close was handed out, with no `Sender`
        /// alive, answers that Close at once (see `Driver::receiving_alone`): send final
        /// replies before receiving again.
        pub $($a)? fn recv(&$($m)? self) -> Result<Option<$crate::Event>, $crate::driver::SocketError> {
            self.handle.$receive()$(.$aw)?
        }

        /// Whole messages or streaming chunks, from the next message on.
        pub fn set_delivery(&self, delivery: $crate::Delivery) {
            self.handle.0.driver().connection_mut().set_delivery(delivery)
        }

        /// The next data message, skipping other events. `Ok(None)` after a clean close;
        /// `SocketError::Closed` if the connection ended otherwise.
        pub $($a)? fn recv_message(&$($m)? self) -> Result<Option<$crate::Message>, $crate::driver::SocketError> {
            loop {
                if let Some(result) = $crate::driver::message_of(self.recv()$(.$aw)??) {
                    return result;
                }
            }
        }
    };
    (@command [$(.$aw:tt)?] $clock:path, $on:ident, $driver:ident, $flush:ident, $command:ident, $flush_all:ident) => {{
        let changes_deadline = $command.changes_deadline();
        let mut command = $command;
        loop {
            let sent = $on.$driver().command($clock, command, $flush_all);
            match sent {
                $crate::driver::Sent::Queued => return Ok(()),
                $crate::driver::Sent::Flush => {
                    if changes_deadline {
                        $on.notify();
                    }
                    return $on.$flush()$(.$aw)?;
                }
                $crate::driver::Sent::Delegated { wake } => {
                    if wake {
                        $on.wake_flusher();
                    }
                    return Ok(());
                }
                $crate::driver::Sent::FlushAndRetry(back) => {
                    $on.$flush()$(.$aw)??;
                    command = back;
                }
                $crate::driver::Sent::Refused(e) => return Err(e),
            }
        }
    }};
    // The shared path of a `WebSocket`'s call (another handle exists: rare), in a box of its
    // own: inline, its future (the race of `drive`, the waits of `flush`) would be part of
    // every call's future, which a task's future holds across every await (memory per
    // connection, and the cache lines an echo writes: BENCHMARKS.md, session 12).
    (@boxed [.$aw:tt] $e:expr) => {
        Box::pin($e).$aw
    };
    (@boxed [] $e:expr) => {
        $e
    };
    (@inspecting) => {
        /// The close-handshake state.
        pub fn state(&self) -> $crate::State {
            self.handle.0.driver().connection().state()
        }

        /// Per-direction counts (`wire_bytes` against `payload_bytes`: what compression saved).
        pub fn stats(&self) -> $crate::Stats {
            self.handle.0.driver().connection().stats()
        }

        /// The permessage-deflate agreement, if the handshake made one ([`Config::deflate`]
        /// on both ends).
        ///
        /// [`Config::deflate`]: $crate::Config::deflate
        pub fn deflate(&self) -> Option<$crate::DeflateParams> {
            self.handle.0.driver().connection().deflate()
        }

        /// How the connection ended, once it has.
        pub fn outcome(&self) -> Option<$crate::Outcome> {
            self.handle.0.driver().connection().outcome().cloned()
        }
    };
}
