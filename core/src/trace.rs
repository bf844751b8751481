//! What to turn on when a connection misbehaves in production: every move of the state table
//! (`state::transition`) as a `tracing` event under the target `wsduplex`
//! (`RUST_LOG=wsduplex=debug`), with the peer's address where the transport knows it (feature
//! `tracing`, off by default; without it this compiles to nothing).
//!
//! Levels, as a server with many connections would want them: `warn` for a peer that broke the
//! protocol or failed the opening handshake (the error and the close code we answered with);
//! `info` for a connection that ended other than cleanly (a timeout, an EOF without a Close, a
//! rejected upgrade); `debug` for the ordinary life (open, each Close sent and received with
//! its code, a clean end); `trace` for the transport's release.

#[cfg(feature = "tracing")]
pub(crate) use enabled::on_move;

#[cfg(feature = "tracing")]
mod enabled {
    use core::net::SocketAddr;

    use tracing::{debug, info, trace, warn};

    use crate::Role;

    /// One target for every event, whatever module emits it: `RUST_LOG=wsduplex=debug`.
    const TARGET: &str = "wsduplex";
    use crate::state::{Move, Phase, Trigger};

    /// Logs the move `m` that `trigger` made from `from`.
    pub(crate) fn on_move(role: Role, peer: Option<SocketAddr>, from: Phase, trigger: &Trigger, m: &Move) {
        let peer = peer.map(tracing::field::display);
        match trigger {
            Trigger::Opened => debug!(target: TARGET, ?role, peer, "websocket open"),
            Trigger::LocalClose(f) => {
                debug!(target: TARGET, ?role, peer, code = f.code, reason = %f.reason, "close sent")
            }
            Trigger::PeerClose(f) => {
                debug!(target: TARGET, ?role, peer, code = f.code, reason = %f.reason, "close received")
            }
            Trigger::ReplyDue => {
                debug!(target: TARGET, ?role, peer, "close reply due: nothing more to send, or the reply deadline")
            }
            Trigger::Timeout(timer) => info!(target: TARGET, ?role, peer, ?timer, state = ?from, "timed out"),
            Trigger::Violation(e) if from == Phase::Connecting => {
                warn!(target: TARGET, ?role, peer, error = %e, "opening handshake failed");
            }
            Trigger::Violation(e) => {
                let answered = m.send.as_ref().map(|f| f.code);
                warn!(target: TARGET, ?role, peer, error = %e, close_code = answered, "peer broke the protocol");
            }
            Trigger::Eof => trace!(target: TARGET, ?role, peer, state = ?from, "end of input"),
            Trigger::LingerTimeout => debug!(target: TARGET, ?role, peer, "no EOF from the peer within eof_timeout"),
            Trigger::Abort => debug!(target: TARGET, ?role, peer, state = ?from, "aborted by the application"),
            Trigger::Reject(status) => info!(target: TARGET, ?role, peer, status, "upgrade rejected"),
            Trigger::Released => trace!(target: TARGET, ?role, peer, "transport released"),
        }
        match &m.finish {
            Some(outcome) if outcome.is_clean() => debug!(target: TARGET, ?role, peer, %outcome, "closed"),
            Some(outcome) => info!(target: TARGET, ?role, peer, %outcome, "connection ended"),
            None => {}
        }
    }
}
