//! The seed endpoint served from an axum router, next to an ordinary HTTP route: axum (on
//! hyper) parses the request; wsduplex validates it, builds the 101, and adopts the connection
//! hyper hands over once the 101 is sent.
//!
//! ```sh
//! cargo run --release -p wsduplex-tokio --example axum -- 127.0.0.1:9000
//! curl http://127.0.0.1:9000/health
//! cargo run --release --bin tokio-client -- --url ws://127.0.0.1:9000/ --json
//! ```

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use wsduplex_demo::{on_tokio, seed};
use wsduplex_tokio::{Accept, accept_response, from_upgraded, reject_response};

/// The seed's chunk: one acknowledgement per 4 MiB received.
const CHUNK: u64 = 4 << 20;

/// Upgrades the request to a WebSocket and serves the seed on it (the echo on `/echo`, as the
/// demo servers do).
async fn websocket(mut req: Request) -> Response {
    let request = match wsduplex_tokio::Request::try_from(&req) {
        Ok(r) => r,
        Err(e) => return reject_response(&e).map(|()| Body::empty()),
    };
    let response = match accept_response(&request, &Accept::default()) {
        Ok(r) => r,
        Err(e) => return Response::builder().status(500).body(Body::from(e.to_string())).unwrap_or_default(),
    };
    // hyper hands the connection over once the 101 has been written.
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let peer = request.path.clone();
        let result = match upgrade.await {
            Ok(upgraded) => {
                // Bytes hyper read past the head stay inside `upgraded`: nothing left over here.
                match from_upgraded(TokioIo::new(upgraded), request, &[], seed::server_socket_config(CHUNK)).await {
                    Ok(ws) => on_tokio::serve(ws, CHUNK, None).await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(wsduplex_tokio::SocketError::Io(std::io::Error::other(e))),
        };
        seed::report_connection(&peer, result);
    });
    response.map(|()| Body::empty())
}

/// The router: an ordinary route and the WebSocket endpoints.
pub(crate) fn app() -> Router {
    Router::new().route("/health", get(|| async { "ok\n" })).route("/", get(websocket)).route("/echo", get(websocket))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum: http://{}/health, ws://{0}/ (seed), ws://{0}/echo", listener.local_addr()?);
    axum::serve(listener, app()).await
}
