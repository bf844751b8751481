//! Chunk accounting: exact per-direction counts, and boundary events each time the received
//! payload total crosses a multiple of the chunk size (the seed server's 4 MiB acks).

/// Counts for one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Message payload bytes (text and binary) as the application sees them: unmasked and,
    /// with permessage-deflate, uncompressed. The chunk accounting counts these.
    pub payload_bytes: u64,
    /// Payload bytes of data frames as they crossed the wire: compressed, with
    /// permessage-deflate (equal to `payload_bytes` otherwise).
    pub wire_bytes: u64,
    /// Completed data messages.
    pub messages: u64,
    /// Data frames (text, binary, continuation).
    pub data_frames: u64,
    /// Control frames (close, ping, pong).
    pub control_frames: u64,
}

/// Counts for both directions of a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// What we queued for sending.
    pub sent: Counters,
    /// What we received and validated.
    pub received: Counters,
}

/// Tracks which chunk boundaries have been reported.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunking {
    size: Option<u64>,
    reported: u64,
}

impl Chunking {
    pub(crate) fn new(size: Option<u64>) -> Self {
        Chunking { size: size.filter(|&s| s > 0), reported: 0 }
    }

    /// Bytes that can be taken, starting at `total`, before reaching the next boundary.
    pub(crate) fn until_next(&self, total: u64) -> u64 {
        self.size.map_or(u64::MAX, |s| s - total % s)
    }

    /// True when `total` has crossed a boundary that was not reported yet.
    pub(crate) fn is_pending(&self, total: u64) -> bool {
        self.size.is_some_and(|s| total / s > self.reported)
    }

    /// The next unreported boundary at or below `total`: its index (1-based) and position.
    pub(crate) fn next_due(&mut self, total: u64) -> Option<(u64, u64)> {
        let s = self.size?;
        if total / s > self.reported {
            self.reported += 1;
            Some((self.reported, self.reported * s))
        } else {
            None
        }
    }

    /// Payload received since the last boundary: what a final tally reports.
    pub(crate) fn remainder(&self, total: u64) -> u64 {
        self.size.map_or(total, |s| total % s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_in_order_and_remainder() {
        let mut c = Chunking::new(Some(4));
        assert_eq!(c.until_next(0), 4);
        assert_eq!(c.until_next(3), 1);
        assert!(!c.is_pending(3));
        assert!(c.is_pending(9));
        assert_eq!(c.next_due(9), Some((1, 4)));
        assert_eq!(c.next_due(9), Some((2, 8)));
        assert_eq!(c.next_due(9), None);
        assert_eq!(c.remainder(9), 1);
        let mut none = Chunking::new(Some(0));
        assert_eq!((none.next_due(100), none.remainder(7), none.until_next(5)), (None, 7, u64::MAX));
    }
}
