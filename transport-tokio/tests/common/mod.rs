//! What the interop tests share: tokio-tungstenite's seed client, written once for any stream
//! (plain TCP, or tokio-rustls over it).

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::Message as TMessage;
use wsduplex_demo::seed;

/// tokio-tungstenite's client, written the way its docs show: the stream split into a sink and
/// a stream, one task reading while this one sends 40 x 128 KiB, then its close. The acks it
/// read, the final tally after its Close included.
pub(crate) async fn tokio_tungstenite_seed_client<S>(url: String, stream: S) -> Vec<u64>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("handshake");
    let (mut sink, mut stream) = ws.split();
    let reader = tokio::spawn(async move {
        let mut acks = Vec::new();
        while let Some(m) = stream.next().await {
            match m.expect("read") {
                TMessage::Text(t) => acks.push(seed::parse_ack(&t).expect("ack")),
                TMessage::Close(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        acks
    });
    for _ in 0..40 {
        sink.send(TMessage::Binary(seed::payload(0, 128 << 10))).await.expect("send");
    }
    sink.close().await.expect("close-output from the tokio-tungstenite side");
    tokio::time::timeout(std::time::Duration::from_secs(20), reader).await.expect("in time").expect("reader")
}
