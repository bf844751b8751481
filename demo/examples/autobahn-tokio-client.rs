//! Autobahn|Testsuite client (fuzzingserver mode) on the tokio transport: asks for the case
//! count, runs every case as an echo client, then asks the server to write its reports.
//! URL from `AUTOBAHN_URL`.

use wsduplex_tokio as transport;

const AGENT: &str = "wsduplex-tokio";

include!("autobahn/async-client.rs");

fn main() -> Result<(), SocketError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run())
}
