//! Framing (RFC 6455 §5.2): header parse and format, opcodes, masking.
//!
//! Header parsing and formatting are our own: the checks that depend on the connection (role,
//! limits, fragmentation) are in `connection`. Both are checked against tungstenite, an
//! independent implementation, in the unit tests below, `tests/differential.rs` and the
//! `differential` fuzz target.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::PeerError;

/// Frame opcodes defined by RFC 6455 §5.2 (others are rejected with 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: first frame of a text message.
    Text,
    /// 0x2: first frame of a binary message.
    Binary,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong) have the high opcode bit set (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

/// The first header byte's RSV1 bit: "Per-Message Compressed" under permessage-deflate
/// (RFC 7692 §6).
pub(crate) const RSV1: u8 = 0x40;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) rsv: u8,
    pub(crate) opcode: OpCode,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) len: u64,
}

/// Violations visible in the first two bytes of a header (RFC 6455 §5.2, §5.1, §5.5): reported
/// as soon as those bytes arrive, not when the rest of the header does. A peer that sends
/// `FF FF` must not keep us waiting for eight length bytes it will never send. `compressed`:
/// permessage-deflate was negotiated, so RSV1 may mark a message's first frame (RFC 7692 §6).
pub(crate) fn early_violation(buf: &[u8], expect_masked: bool, compressed: bool) -> Option<PeerError> {
    let &b0 = buf.first()?;
    let op = b0 & 0x0F;
    let rsv = (b0 >> 4) & 0x7;
    if rsv & !allowed_rsv(op, compressed) != 0 {
        return Some(PeerError::ReservedBits(rsv));
    }
    if !matches!(op, 0x0 | 0x1 | 0x2 | 0x8 | 0x9 | 0xA) {
        return Some(PeerError::UnknownOpcode(op));
    }
    let control = op & 0x8 != 0;
    if control && b0 & 0x80 == 0 {
        return Some(PeerError::FragmentedControl);
    }
    let &b1 = buf.get(1)?;
    match (expect_masked, b1 & 0x80 != 0) {
        (true, false) => return Some(PeerError::UnmaskedFrame),
        (false, true) => return Some(PeerError::MaskedFrame),
        _ => {}
    }
    None
}

/// The RSV bits a frame with opcode `op` may carry: RSV1 on a text or binary frame (the first
/// of a message) under permessage-deflate, never on a continuation or a control frame
/// (RFC 7692 §6); nothing else without an extension (RFC 6455 §5.2).
pub(crate) fn allowed_rsv(op: u8, compressed: bool) -> u8 {
    if compressed && matches!(op, 0x1 | 0x2) { (RSV1 >> 4) & 0x7 } else { 0 }
}

/// Parses one header from the front of `buf` (RFC 6455 §5.2). `Ok(None)`: not enough bytes
/// yet. On success, also returns the header's length on the wire.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, PeerError> {
    let [b0, b1, rest @ ..] = buf else { return Ok(None) };
    let opcode = match b0 & 0x0F {
        0x0 => OpCode::Continuation,
        0x1 => OpCode::Text,
        0x2 => OpCode::Binary,
        0x8 => OpCode::Close,
        0x9 => OpCode::Ping,
        0xA => OpCode::Pong,
        other => return Err(PeerError::UnknownOpcode(other)),
    };
    // §5.2 "Payload length": 7 bits, or 126 then 16 bits, or 127 then 64 bits.
    let (len, len_bytes) = match b1 & 0x7F {
        126 => match rest {
            [a, b, ..] => (u16::from_be_bytes([*a, *b]) as u64, 2),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(l) => (u64::from_be_bytes(*l), 8),
            None => return Ok(None),
        },
        short => (short as u64, 0),
    };
    // "the most significant bit MUST be 0"
    if len >> 63 != 0 {
        return Err(PeerError::InvalidLength);
    }
    let mask = if b1 & 0x80 != 0 {
        match rest[len_bytes..].first_chunk::<4>() {
            Some(k) => Some(*k),
            None => return Ok(None),
        }
    } else {
        None
    };
    let size = 2 + len_bytes + if mask.is_some() { 4 } else { 0 };
    let header = Header { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x7, opcode, mask, len };
    Ok(Some((header, size)))
}

