//! Autobahn|Testsuite client (fuzzingserver mode) on the smol transport: asks for the case
//! count, runs every case as an echo client, then asks the server to write its reports.
//! URL from `AUTOBAHN_URL`.

use wsduplex_smol as transport;

const AGENT: &str = "wsduplex-smol";

include!("autobahn/async-client.rs");

fn main() -> Result<(), SocketError> {
    smol::block_on(run())
}
