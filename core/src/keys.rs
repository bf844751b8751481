//! Injected randomness. The core has none of its own: client mask keys (RFC 6455 §5.3) and the
//! handshake nonce (§4.1) come from a [`KeySource`] the caller supplies. Transports pass the
//! operating system's generator; tests pass [`SeededKeys`] so a run is fully deterministic.

/// A source of unpredictable bytes.
///
/// RFC 6455 §10.3 requires mask keys that the application cannot predict; production code
/// must use a cryptographic generator. Any `FnMut(&mut [u8])` is a `KeySource`.
pub trait KeySource {
    /// Fills `dest` with fresh bytes.
    fn fill(&mut self, dest: &mut [u8]);

    /// A copy that continues the same sequence, for sources that can be copied (deterministic
    /// ones). Lets [`crate::Connection::try_clone`] copy a client.
    fn try_clone(&self) -> Option<Box<dyn KeySource + Send>> {
        None
    }
}

impl<F: FnMut(&mut [u8])> KeySource for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}

/// A deterministic generator (SplitMix64) for tests, fuzzing and benchmarks.
/// Predictable by design: never use it on a real network.
#[derive(Debug, Clone)]
pub struct SeededKeys(u64);

impl SeededKeys {
    /// A generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededKeys(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl KeySource for SeededKeys {
    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn try_clone(&self) -> Option<Box<dyn KeySource + Send>> {
        Some(Box::new(self.clone()))
    }
}

/// Mask keys and handshake nonces from the operating system's generator, the source
/// transports use (RFC 6455 §10.3 wants keys the application cannot predict). Fetched 256 bytes
/// at a time. The core itself never draws randomness: this is injected like any other source.
#[cfg(feature = "os-keys")]
#[derive(Debug)]
pub struct OsKeys {
    pool: [u8; 256],
    used: usize,
}

#[cfg(feature = "os-keys")]
impl Default for OsKeys {
    fn default() -> Self {
        OsKeys { pool: [0; 256], used: 256 }
    }
}

#[cfg(feature = "os-keys")]
impl KeySource for OsKeys {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            if self.used == self.pool.len() {
                if getrandom::fill(&mut self.pool).is_err() {
                    // No OS generator (practically impossible on supported systems): rather
                    // than fail the connection, continue the last pool through SplitMix.
                    let mut seed = [0u8; 8];
                    seed.copy_from_slice(&self.pool[..8]);
                    SeededKeys::new(u64::from_le_bytes(seed) ^ 0x5EED).fill(&mut self.pool);
                }
                self.used = 0;
            }
            *b = self.pool[self.used];
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_keys_are_deterministic_and_seed_dependent() {
        let (mut a, mut b, mut c) = (SeededKeys::new(7), SeededKeys::new(7), SeededKeys::new(8));
        let (mut x, mut y, mut z) = ([0u8; 13], [0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x, [0u8; 13]);
    }

    #[test]
    fn closures_are_key_sources() {
        let mut n = 0u8;
        let mut src = |d: &mut [u8]| {
            for b in d {
                n += 1;
                *b = n;
            }
        };
        let mut k = [0u8; 4];
        src.fill(&mut k);
        assert_eq!(k, [1, 2, 3, 4]);
    }
}
