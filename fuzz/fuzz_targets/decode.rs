//! Arbitrary bytes, in arbitrary splits, to a server and to a client connection, in both
//! delivery modes. No panic; memory bounded by what was fed; the connection ends up open,
//! closing, or failed with a valid close code.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use wsduplex_core::*;

fuzz_target!(|data: &[u8]| {
    let Some((&split_seed, input)) = data.split_first() else { return };
    let now = Instant::now();
    for streaming in [false, true] {
        let config = Config::default()
            .delivery(if streaming { Delivery::Chunks } else { Delivery::Messages })
            .chunk_size(Some(7))
            .max_frame_size(1 << 16)
            .max_message_size(1 << 17);
        for mut conn in [
            Connection::server_established(config.clone(), now),
            Connection::client_established(config.clone(), SeededKeys::new(1), now),
        ] {
            let mut rest = input;
            let mut step = split_seed as usize % 13 + 1;
            while !rest.is_empty() {
                let n = step.min(rest.len());
                conn.handle_input(now, &rest[..n]);
                rest = &rest[n..];
                step = step * 7 % 31 + 1;
                while conn.poll_event().is_some() {}
                while conn.poll_transmit().is_some() {}
                // Output is bounded whatever the input: a Close, owed pongs, nothing else.
                assert!(conn.send_buffered() <= 16 * (125 + 14) + 200);
            }
            conn.handle_timeout(now + std::time::Duration::from_secs(60));
            while conn.poll_event().is_some() {}
            match conn.outcome() {
                None | Some(Outcome::Clean { .. } | Outcome::TimedOut(_)) => {}
                Some(Outcome::Failed(e)) => assert!(matches!(e.close_code(), 1002 | 1007 | 1009), "{e}"),
                Some(o) => panic!("unexpected outcome {o:?}"),
            }
        }
    }
});
