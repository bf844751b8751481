//! A client masks each large frame into a buffer it reuses (RFC 6455 §5.3: every client frame
//! is masked). The reuse must never touch a frame the transport still holds, and a frame
//! produced into reused memory must be exactly the frame a fresh buffer would have held.

use std::time::Instant;

use bytes::Bytes;
use wsduplex_core::{Config, Connection, SeededKeys, Transmit};

const SIZE: usize = 128 << 10;

/// The payload of a masked binary frame with a 64-bit length, unmasked the plain way (not with
/// the core's code).
fn unmask(frame: &[u8]) -> Vec<u8> {
    assert_eq!(frame[0], 0x82, "FIN + binary");
    assert_eq!(frame[1], 0x80 | 127, "masked, 64-bit length");
    let len = u64::from_be_bytes(frame[2..10].try_into().unwrap_or_default()) as usize;
    let key = &frame[10..14];
    assert_eq!(frame.len(), 14 + len, "one whole frame");
    frame[14..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect()
}

fn message(n: u8) -> Bytes {
    (0..SIZE).map(|i| (i as u8).wrapping_mul(31) ^ n).collect::<Vec<u8>>().into()
}

fn next_frame(c: &mut Connection) -> Bytes {
    match c.poll_transmit() {
        Some(Transmit::Bytes(b)) => b,
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn a_frame_still_held_is_never_overwritten_and_a_written_one_is_reused() {
    let now = Instant::now();
    let mut c = Connection::client_established(Config::default(), SeededKeys::new(9), now);
    for n in 0..4 {
        assert!(c.send_binary(message(n)).is_ok());
    }

    // Frames 0 and 1 both held, as by a transport that queued them for one vectored write.
    let f0 = next_frame(&mut c);
    let f0_copy = f0.to_vec();
    let f1 = next_frame(&mut c);
    assert_eq!(&f0[..], &f0_copy[..], "producing frame 1 left frame 0 alone");
    assert_eq!(unmask(&f0), message(0));
    assert_eq!(unmask(&f1), message(1));

    // Both written and dropped: frame 2 lands in memory used before, and is still right.
    let f1_at = f1.as_ptr() as usize;
    drop((f0, f1));
    let f2 = next_frame(&mut c);
    assert_eq!(f2.as_ptr() as usize, f1_at, "the masking buffer is reused once its frames are gone");
    assert_eq!(unmask(&f2), message(2));

    // Frame 2 held again: frame 3 must not be built over it.
    let f2_copy = f2.to_vec();
    let f3 = next_frame(&mut c);
    assert_ne!(f3.as_ptr(), f2.as_ptr());
    assert_eq!(&f2[..], &f2_copy[..]);
    assert_eq!(unmask(&f3), message(3));
    assert!(c.poll_transmit().is_none());
}

#[test]
fn every_frame_size_and_key_masks_like_the_plain_way() {
    let now = Instant::now();
    let mut c = Connection::client_established(Config::default(), SeededKeys::new(3), now);
    // Sizes around the 64-byte blocks and the inline limit; each frame dropped before the next
    // so all share the reused buffer: growing (the buffer is extended), then shrinking (a frame
    // written over the start of a larger one's memory must end where it ends).
    let sizes = [4097usize, 4160, 4161, 4163, 65_535, 65_536, 65_600, SIZE, 300_000];
    for len in sizes.into_iter().chain(sizes.into_iter().rev()) {
        let data: Bytes = (0..len).map(|i| (i * 7 + len) as u8).collect::<Vec<u8>>().into();
        assert!(c.send_binary(data.clone()).is_ok());
        let f = next_frame(&mut c);
        let (len_at, key_at) = if len <= 0xFFFF { (2, 4) } else { (2, 10) };
        assert_eq!(f[0], 0x82);
        let got_len = if key_at == 4 {
            u16::from_be_bytes([f[len_at], f[len_at + 1]]) as usize
        } else {
            u64::from_be_bytes(f[len_at..len_at + 8].try_into().unwrap_or_default()) as usize
        };
        assert_eq!(got_len, len);
        let key = &f[key_at..key_at + 4];
        let plain: Vec<u8> = f[key_at + 4..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
        assert_eq!(plain, &data[..], "len {len}");
    }
}
