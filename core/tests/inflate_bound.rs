//! Inflation is bounded before memory is taken (RFC 7692 through `Config::max_message_size`):
//! a frame of about 1 MiB that inflates to 1 GiB. The heap is measured by a counting
//! allocator, so this file holds one test (nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use wsduplex_core::*;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// plain atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the change in size: the system moves large blocks by remapping them.
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The heap's peak while `f` runs, above what was live when it started.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

/// A client frame (masked with a zero key) carrying a compressed binary message.
fn compressed_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xC2, 0x80 | 127];
    f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(payload);
    f
}

/// A server that accepted permessage-deflate, by handshake bytes as a client sends them.
fn server(config: Config) -> Connection {
    let now = Instant::now();
    let mut s = Connection::server(config.deflate(DeflateConfig::default()), now);
    s.handle_input(
        now,
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    );
    assert!(matches!(s.poll_event(), Some(Event::Request(_))));
    s.accept(now, Accept::default()).expect("accept");
    assert!(s.deflate().is_some());
    while s.poll_transmit().is_some() {}
    s
}

#[test]
fn a_gigabyte_from_a_megabyte_never_takes_the_gigabyte() {
    const GIB: usize = 1 << 30;
    let bomb = {
        let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::best(), false, 15);
        let zeros = vec![0u8; 16 << 20];
        let mut out = Vec::with_capacity(2 << 20);
        for _ in 0..GIB / zeros.len() {
            c.compress_vec(&zeros, &mut out, flate2::FlushCompress::None).expect("compress");
        }
        c.compress_vec(&[], &mut out, flate2::FlushCompress::Sync).expect("compress");
        out.truncate(out.len() - 4);
        compressed_frame(&out)
    };
    assert!(bomb.len() < 1100 << 10, "a frame of about 1 MiB: {}", bomb.len());
    let now = Instant::now();

    // Whole messages: 1009 once past max_message_size (64 MiB by default), with no more than
    // that limit taken.
    let mut s = server(Config::default());
    let limit = s.config().max_message_size as usize;
    let peak = peak_during(|| {
        s.handle_input(now, &bomb);
        while s.poll_event().is_some() {}
    });
    let mut wire = Vec::new();
    while let Some(t) = s.poll_transmit() {
        if let Transmit::Bytes(b) = t {
            wire.extend_from_slice(&b);
        }
    }
    assert_eq!(&wire[..4], [0x88, 0x02, 0x03, 0xF1], "our Close with 1009");
    assert!(peak < limit + 2 * bomb.len() + (4 << 20), "peak {peak} for a limit of {limit}");

    // Streaming: no limit at all, and the gigabyte goes through in bounded memory.
    let mut s = server(Config::default().delivery(Delivery::Chunks).max_message_size(u64::MAX));
    let mut total = 0;
    let peak = peak_during(|| {
        s.handle_input(now, &bomb);
        while let Some(e) = s.poll_event() {
            if let Event::Chunk(c) = e {
                total += c.data.len();
            }
        }
    });
    assert_eq!(total, GIB);
    assert!(peak < 2 * bomb.len() + (4 << 20), "peak {peak} while streaming");
}
