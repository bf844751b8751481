//! The tokio socket: [`wsduplex_async::Shared`] over tokio's sockets and timer
//! ([`crate::stream::Half`]); what to do is the driver's to say, how to await is written once
//! in `wsduplex-async`.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use wsduplex_async::timed;

use crate::stream::{AsyncStream, Half};

/// The connection's state behind every handle, over tokio.
type Shared<S> = wsduplex_async::Shared<Half<S>>;

/// What each handle keeps in flight for its `Stream` and `Sink` impls.
type Polling = wsduplex_async::Polling;

wsduplex_core::socket_api!(async, AsyncStream = TcpStream);
wsduplex_async::stream_sink!(AsyncStream);

/// A TCP connection to `address`, within `timeout`.
async fn connect_tcp(address: &str, timeout: Duration) -> io::Result<TcpStream> {
    timed::<Half<TcpStream>, _>(timeout, "connect timed out", TcpStream::connect(address)).await
}

#[cfg(test)]
mod tests;