/// Appends a header for a frame with `len` payload bytes (RFC 6455 §5.2: the minimal length
/// encoding).
pub(crate) fn put_header(out: &mut impl BufMut, fin: bool, op: OpCode, mask: Option<[u8; 4]>, len: u64) {
    out.put_u8(if fin { 0x80 } else { 0 } | op.bits());
    let m = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.put_u8(m | len as u8);
    } else if len <= u16::MAX as u64 {
        out.put_u8(m | 126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(m | 127);
        out.put_u64(len);
    }
    if let Some(key) = mask {
        out.put_slice(&key);
    }
}

/// XORs `buf` with `key` (RFC 6455 §5.3), where `buf[0]` is payload byte number `offset`.
/// Word-wide; the compiler vectorises the loop.
pub(crate) fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let r = offset & 3;
    let k = [key[r], key[(r + 1) & 3], key[(r + 2) & 3], key[(r + 3) & 3]];
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        w.copy_from_slice(&(u64::from_ne_bytes(a) ^ wide).to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= k[i & 3];
    }
}

/// Writes `src` masked with `key` into `out` (same length), where `src[0]` is payload byte
/// number `offset`: the copy and the XOR in one pass, which the compiler vectorises.
pub(crate) fn mask_into(out: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    let r = offset & 3;
    let k = [key[r], key[(r + 1) & 3], key[(r + 2) & 3], key[(r + 3) & 3]];
    // 64-byte blocks against a 64-byte key pattern: plain array code the compiler turns into
    // full-width vector XORs (u64 words were not widened, and ran at half the speed).
    let pattern: [u8; 64] = std::array::from_fn(|j| k[j & 3]);
    let mut outs = out.chunks_exact_mut(64);
    let mut ins = src.chunks_exact(64);
    for (o, i) in (&mut outs).zip(&mut ins) {
        if let (Ok(o), Ok(i)) = (<&mut [u8; 64]>::try_from(o), <&[u8; 64]>::try_from(i)) {
            for j in 0..64 {
                o[j] = i[j] ^ pattern[j];
            }
        }
    }
    for (n, (o, i)) in outs.into_remainder().iter_mut().zip(ins.remainder()).enumerate() {
        *o = i ^ k[n & 3];
    }
}

