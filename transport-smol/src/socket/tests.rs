//! The socket's own rules, over real loopback sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::Timer;
use async_net::TcpListener;
use futures_lite::{AsyncReadExt, future};
use wsduplex_core::driver::{Driver, SocketConfig, goal};
use wsduplex_core::{Connection, Event, Outcome};

use super::*;

async fn pair(conn: Connection) -> (Arc<Shared<TcpStream>>, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let stream = TcpStream::connect(listener.local_addr().expect("address")).await.expect("connect");
    let (peer, _) = listener.accept().await.expect("accept");
    let ours = stream.clone();
    (Shared::new(stream, Driver::new(conn), &SocketConfig::default()).expect("socket"), ours, peer)
}

async fn within<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> Option<T> {
    future::or(async { Some(f.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await
}

/// Twin of the blocking transport's test: a writing task that takes the end of the input
/// between two writes leaves the core's Disconnect for the receiver to write; the receiver
/// writes it and must then see that the connection is over, not wait for a timer.
#[test]
fn recv_ends_as_soon_as_it_writes_the_disconnect_itself() {
    smol::block_on(async {
        let (shared, _ours, _peer) = pair(Connection::server_established(Default::default(), Instant::now())).await;
        shared.driver().on_read(Instant::now(), Ok(&[])); // the end of the input, as a writer takes it
        let closed = shared.driver().connection_mut().poll_event();
        assert!(matches!(closed, Some(Event::Closed(Outcome::Abnormal))), "{closed:?}; the Disconnect is left queued");
        let start = Instant::now();
        let ended = within(Duration::from_secs(5), shared.drive(goal::event)).await;
        assert!(matches!(ended, Some(Ok(None))), "recv did not end: {ended:?}");
        assert!(start.elapsed() < Duration::from_secs(1), "recv waited {:?}", start.elapsed());
    });
}

/// The Disconnect shuts a socket down both ways (the driver's rule), as the blocking
/// transport does: after an abort our own handle of the socket reads the end at once
/// although the peer is silent. Closing the write side alone (`poll_close`) would leave
/// that read waiting.
#[test]
fn abort_shuts_the_socket_down_both_ways() {
    smol::block_on(async {
        let (shared, mut ours, _peer) = pair(Connection::server_established(Default::default(), Instant::now())).await;
        shared.abort().await;
        let mut buf = [0u8; 16];
        let read = within(Duration::from_secs(2), ours.read(&mut buf)).await;
        assert!(matches!(read, Some(Ok(0))), "our read side is still open: {read:?}");
    });
}
