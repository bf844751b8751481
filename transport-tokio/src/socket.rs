//! The tokio socket: [`wsduplex_async::Shared`] over tokio's sockets and timer
//! ([`crate::stream::Half`]); what to do is the driver's to say, how to await is written once
//! in `wsduplex-async`, and this whole module is its `async_transport!`.

use tokio::net::TcpStream;

use crate::stream::{AsyncStream, Half};

wsduplex_async::async_transport!(TcpStream, Half);

#[cfg(test)]
mod tests;