/// Appends `src` masked with `key` (from payload offset 0) to `dst`, in one pass: each 64-byte
/// block is masked in registers and appended, so the destination is written once (no zero-fill
/// first). Only for memory that has not held a frame before: the length update after every
/// block makes this 1.25x slower than [`mask_into`] over a slice, which is how
/// [`MaskedFrames`] writes over memory that has.
pub(crate) fn extend_masked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4]) {
    let pattern: [u8; 64] = std::array::from_fn(|j| key[j & 3]);
    dst.reserve(src.len());
    let mut blocks = src.chunks_exact(64);
    for block in &mut blocks {
        if let Ok(block) = <&[u8; 64]>::try_from(block) {
            let masked: [u8; 64] = std::array::from_fn(|j| block[j] ^ pattern[j]);
            dst.extend_from_slice(&masked);
        }
    }
    // Blocks are whole multiples of 4 bytes: the tail starts at key byte 0.
    dst.extend(blocks.remainder().iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
}

/// Where a client masks its large frames (RFC 6455 §5.3: the masking copy is needed anyway, so
/// header and payload leave as one buffer). One buffer, written over once every frame handed
/// out from it has been dropped (the transport wrote it): a stream of large messages masks
/// each one into the same memory, still in cache, with no allocation and no zero-fill. A frame
/// still held keeps its buffer alive and is never written over; the next frame gets a new one.
#[derive(Debug, Default)]
pub(crate) struct MaskedFrames {
    /// Every byte of it initialised (its length), so that it can be written over as a slice.
    buf: Arc<Vec<u8>>,
}

/// A frame handed out: the buffer it lies in, kept alive, and its length.
struct Held {
    buf: Arc<Vec<u8>>,
    len: usize,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A copy starts with no memory of its own: the buffer is reused only while no frame cut from
/// it is alive, and sharing it between two connections would make that false for both.
impl Clone for MaskedFrames {
    fn clone(&self) -> Self {
        MaskedFrames::default()
    }
}

impl MaskedFrames {
    /// `head` (header and whatever was staged before it) followed by `data` masked with `key`.
    pub(crate) fn frame(&mut self, head: &[u8], data: &[u8], key: [u8; 4]) -> Bytes {
        match Arc::get_mut(&mut self.buf) {
            Some(buf) => Self::write(buf, head, data, key),
            None => {
                // `write` sizes it: the append path reserves the whole frame.
                let mut buf = Vec::new();
                Self::write(&mut buf, head, data, key);
                self.buf = Arc::new(buf);
            }
        }
        Bytes::from_owner(Held { buf: self.buf.clone(), len: head.len() + data.len() })
    }

    fn write(buf: &mut Vec<u8>, head: &[u8], data: &[u8], key: [u8; 4]) {
        let len = head.len() + data.len();
        if let Some(frame) = buf.get_mut(..len) {
            let (h, payload) = frame.split_at_mut(head.len());
            h.copy_from_slice(head);
            mask_into(payload, data, key, 0);
        } else {
            // Larger than any frame before (or a new buffer): appended, so nothing is written
            // twice; its memory can be written over from then on.
            buf.clear();
            buf.reserve(len);
            buf.extend_from_slice(head);
            extend_masked(buf, data, key);
        }
    }

    /// Lets go of the buffer (the connection is over).
    pub(crate) fn release(&mut self) {
        self.buf = Arc::default();
    }
}

/// Appends received payload to the receive buffer and unmasks it there while it is still in
/// cache (`src[0]` is payload byte number `offset`): a copy, then an XOR in place. `BytesMut`
/// can only write a slice it has initialised, so unmasking while copying ([`mask_into`]) needs
/// a zero-fill first; that was 13% slower on `cargo bench --bench core -- decode` (cold input,
/// 7.28 against 6.34 ms per 128 MiB) and no different on the seed stream's server (input just
/// read, so hot: 335-364 against 367-368 user-space samples per 20 runs, `perf record`).
/// Appending masked 64-byte blocks ([`extend_masked`]) was 2.8% slower still.
pub(crate) fn extend_unmasked(dst: &mut BytesMut, src: &[u8], key: [u8; 4], offset: u64) {
    let start = dst.len();
    dst.extend_from_slice(src);
    apply_mask(&mut dst[start..], key, (offset & 3) as usize);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) & 3];
        }
    }

    #[test]
    fn mask_matches_naive_at_every_offset_and_length() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let data: Vec<u8> = (0..67u8).collect();
        for len in 0..data.len() {
            for off in 0..8 {
                let mut a = data[..len].to_vec();
                let mut b = a.clone();
                apply_mask(&mut a, key, off);
                naive_mask(&mut b, key, off);
                assert_eq!(a, b, "len {len} offset {off}");
            }
        }
    }

    #[test]
    fn extend_masked_matches_naive() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let data: Vec<u8> = (0..67u8).collect();
        for len in 0..data.len() {
            let mut out = b"head".to_vec();
            extend_masked(&mut out, &data[..len], key);
            let mut expected = data[..len].to_vec();
            naive_mask(&mut expected, key, 0);
            assert_eq!(&out[..4], b"head");
            assert_eq!(&out[4..], &expected[..], "len {len}");
        }
    }

    #[test]
    fn unmasking_copy_matches_naive_at_every_offset() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let data: Vec<u8> = (0..67u8).collect();
        for len in 0..data.len() {
            for off in 0..8u64 {
                let mut out = BytesMut::from(&b"xy"[..]);
                extend_unmasked(&mut out, &data[..len], key, off);
                let mut expected = data[..len].to_vec();
                naive_mask(&mut expected, key, off as usize);
                assert_eq!(&out[..2], b"xy");
                assert_eq!(&out[2..], &expected[..], "len {len} offset {off}");
            }
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let key = [1, 2, 3, 4];
        let mut whole: Vec<u8> = (0..100u8).collect();
        let mut pieces = whole.clone();
        apply_mask(&mut whole, key, 0);
        let (a, b) = pieces.split_at_mut(37);
        apply_mask(a, key, 0);
        apply_mask(b, key, 37);
        assert_eq!(whole, pieces);
    }

    /// tungstenite's formatter and parser, an independent implementation, agree with ours.
    #[test]
    fn header_round_trip_and_tungstenite_agrees() {
        use std::io::Cursor;
        use tungstenite::protocol::frame::FrameHeader;
        use tungstenite::protocol::frame::coding::{Control, Data, OpCode as TOpCode};
        for &len in &[0u64, 1, 125, 126, 127, 65535, 65536, 1 << 40] {
            for &mask in &[None, Some([9, 8, 7, 6])] {
                for &(fin, op) in &[(true, OpCode::Text), (false, OpCode::Binary), (true, OpCode::Ping)] {
                    let mut ours = Vec::new();
                    put_header(&mut ours, fin, op, mask, len);
                    let theirs_hdr = FrameHeader {
                        is_final: fin,
                        opcode: match op {
                            OpCode::Text => TOpCode::Data(Data::Text),
                            OpCode::Binary => TOpCode::Data(Data::Binary),
                            _ => TOpCode::Control(Control::Ping),
                        },
                        mask,
                        ..FrameHeader::default()
                    };
                    let mut theirs = Vec::new();
                    theirs_hdr.format(len, &mut theirs).unwrap_or(());
                    assert_eq!(ours, theirs, "len {len}");
                    let (h, n) = parse_header(&ours).ok().flatten().unwrap_or_else(|| panic!("parse {len}"));
                    assert_eq!(n, ours.len());
                    assert_eq!(h, Header { fin, rsv: 0, opcode: op, mask, len });
                    for cut in 0..n {
                        assert_eq!(parse_header(&ours[..cut]), Ok(None), "len {len} cut {cut}");
                    }
                    let mut cursor = Cursor::new(&ours[..]);
                    let (t, tlen) = FrameHeader::parse(&mut cursor).ok().flatten().unwrap_or_else(|| panic!("{len}"));
                    assert_eq!((t.is_final, t.mask, tlen, cursor.position() as usize), (fin, mask, len, n));
                }
            }
        }
    }

    /// Every two-byte start and every length encoding: where tungstenite's parser accepts a
    /// header, ours reads the same fields and size; where it refuses one (reserved opcodes),
    /// ours does too.
    #[test]
    #[cfg_attr(miri, ignore = "65 536 headers: minutes under Miri, and no unsafe code runs here")]
    fn parse_header_agrees_with_tungstenite_on_every_first_two_bytes() {
        use std::io::Cursor;
        use tungstenite::protocol::frame::FrameHeader;
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                let mut buf = vec![b0, b1];
                buf.extend_from_slice(&[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xAA, 0xBB, 0xCC, 0xDD]);
                let mut cursor = Cursor::new(&buf[..]);
                let theirs = FrameHeader::parse(&mut cursor);
                let ours = parse_header(&buf);
                match (theirs, ours) {
                    (Ok(Some((t, tlen))), Ok(Some((h, n)))) => {
                        let rsv = (t.rsv1 as u8) << 2 | (t.rsv2 as u8) << 1 | t.rsv3 as u8;
                        assert_eq!((t.is_final, rsv, t.mask, tlen), (h.fin, h.rsv, h.mask, h.len), "{b0:x} {b1:x}");
                        assert_eq!(cursor.position() as usize, n, "{b0:x} {b1:x}");
                        assert_eq!(u8::from(t.opcode), h.opcode.bits());
                    }
                    (Err(_), Err(PeerError::UnknownOpcode(op))) => assert_eq!(op, b0 & 0x0F),
                    (t, o) => panic!("{b0:x} {b1:x}: tungstenite {t:?}, ours {o:?}"),
                }
            }
        }
    }

    #[test]
    fn rejects_reserved_opcodes_and_huge_lengths() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(parse_header(&[0x80 | op, 0]), Err(PeerError::UnknownOpcode(op)));
        }
        let mut h = vec![0x82, 127];
        h.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(parse_header(&h), Err(PeerError::InvalidLength));
        assert_eq!(parse_header(&[0xF2, 0]).map(|o| o.map(|(h, _)| h.rsv)), Ok(Some(7)));
    }
}
