//! Incremental UTF-8 validation (RFC 6455 §5.6, §8.1): text arrives in arbitrary pieces and
//! must fail at the first byte that can no longer start or continue a valid sequence, not at
//! the end of the message (Autobahn 6.4.x checks exactly this).

/// Validates a byte stream fed in pieces. Holds at most 3 bytes of an unfinished code point.
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf8Validator {
    tail: [u8; 4],
    tail_len: u8,
}

/// Sequence width announced by a lead byte (0 for bytes that cannot lead).
fn width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// Validates the next piece. `Err` as soon as a byte is invalid, even if the piece ends in
    /// the middle of a code point (the std validator checks prefixes exactly). The error holds
    /// how many bytes of `data` completed valid code points before the invalid one (0 if the
    /// pending code point itself was invalid), so the valid prefix can still be delivered.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), usize> {
        let mut used = 0;
        let mut data = data;
        if self.tail_len > 0 {
            let have = self.tail_len as usize;
            let need = width(self.tail[0]) - have;
            let take = need.min(data.len());
            self.tail[have..have + take].copy_from_slice(&data[..take]);
            let len = have + take;
            data = &data[take..];
            match std::str::from_utf8(&self.tail[..len]) {
                Ok(_) => self.tail_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.tail_len = len as u8;
                    return Ok(());
                }
                Err(_) => return Err(0),
            }
            used = take;
        }
        // SIMD (simdutf8, the CPU's widest vectors found at run time): std's validator ran at
        // ~1.6 GB/s on text that is not all ASCII, where the rest of receiving runs at ~20
        // (`cargo bench --bench core -- decode/wsduplex/server-text`: 78 ms per 128 MiB, 6.4
        // for the same size in binary; with simdutf8 here and in `Text::from_utf8`, 17.7).
        match simdutf8::compat::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = &data[e.valid_up_to()..];
                self.tail[..rest.len()].copy_from_slice(rest);
                self.tail_len = rest.len() as u8;
                Ok(())
            }
            Err(e) => Err(used + e.valid_up_to()),
        }
    }

    /// Bytes of an unfinished code point at the end of what was fed.
    pub(crate) fn pending(&self) -> usize {
        self.tail_len as usize
    }

    /// Bytes still needed to finish the pending code point (0 if none is pending).
    pub(crate) fn needed(&self) -> usize {
        if self.tail_len == 0 { 0 } else { width(self.tail[0]) - self.tail_len as usize }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(data: &[u8], at: &[usize]) -> Result<usize, usize> {
        let mut v = Utf8Validator::default();
        let mut start = 0;
        for &cut in at.iter().chain(std::iter::once(&data.len())) {
            v.feed(&data[start..cut])?;
            start = cut;
        }
        Ok(v.pending())
    }

    #[test]
    fn valid_text_in_every_two_way_split() {
        let s = "κόσμε € 𝄞 ascii".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                assert_eq!(feed_split(s, &[i, j]), Ok(0), "split {i},{j}");
            }
        }
    }

    #[test]
    fn fails_fast_inside_a_code_point() {
        // Autobahn 6.4.1: 0xF4 0x90 is already invalid (> U+10FFFF), before the rest arrives.
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xce\xba\xe1\xbd\xb9").is_ok());
        assert!(v.feed(b"\xf4").is_ok());
        assert_eq!(v.needed(), 3);
        assert_eq!(v.feed(b"\x90"), Err(0));
        // The valid prefix of a failing piece is reported: "é" completes, "a" follows.
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xc3").is_ok());
        assert_eq!(v.feed(b"\xa9a\xff"), Err(2));
        // Surrogates and overlongs fail at their second byte.
        assert!(Utf8Validator::default().feed(b"\xed\xa0").is_err());
        assert!(Utf8Validator::default().feed(b"\xe0\x80").is_err());
        assert!(Utf8Validator::default().feed(b"\xc0").is_err());
    }

    #[test]
    fn reports_pending_tail() {
        assert_eq!(feed_split("€".as_bytes(), &[1]), Ok(0));
        let mut v = Utf8Validator::default();
        v.feed(&"€".as_bytes()[..2]).unwrap_or(());
        assert_eq!((v.pending(), v.needed()), (2, 1));
    }
}
