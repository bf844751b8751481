//! The buffer a transport reads the socket into, before the bytes go to [`Driver::on_read`].
//!
//! [`Driver::on_read`]: super::Driver::on_read

use std::io;
use std::task::{Poll, ready};

/// How far a large read moves the next read's start: one cache line.
const STEP: usize = 64;
/// The start of a read cycles through the offsets of one page.
const PAGE: usize = 4096;
/// A read at least this large moves the next read's start. Small reads (small messages) keep
/// reading into the same lines, so they touch no more of the cache than one buffer does.
const LARGE_READ: usize = PAGE;

/// Where a transport reads: `size` bytes of room per read, whose start moves by a cache line
/// within a page after every large read.
///
/// Why it moves: on the seed stream (128 KiB messages, both ends pinned to CPUs of their own),
/// a server reading into the same buffer at the same page offset every time paid 3-4x as much
/// per byte in the kernel's copy to user space as servers that read at a different offset each
/// time (fastwebsockets and tungstenite, which read at the end of what they hold), and fell
/// behind the client: 1.27x fastwebsockets' wall time. Reading at an offset moved by a cache
/// line per read: 0.76x the fixed buffer's time (15 of 16 interleaved pairs), moved by whole
/// pages (the same page offset) 1.03x; BENCHMARKS.md, "The seed stream against
/// fastwebsockets". The cause in the CPU is not proven (a copy whose source and destination
/// keep the same relative page offset is the pattern 4 KiB aliasing slows).
pub struct ReadBuffer {
    buf: Vec<u8>,
    size: usize,
    at: usize,
}

/// The room and where the next read starts; not the bytes (a buffer's worth of them).
impl std::fmt::Debug for ReadBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBuffer").field("size", &self.size).field("at", &self.at).finish_non_exhaustive()
    }
}

impl ReadBuffer {
    /// Room for reads of up to `size` bytes (at least one). Allocates `size` plus a page.
    pub fn new(size: usize) -> ReadBuffer {
        let size = size.max(1);
        ReadBuffer { buf: vec![0; size + PAGE], size, at: 0 }
    }

    /// Reads of up to `size` bytes from now on (at least one), growing the buffer if needed:
    /// a buffer shared by the connections of a thread serves each with its own size.
    #[inline]
    pub fn set_size(&mut self, size: usize) {
        if size != self.size {
            self.resize(size);
        }
    }

    #[cold]
    fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        if self.buf.len() < self.size + PAGE {
            self.buf.resize(self.size + PAGE, 0);
        }
    }

    /// Reads once with `read` into the room and hands the bytes read (or why none were) to
    /// `then`; empty bytes are the end of the stream, as a read's `Ok(0)` is.
    #[inline]
    pub fn read<T>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
        then: impl FnOnce(io::Result<&[u8]>) -> T,
    ) -> T {
        let res = read(self.room());
        self.hand_over(res, then)
    }

    /// [`ReadBuffer::read`] for a read that may not be ready: nothing is handed over then.
    #[inline]
    pub fn poll_read<T>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
        then: impl FnOnce(io::Result<&[u8]>) -> T,
    ) -> Poll<T> {
        let res = ready!(read(self.room()));
        Poll::Ready(self.hand_over(res, then))
    }

    #[inline]
    fn room(&mut self) -> &mut [u8] {
        &mut self.buf[self.at..self.at + self.size]
    }

    #[inline]
    fn hand_over<T>(&mut self, res: io::Result<usize>, then: impl FnOnce(io::Result<&[u8]>) -> T) -> T {
        let at = self.at;
        // A reader that reports more than it was given is wrong; its excess is not ours to read.
        let res = res.map(|n| n.min(self.size));
        if matches!(res, Ok(n) if n >= LARGE_READ) {
            self.at = (at + STEP) % PAGE;
        }
        then(res.map(|n| &self.buf[at..at + n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_of(rb: &mut ReadBuffer, bytes: &[u8]) -> Vec<u8> {
        rb.read(
            |room| {
                room[..bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            },
            |res| res.map(<[u8]>::to_vec),
        )
        .unwrap_or_default()
    }

    #[test]
    fn hands_over_exactly_the_bytes_read() {
        let mut rb = ReadBuffer::new(8 << 10);
        assert_eq!(read_of(&mut rb, b"hello"), b"hello");
        let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        assert_eq!(read_of(&mut rb, &big), big);
        assert_eq!(read_of(&mut rb, b"after"), b"after");
        let eof = rb.read(|_| Ok(0), |res| res.map(<[u8]>::len));
        assert_eq!(eof.ok(), Some(0));
        let failed = rb.read(|_| Err(io::ErrorKind::WouldBlock.into()), |res| res.map(<[u8]>::len));
        assert_eq!(failed.map_err(|e| e.kind()), Err(io::ErrorKind::WouldBlock));
    }

    #[test]
    fn only_large_reads_move_the_start_and_it_stays_within_a_page() {
        let mut rb = ReadBuffer::new(8 << 10);
        let start = |rb: &mut ReadBuffer| rb.room().as_ptr() as usize;
        let first = start(&mut rb);
        read_of(&mut rb, &[1; 100]);
        assert_eq!(start(&mut rb), first, "a small read keeps the start");
        for i in 1..=PAGE / STEP {
            read_of(&mut rb, &vec![2; LARGE_READ]);
            assert_eq!(start(&mut rb), first + (i * STEP) % PAGE, "read {i}");
        }
        assert_eq!(rb.room().len(), 8 << 10, "the room is whole at every start");
    }

    #[test]
    fn a_shared_buffer_serves_each_size_and_a_pending_read_hands_nothing_over() {
        let mut rb = ReadBuffer::new(16);
        assert_eq!(format!("{rb:?}"), "ReadBuffer { size: 16, at: 0, .. }");
        rb.set_size(64 << 10);
        assert_eq!(rb.room().len(), 64 << 10);
        rb.set_size(0);
        assert_eq!(rb.room().len(), 1);
        let mut called = false;
        let polled = rb.poll_read(|_| Poll::Pending, |_| called = true);
        assert!(polled.is_pending() && !called);
        let n = rb.read(|room| Ok(room.len() + 10), |res| res.map(<[u8]>::len));
        assert_eq!(n.ok(), Some(1), "a reader's excess count is clamped to the room");
    }
}
