//! Writing to a connection the peer has closed is an error, never a signal
//! (`wsduplex_demo::sigpipe`: the body runs in a child process whose SIGPIPE kills it).

use wsduplex_demo::sigpipe::{closed_peer, in_child, message_sizes};
use wsduplex_smol::{Message, connect};

#[test]
fn a_send_to_a_closed_peer_fails_without_a_signal() {
    in_child("a_send_to_a_closed_peer_fails_without_a_signal", || {
        let (addr, peer) = closed_peer();
        smol::block_on(async {
            let mut ws = connect(&format!("ws://{addr}/"), Default::default()).await.expect("connect");
            peer.join().expect("peer");
            for size in message_sizes() {
                if ws.send(Message::Binary(vec![7u8; size].into())).await.is_err() {
                    return;
                }
            }
            panic!("every send to a closed peer succeeded");
        });
    });
}
