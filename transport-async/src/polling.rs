//! The `futures` `Stream` and `Sink` traits on the async transports' `WebSocket`, `Sender` and
//! `Receiver`, so code written with `StreamExt` / `SinkExt` against tokio-tungstenite's
//! `WebSocketStream` ports by changing its imports.
//!
//! A poll-based trait needs the operation it started to survive between polls: each handle
//! keeps its own [`Polling`], which owns the `recv`, `feed`, `flush` or `close` future in
//! flight (boxed, holding a clone of the handle). Every one of those futures is cancel-safe,
//! so a handle dropped with one in flight loses nothing that was not lost by dropping it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use wsduplex_core::Message;
use wsduplex_core::driver::SocketError;

/// A boxed operation in flight.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, SocketError>> + Send>>;

/// A `Sink` operation, in the order the trait allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkOp {
    /// `start_send`: the message is queued (`feed`), not yet written.
    Feed,
    /// `poll_flush`: everything queued is written.
    Flush,
    /// `poll_close`: our Close is sent (close-output) and written. The stream side goes on
    /// until the peer's Close.
    Close,
}

/// What one handle keeps in flight for its `Stream` and `Sink` impls.
///
/// The futures sit in mutexes that are never locked (every access is through `&mut self`,
/// `Mutex::get_mut`): only so the handle stays `Sync`, as the futures need not be, without
/// unsafe code.
#[derive(Default)]
pub struct Polling {
    recv: Mutex<Option<Pending<Option<Message>>>>,
    send: Mutex<Option<(SinkOp, Pending<()>)>>,
    closed: bool,
}

fn slot<T>(m: &mut Mutex<T>) -> &mut T {
    m.get_mut().unwrap_or_else(PoisonError::into_inner)
}

impl Clone for Polling {
    /// A new handle starts with nothing in flight.
    fn clone(&self) -> Self {
        Polling::default()
    }
}

impl std::fmt::Debug for Polling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Polling").field("closed", &self.closed).finish()
    }
}

impl Polling {
    /// `Stream::poll_next`: the next data message, `None` from the peer's Close on; `start`
    /// makes the `Shared::next_message` future when none is in flight.
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        start: impl FnOnce() -> Pending<Option<Message>>,
    ) -> Poll<Option<Result<Message, SocketError>>> {
        let recv = slot(&mut self.recv);
        let result = ready!(recv.get_or_insert_with(start).as_mut().poll(cx));
        *recv = None;
        Poll::Ready(result.transpose())
    }

    /// Drives the `Sink` operation in flight to its end, then, unless what ended already does
    /// what `op` asks, starts `op` with `start` and drives it. `Feed` only finishes what is in
    /// flight (`poll_ready`).
    pub fn poll_sink(
        &mut self,
        cx: &mut Context<'_>,
        op: SinkOp,
        start: impl FnOnce() -> Pending<()>,
    ) -> Poll<Result<(), SocketError>> {
        let mut start = Some(start);
        loop {
            let send = slot(&mut self.send);
            if let Some((running, fut)) = send {
                let running = *running;
                let result = ready!(fut.as_mut().poll(cx));
                *send = None;
                result?;
                if running == SinkOp::Close {
                    self.closed = true;
                }
                // A close writes everything, so it is also a flush.
                if running == op || (op == SinkOp::Flush && running == SinkOp::Close) {
                    return Poll::Ready(Ok(()));
                }
            }
            let done = match op {
                SinkOp::Feed => true,
                SinkOp::Flush => false,
                SinkOp::Close => self.closed,
            };
            match start.take() {
                Some(start) if !done => *slot(&mut self.send) = Some((op, start())),
                _ => return Poll::Ready(Ok(())),
            }
        }
    }

    /// `Sink::start_send`: queues the message with `feed` (written by the next flush, close or
    /// send). `poll_ready` must have returned `Ready(Ok)` first, so nothing is in flight.
    pub fn start_feed(&mut self, feed: Pending<()>) {
        *slot(&mut self.send) = Some((SinkOp::Feed, feed));
    }
}

/// Implements `futures_core::Stream` (data messages until the peer's Close) on `WebSocket<S>` and
/// `Receiver<S>`, and `futures_sink::Sink<Message>` (`start_send` feeds, `poll_flush`
/// flushes, `poll_close` sends our Close) on `WebSocket<S>` and `Sender<S>`, for the types
/// `wsduplex_core::socket_api!` generated beside it with the stream bound `$bound`.
#[macro_export]
macro_rules! stream_sink {
    ($bound:path) => {
        impl<S: $bound> Receiver<S> {
            /// Every event (not only data messages) as a `futures_core::Stream`, ending when
            /// the connection is released.
            pub fn into_stream(
                self,
            ) -> impl $crate::futures_core::Stream<Item = Result<$crate::reexport::Event, $crate::reexport::SocketError>> {
                $crate::futures_lite::stream::unfold(Some(self), |rx| async move {
                    let rx = rx?;
                    match rx.recv().await {
                        Ok(Some(e)) => Some((Ok(e), Some(rx))),
                        Ok(None) => None,
                        Err(e) => Some((Err(e), None)),
                    }
                })
            }
        }
        $crate::stream_sink!(@stream $bound, WebSocket);
        $crate::stream_sink!(@stream $bound, Receiver);
        $crate::stream_sink!(@sink $bound, WebSocket);
        $crate::stream_sink!(@sink $bound, Sender);
    };
    (@stream $bound:path, $t:ident) => {
        impl<S: $bound> $crate::futures_core::Stream for $t<S> {
            type Item = Result<$crate::reexport::Message, $crate::reexport::SocketError>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                let this = self.get_mut();
                let shared = this.handle.0.clone();
                this.polling.poll_next(cx, move || Box::pin(async move { shared.next_message().await }))
            }
        }
    };
    (@sink $bound:path, $t:ident) => {
        impl<S: $bound> $crate::futures_sink::Sink<$crate::reexport::Message> for $t<S> {
            type Error = $crate::reexport::SocketError;

            fn poll_ready(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                self.get_mut().polling.poll_sink(cx, $crate::SinkOp::Feed, || unreachable!("Feed starts nothing"))
            }

            fn start_send(self: std::pin::Pin<&mut Self>, item: $crate::reexport::Message) -> Result<(), Self::Error> {
                let this = self.get_mut();
                let handle = this.handle.clone();
                this.polling.start_feed(Box::pin(async move {
                    handle.command($crate::reexport::Command::Send(item), false).await
                }));
                Ok(())
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                let this = self.get_mut();
                let shared = this.handle.0.clone();
                this.polling.poll_sink(cx, $crate::SinkOp::Flush, move || Box::pin(async move { shared.flush().await }))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                let this = self.get_mut();
                let handle = this.handle.clone();
                this.polling.poll_sink(cx, $crate::SinkOp::Close, move || {
                    Box::pin(async move {
                        let close = $crate::reexport::Command::Close($crate::reexport::CloseFrame::normal());
                        match handle.command(close, true).await {
                            // Our Close went out before (or the connection is over): done.
                            Err($crate::reexport::SocketError::Local($crate::reexport::LocalError::NotOpen(_))) => Ok(()),
                            other => other,
                        }
                    })
                })
            }
        }
    };
}
