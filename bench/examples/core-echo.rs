//! The core alone answering a small-message echo, N times, in memory: what one echo of the
//! many-connections benchmark costs in `wsduplex-core` (a masked 20-byte binary frame in,
//! its message out, the reply queued and taken as bytes), with no socket, runtime or driver.
//! Counted under callgrind, twice, the difference over the extra echoes is deterministic:
//!
//! ```sh
//! cargo build --release -p wsduplex-bench --example core-echo
//! for n in 1000 11000; do valgrind --tool=callgrind --callgrind-out-file=/tmp/core-echo.$n \
//!   target/release/examples/core-echo $n 2>&1 | grep refs; done   # (b - a) / 10 000
//! ```

use std::process::ExitCode;
use std::time::Instant;

use wsduplex_bench::raw;
use wsduplex_core::{Config, Connection, Event, Transmit};

fn main() -> ExitCode {
    let Some(n) = std::env::args().nth(1).and_then(|n| n.parse::<usize>().ok()) else {
        eprintln!("usage: core-echo ECHOES");
        return ExitCode::FAILURE;
    };
    let now = Instant::now();
    let mut conn = Connection::server_established(Config::default(), now);
    let wire = raw::frame(0x2, &[7u8; 20], [0xa1, 0x5b, 0x3c, 0x07]);
    let mut echoed = 0;
    for _ in 0..n {
        conn.handle_input(now, &wire);
        while let Some(event) = conn.poll_event() {
            if let Event::Message(m) = event
                && conn.send(m).is_err()
            {
                eprintln!("the reply was refused");
                return ExitCode::FAILURE;
            }
        }
        while let Some(t) = conn.poll_transmit() {
            if let Transmit::Bytes(b) = t {
                echoed += b.len();
            }
        }
    }
    // 20 bytes of payload behind a 2-byte server header, per echo.
    if echoed != n * 22 {
        eprintln!("{echoed} bytes echoed, {} expected", n * 22);
        return ExitCode::FAILURE;
    }
    println!("{n} echoes, {echoed} bytes");
    ExitCode::SUCCESS
}
