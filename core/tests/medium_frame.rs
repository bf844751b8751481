//! A medium frame that arrives whole in one read is given one allocation at its size, which
//! becomes the message: not its header's first and then a reallocation for the payload (a
//! malloc, a realloc and its copy per 1 KiB echo before). Counted by a counting allocator, so
//! this file holds one test (nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use wsduplex_core::*;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// plain atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A masked client binary frame (RFC 6455 §5.2: a 16-bit length from 126 bytes on).
fn frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0x82];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[test]
fn a_whole_medium_frame_takes_one_allocation_and_no_reallocation() {
    let now = Instant::now();
    let mut c = Connection::server_established(Config::default(), now);
    // The event queue's first use allocates it: once, before anything is counted. A frame
    // above the kept buffer's size, so that the receive buffer is given back after it.
    c.handle_input(now, &frame(&[7; 200], [9, 9, 9, 9]));
    assert!(matches!(c.poll_event(), Some(Event::Message(_))));
    for (round, len) in [1024usize, 300, 129, 16_000, 1024].into_iter().enumerate() {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + round) as u8).collect();
        let wire = frame(&payload, [0x12, 0x34 ^ round as u8, 0x56, 0x78]);
        let (allocs, reallocs) = (ALLOCS.load(Relaxed), REALLOCS.load(Relaxed));
        c.handle_input(now, &wire);
        let event = c.poll_event();
        assert_eq!(ALLOCS.load(Relaxed) - allocs, 1, "{len} B: allocations");
        assert_eq!(REALLOCS.load(Relaxed) - reallocs, 0, "{len} B: reallocations");
        match event {
            Some(Event::Message(m)) => assert_eq!(m.into_payload().as_ref(), &payload[..], "{len} B"),
            other => panic!("{len} B: {other:?}"),
        }
        assert!(c.poll_event().is_none());
    }

    // Split across reads, the frame grows as before: correct, and never more than its header
    // copied (what `tests/unmasking.rs` checks at every split).
    let payload = vec![0xA5; 1024];
    let wire = frame(&payload, [1, 2, 3, 4]);
    c.handle_input(now, &wire[..500]);
    c.handle_input(now, &wire[500..]);
    match c.poll_event() {
        Some(Event::Message(m)) => assert_eq!(m.into_payload().as_ref(), &payload[..]),
        other => panic!("split: {other:?}"),
    }
}
