//! What an idle connection costs a server is mostly the size of what it keeps per connection:
//! the shared driver, and the future of the task that serves it (a task waiting in `recv`
//! holds the whole `accept`-then-serve future, sized by its largest state). These bounds keep
//! the ≤ 6 KiB per idle connection of `cargo bench -p wsduplex-bench --bench memory` and
//! `--bench scale` from eroding unnoticed: it went from 5.8 to 12 KiB once, through a TLS
//! session kept inline in every plain connection's driver and futures that held a `Driver`
//! and their write and timer futures twice. Sizes, not times: the same on every machine for
//! one compiler; the bounds leave room for another compiler's layout.

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use wsduplex_core::driver::Driver;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A server-side stream whose client has sent its upgrade request (the client is returned to
/// keep the connection open).
fn requested() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    client.write_all(REQUEST).expect("request");
    let (server, _) = listener.accept().expect("accept");
    (server, client)
}

#[test]
fn the_driver_carries_no_tls_session_inline() {
    let size = size_of::<Driver>();
    assert!(size <= 1400, "Driver is {size} bytes");
}

#[test]
fn a_smol_server_task_stays_small() {
    let (server, _client) = requested();
    let config = wsduplex_demo::seed::server_socket_config(4 << 20);
    let stream = async_net::TcpStream::try_from(server).expect("async stream");
    let accept = wsduplex_smol::accept(stream.clone(), config.clone());
    assert!(size_of_val(&accept) <= 1600, "accept future: {} bytes", size_of_val(&accept));
    drop(accept);
    let mut ws = smol::block_on(wsduplex_smol::accept(stream, config)).expect("upgrade");
    let recv = ws.recv();
    assert!(size_of_val(&recv) <= 600, "recv future: {} bytes", size_of_val(&recv));
    drop(recv);
    let serve = wsduplex_demo::on_smol::serve(ws, 4 << 20, None);
    assert!(size_of_val(&serve) <= 1800, "the seed server's future: {} bytes", size_of_val(&serve));
}

#[test]
fn a_tokio_server_task_stays_small() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (server, _client) = requested();
    server.set_nonblocking(true).expect("nonblocking");
    let config = wsduplex_demo::seed::server_socket_config(4 << 20);
    rt.block_on(async {
        let stream = tokio::net::TcpStream::from_std(server).expect("tokio stream");
        let accept = wsduplex_tokio::accept(stream, config);
        assert!(size_of_val(&accept) <= 1600, "accept future: {} bytes", size_of_val(&accept));
        let mut ws = accept.await.expect("upgrade");
        let recv = ws.recv();
        assert!(size_of_val(&recv) <= 600, "recv future: {} bytes", size_of_val(&recv));
        drop(recv);
        let serve = wsduplex_demo::on_tokio::serve(ws, 4 << 20, None);
        assert!(size_of_val(&serve) <= 1800, "the seed server's future: {} bytes", size_of_val(&serve));
    });
}
