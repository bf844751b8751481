//! The smol socket: [`wsduplex_async::Shared`] over smol's sockets and timer
//! ([`crate::stream::Half`]); what to do is the driver's to say, how to await is written once
//! in `wsduplex-async`.

use std::io;
use std::time::Duration;

use async_net::TcpStream;
use wsduplex_async::timed;
use wsduplex_core::Event;
use wsduplex_core::driver::SocketError;

use crate::stream::{AsyncStream, Half};

/// The connection's state behind every handle, over smol.
type Shared<S> = wsduplex_async::Shared<Half<S>>;

wsduplex_core::socket_api!(async, AsyncStream = TcpStream);

impl<S: AsyncStream> Receiver<S> {
    /// The events as a `futures_core::Stream`, ending when the connection is released.
    pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<Event, SocketError>> {
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

/// A TCP connection to `address`, within `timeout`.
async fn connect_tcp(address: &str, timeout: Duration) -> io::Result<TcpStream> {
    timed::<Half<TcpStream>, _>(timeout, "connect timed out", TcpStream::connect(address)).await
}

#[cfg(test)]
mod tests;
