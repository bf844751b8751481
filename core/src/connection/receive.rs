//! Receiving: bytes from the transport become frames (RFC 6455 §5.2), checked against the
//! rules that need the connection's context (§5.1–§5.5), and then events — whole messages or
//! streaming chunks, pings, pongs, chunk boundaries, and the peer's Close.

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::{Connection, Event, Role};
use crate::PeerError;
use crate::close::CloseFrame;
use crate::config::Delivery;
use crate::frame::{self, Header, OpCode};
use crate::message::{Chunk, DataKind, Message, Text};
use crate::state::{Phase, Trigger};
use crate::timer::Deadline;
use crate::utf8::Utf8Validator;

/// Most receive buffer space reserved ahead for a frame announced but not yet received.
const RESERVE_AHEAD: u64 = 4 << 20;

/// Streaming delivery of a compressed message: inflated bytes handed out as chunks before
/// inflating stops until the application has drained them. A small frame can inflate a
/// thousandfold; this keeps what waits in the event queue bounded whatever the ratio.
const INFLATE_AHEAD: u64 = 256 << 10;

/// Most output asked of the inflater at once: a streaming chunk's largest size.
const INFLATE_STEP: usize = 64 << 10;

/// A receive buffer that took at most this many bytes since it was last empty is kept
/// between reads, and a message it holds whole is split off it rather than taking it: once
/// the application has dropped the message, the next read reuses the same allocation
/// instead of allocating one per message (a small echo's only allocation and free). Small
/// enough that an idle connection keeps little: the buffer can have grown to about twice
/// this.
const KEEP_BUF: usize = 128;

/// The receiving direction's state.
#[derive(Debug, Clone, Default)]
pub(super) struct Receiving {
    /// Input not yet handed out: the handshake head, or frames.
    buf: BytesMut,
    /// Bytes appended to `buf` since it was last empty (`KEEP_BUF`).
    filled: usize,
    rx: Rx,
    /// Bytes after the `ready` ones in `buf` that were unmasked as they were appended (the
    /// current data frame's payload); `data_step` unmasks only what follows them.
    premasked: usize,
    incoming: Option<Incoming>,
    /// The start of a code point split across frames, in streaming delivery.
    carry: BytesMut,
    /// Payload handed out in streaming delivery (where boundaries are reported).
    delivered: u64,
    /// The transport's input ended.
    pub(super) eof: bool,
    /// Inflated bytes queued as chunks since the event queue was last empty.
    undrained: u64,
    /// Inflation stopped at `INFLATE_AHEAD`: resumed once the events are drained.
    paused: bool,
}

impl Receiving {
    /// Drops what was received and not handed out: after a failure or `Closed`, input is
    /// discarded, and an idle connection keeps no receive memory.
    pub(super) fn discard(&mut self) {
        self.buf = BytesMut::new();
        self.filled = 0;
        self.premasked = 0;
        self.incoming = None;
        self.carry = BytesMut::new();
        self.paused = false;
    }

    pub(super) fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// `n` bytes of the handshake head were parsed; what follows is frames.
    pub(super) fn advance(&mut self, n: usize) {
        self.buf.advance(n);
    }
}

/// Receive position: between frames, or inside the payload of `h` where `consumed` payload
/// bytes have left the buffer and the next `ready` bytes in it are unmasked and validated.
#[derive(Debug, Clone, Copy, Default)]
enum Rx {
    #[default]
    Header,
    Payload {
        h: Header,
        consumed: u64,
        ready: usize,
    },
}

/// The data message being received.
#[derive(Debug, Clone)]
struct Incoming {
    kind: DataKind,
    /// Delivered in chunks (the delivery mode when the message began).
    streaming: bool,
    claimed: u64,
    assembly: BytesMut,
    utf8: Utf8Validator,
    /// Compressed (RSV1 on its first frame, RFC 7692 §6): its payload goes through the
    /// inflater, and the limits and the accounting apply to what comes out.
    inflating: Option<Inflating>,
}

/// A compressed message's progress through the inflater.
#[derive(Debug, Clone, Default)]
struct Inflating {
    /// Bytes inflated so far (bounded by `max_message_size`).
    total: u64,
    /// The whole message, in whole-message delivery.
    whole: Vec<u8>,
    /// The message's last frame is in: the restored trailer (§7.2.2) is being inflated.
    trailer_started: bool,
    /// Bytes of the trailer not yet taken by the inflater.
    trailer_left: usize,
    /// The last call filled all the room it had: more output may be waiting.
    full: bool,
}

impl Connection {
    /// Bytes read from the transport. Bytes after a failure or after `Closed` are discarded.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.take_input(now, data);
        self.settle_input();
    }

    /// Room for `n` more input bytes, taken at once: a read that reaches the connection in
    /// several pieces (TLS hands over one per record) fills one buffer, as a plain read does,
    /// instead of allocating one per piece.
    pub(crate) fn reserve_input(&mut self, n: usize) {
        self.recv.buf.reserve(n);
    }

    /// [`Self::handle_input`] without giving the buffer back: more pieces of the same read
    /// follow; [`Self::settle_input`] ends the read.
    pub(crate) fn take_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        self.reserve_whole_frame(data);
        let mut data = data;
        // Input is taken a piece at a time so that every large masked payload is unmasked as
        // it is appended, while still in cache: up to the end of the current payload, then up to
        // the end of the next large frame's header. Processing in pieces is the same as reading
        // in pieces, which the machine's events never depend on (tests/properties.rs).
        while !data.is_empty() {
            if self.is_closed() || self.recv.eof || self.pending_failure.is_some() {
                return;
            }
            let n = match self.unmask_room(data.len()) {
                Some((n, key, offset)) => {
                    frame::extend_unmasked(&mut self.recv.buf, &data[..n], key, offset);
                    self.recv.premasked += n;
                    n
                }
                None => {
                    let n = self.header_room(data);
                    self.recv.buf.extend_from_slice(&data[..n]);
                    n
                }
            };
            data = &data[n..];
            self.recv.filled += n;
            self.process(now);
        }
    }

    /// A frame that arrives whole in one read, into an empty buffer, is given its allocation
    /// at once: taken the usual way, its header alone would be allocated first and the
    /// payload's reserve (`begin_data_frame`) would reallocate and copy, a malloc, a realloc
    /// and a free per medium message (a 1 KiB echo's largest cost after the system calls).
    /// Frames small enough for the kept buffer (`KEEP_BUF`) need nothing; a frame only partly
    /// here keeps the usual growth, which copies no more than its header.
    fn reserve_whole_frame(&mut self, data: &[u8]) {
        if data.len() <= KEEP_BUF
            || !self.recv.buf.is_empty()
            || self.phase == Phase::Connecting
            || !matches!(self.recv.rx, Rx::Header)
        {
            return;
        }
        if let Ok(Some((h, head))) = frame::parse_header(data) {
            let whole = head as u64 + h.len;
            if whole > KEEP_BUF as u64 && whole <= data.len() as u64 {
                self.recv.buf.reserve(whole as usize);
            }
        }
    }

    /// The end of a read's input.
    pub(crate) fn settle_input(&mut self) {
        if self.recv.buf.is_empty() {
            // Give the buffer back between reads that end on a frame boundary, unless it is
            // small (`KEEP_BUF`): an idle connection keeps little receive memory (payloads
            // handed out keep theirs alive).
            if self.recv.filled > KEEP_BUF {
                self.recv.buf = BytesMut::new();
            }
            self.recv.filled = 0;
        }
    }

    /// Inside a masked data payload with nothing unprocessed buffered before the next byte:
    /// how many of the next `available` bytes belong to it, its key, and the payload offset of
    /// the first (`buf[i]` is payload byte `consumed + i` of the frame).
    fn unmask_room(&self, available: usize) -> Option<(usize, [u8; 4], u64)> {
        let Rx::Payload { h, consumed, ready } = self.recv.rx else { return None };
        let key = h.mask.filter(|_| !h.opcode.is_control())?;
        if self.recv.buf.len() != ready + self.recv.premasked {
            return None;
        }
        let offset = consumed + self.recv.buf.len() as u64;
        let n = (h.len - offset).min(available as u64) as usize;
        (n > 0).then_some((n, key, offset))
    }

    /// How much of `data` to append as it is: everything, except that a header announcing a
    /// large payload (16-bit or 64-bit length) is taken only up to its end, so that the payload
    /// after it is unmasked on the way in. Always at least one byte.
    fn header_room(&self, data: &[u8]) -> usize {
        if self.phase == Phase::Connecting || !matches!(self.recv.rx, Rx::Header) {
            return data.len();
        }
        let have = self.recv.buf.len();
        let second = if have >= 2 { self.recv.buf[1] } else { data.get(1 - have).copied().unwrap_or(0) };
        if have + data.len() < 2 || second & 0x7F < 126 {
            return data.len();
        }
        let len_bytes = if second & 0x7F == 126 { 2 } else { 8 };
        let mask_bytes = if second & 0x80 != 0 { 4 } else { 0 };
        let header = 2 + len_bytes + mask_bytes;
        if header <= have { data.len() } else { (header - have).min(data.len()) }
    }

    /// Everything buffered that can be processed now.
    pub(super) fn process(&mut self, now: Instant) {
        if self.phase == Phase::Connecting {
            if let Err(e) = self.advance_handshake(now) {
                self.fail(now, e);
            }
            if self.phase == Phase::Connecting {
                return;
            }
        }
        if let Err(e) = self.process_frames(now) {
            self.fail(now, e);
        }
    }

    fn process_frames(&mut self, now: Instant) -> Result<(), PeerError> {
        while !self.is_closed() {
            if self.received_close.is_some() {
                // RFC 6455 §5.5.1: the peer may send nothing after its Close. Whatever it sends
                // anyway is discarded, never delivered; our reply (and final messages) still go
                // out. Autobahn 7.1.2-7.1.5 expect exactly this: a normal echo of the Close.
                self.recv.buf.clear();
                self.recv.premasked = 0;
                return Ok(());
            }
            match self.recv.rx {
                Rx::Header => {
                    let compressed = self.deflate.is_some();
                    if let Some(e) = frame::early_violation(&self.recv.buf, self.role == Role::Server, compressed) {
                        return Err(e);
                    }
                    let Some((h, n)) = frame::parse_header(&self.recv.buf)? else {
                        return Ok(());
                    };
                    self.check_header(&h)?;
                    self.recv.buf.advance(n);
                    if h.opcode.is_control() {
                        self.stats.received.control_frames += 1;
                    } else if self.is_whole_message(&h) {
                        self.whole_message(&h)?;
                        continue;
                    } else {
                        self.begin_data_frame(&h);
                    }
                    self.recv.rx = Rx::Payload { h, consumed: 0, ready: 0 };
                }
                Rx::Payload { h, .. } if h.opcode.is_control() => {
                    let len = h.len as usize;
                    if self.recv.buf.len() < len {
                        return Ok(());
                    }
                    let mut payload = self.recv.buf.split_to(len);
                    if let Some(key) = h.mask {
                        frame::apply_mask(&mut payload, key, 0);
                    }
                    self.recv.rx = Rx::Header;
                    self.on_control(now, h.opcode, payload.freeze())?;
                }
                Rx::Payload { h, consumed, ready } => {
                    let inflating = self.recv.incoming.as_ref().is_some_and(|i| i.inflating.is_some());
                    let done = if inflating {
                        self.inflate_step(h, consumed, ready)?
                    } else {
                        self.data_step(h, consumed, ready)?
                    };
                    if !done {
                        return Ok(());
                    }
                }
            }
        }
        self.recv.buf.clear();
        self.recv.premasked = 0;
        Ok(())
    }

    /// A single-frame message (FIN, not a continuation, not compressed) entirely in the
    /// buffer, in whole-message delivery: most small messages. It becomes its event at once,
    /// without the per-frame bookkeeping `data_step` keeps for messages that arrive in pieces.
    fn is_whole_message(&self, h: &Header) -> bool {
        h.fin
            && h.rsv == 0
            && h.opcode != OpCode::Continuation
            && self.config.delivery == Delivery::Messages
            && self.recv.premasked == 0
            && self.recv.buf.len() as u64 >= h.len
            // Text is validated whole here, and piece by piece between boundaries there: a
            // boundary before an invalid byte is reported there. None may fall in (or at the
            // end of: a truncated code point fails after it) a text frame taken whole.
            && (h.opcode == OpCode::Binary || self.chunking.until_next(self.stats.received.payload_bytes) > h.len)
    }

    /// Delivers the message [`Self::is_whole_message`] found: what `data_step` does for it in
    /// one step, with the same events in the same order (boundaries crossed, then the
    /// message), the same counts and the same errors (tests/properties.rs).
    fn whole_message(&mut self, h: &Header) -> Result<(), PeerError> {
        let len = h.len as usize;
        if let Some(key) = h.mask {
            frame::apply_mask(&mut self.recv.buf[..len], key, 0);
        }
        let payload = if len == self.recv.buf.len() && self.recv.filled > KEEP_BUF {
            // As in `data_step`: the buffer itself becomes the message.
            std::mem::take(&mut self.recv.buf)
        } else {
            self.recv.buf.split_to(len)
        }
        .freeze();
        let kind = if h.opcode == OpCode::Text { DataKind::Text } else { DataKind::Binary };
        // Checked before anything is counted, as `data_step` checks a piece before counting it.
        let message = message_of(kind, payload)?;
        let received = &mut self.stats.received;
        received.data_frames += 1;
        received.payload_bytes += h.len;
        received.wire_bytes += h.len;
        received.messages += 1;
        let total = received.payload_bytes;
        self.report_boundaries(total);
        self.events.push_back(Event::Message(message));
        Ok(())
    }

    fn begin_data_frame(&mut self, h: &Header) {
        self.stats.received.data_frames += 1;
        let kind = match h.opcode {
            OpCode::Text => Some(DataKind::Text),
            OpCode::Binary => Some(DataKind::Binary),
            _ => None,
        };
        if let Some(kind) = kind {
            self.recv.incoming = Some(Incoming {
                kind,
                streaming: self.config.delivery == Delivery::Chunks,
                claimed: 0,
                assembly: BytesMut::new(),
                utf8: Utf8Validator::default(),
                inflating: (h.rsv << 4 & frame::RSV1 != 0).then(Inflating::default),
            });
        }
        if let Some(inc) = &mut self.recv.incoming {
            inc.claimed = inc.claimed.saturating_add(h.len);
            if !inc.streaming && inc.inflating.is_none() {
                // The payload stays here until the frame ends: room for it now (within a
                // bound) rather than copying as the buffer doubles. `reserve` counts from what
                // is buffered, which may hold the payload already: asking for all of it again
                // made every small frame grow its buffer once more.
                let wanted = h.len.min(RESERVE_AHEAD) as usize;
                self.recv.buf.reserve(wanted.saturating_sub(self.recv.buf.len()));
            }
        }
    }

    /// RFC 6455 §5.1–§5.5 checks that need the connection's context.
    fn check_header(&self, h: &Header) -> Result<(), PeerError> {
        if h.rsv & !frame::allowed_rsv(h.opcode.bits(), self.deflate.is_some()) != 0 {
            return Err(PeerError::ReservedBits(h.rsv));
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(PeerError::FragmentedControl);
            }
            if h.len > 125 {
                return Err(PeerError::ControlTooLong(h.len));
            }
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(PeerError::UnmaskedFrame),
            (Role::Client, true) => return Err(PeerError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            return Ok(());
        }
        match (h.opcode, &self.recv.incoming) {
            (OpCode::Continuation, None) => return Err(PeerError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => return Err(PeerError::ExpectedContinuation),
            _ => {}
        }
        if h.len > self.config.max_frame_size {
            return Err(PeerError::FrameTooLarge { size: h.len, limit: self.config.max_frame_size });
        }
        let size = self.recv.incoming.as_ref().map_or(0, |i| i.claimed).saturating_add(h.len);
        if size > self.config.max_message_size {
            return Err(PeerError::MessageTooLarge { size, limit: self.config.max_message_size });
        }
        Ok(())
    }

    fn on_control(&mut self, now: Instant, op: OpCode, payload: Bytes) -> Result<(), PeerError> {
        match op {
            OpCode::Ping => {
                // §5.5.2: answer every ping with a pong, but never after our own Close (§5.5.1).
                if matches!(self.phase, Phase::Open | Phase::CloseReceived) {
                    self.owe_pong(payload.clone());
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => {
                self.timers.stop(Deadline::Pong);
                self.events.push_back(Event::Pong(payload));
            }
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                self.apply(now, Trigger::PeerClose(frame));
            }
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {}
        }
        Ok(())
    }

    /// Processes the next piece of a data frame's payload. False: more input is needed.
    ///
    /// Every payload byte is unmasked, validated and counted exactly once, in place in the
    /// receive buffer, as soon as it arrives. A step never runs past a chunk boundary, so
    /// boundary events land at the same place in the event stream however the input was
    /// split. Whole-message delivery keeps the frame in the buffer and hands it out without
    /// a copy when the message is a single frame.
    fn data_step(&mut self, h: Header, consumed: u64, ready: usize) -> Result<bool, PeerError> {
        let Some(mut inc) = self.recv.incoming.take() else {
            return Err(PeerError::UnexpectedContinuation);
        };
        let streaming = inc.streaming;
        let total = self.stats.received.payload_bytes;
        let frame_left = h.len - consumed - ready as u64;
        let mut step = frame_left.min((self.recv.buf.len() - ready) as u64);
        if streaming && inc.kind == DataKind::Text && self.chunking.is_pending(total) {
            // A boundary fell inside a code point: finish the code point, then report it.
            step = step.min(inc.utf8.needed() as u64);
        } else {
            step = step.min(self.chunking.until_next(total));
        }
        if step == 0 && frame_left > 0 {
            self.recv.incoming = Some(inc);
            return Ok(false);
        }
        let (start, end) = (ready, ready + step as usize);
        let pre = self.recv.premasked.min(end - start);
        self.recv.premasked -= pre;
        if let Some(key) = h.mask {
            let offset = (consumed + (start + pre) as u64) as usize;
            frame::apply_mask(&mut self.recv.buf[start + pre..end], key, offset);
        }
        if inc.kind == DataKind::Text {
            if let Err(valid) = inc.utf8.feed(&self.recv.buf[start..end]) {
                // Deliver the code points that were valid before failing, so the events do not
                // depend on whether they arrived in the same read as the invalid byte.
                if streaming && valid > 0 {
                    let n = self.recv.carry.len() + ready + valid;
                    self.stats.received.payload_bytes += valid as u64;
                    self.stats.received.wire_bytes += valid as u64;
                    let mut data = self.recv.carry.split();
                    data.extend_from_slice(&self.recv.buf[..n - data.len()]);
                    self.recv.delivered += data.len() as u64;
                    let chunk = Chunk { kind: inc.kind, data: data.freeze(), end_of_message: false };
                    self.events.push_back(Event::Chunk(chunk));
                    self.report_boundaries(self.recv.delivered);
                }
                return Err(PeerError::InvalidUtf8("text message"));
            }
        }
        self.stats.received.payload_bytes += step;
        self.stats.received.wire_bytes += step;
        let (mut consumed, mut ready) = (consumed, end);
        let frame_done = consumed + ready as u64 == h.len;
        // A message must not end inside a code point; what came before it is still delivered
        // (in streaming mode) so the events do not depend on how the input was split.
        let truncated = frame_done && h.fin && inc.utf8.pending() > 0;
        let fin = frame_done && h.fin && !truncated;

        if streaming {
            let held = self.recv.carry.len() + ready;
            let deliverable = held - inc.utf8.pending();
            if deliverable > 0 || fin {
                let from_buf = deliverable.saturating_sub(self.recv.carry.len());
                let piece = self.recv.buf.split_to(from_buf);
                let data = if self.recv.carry.is_empty() {
                    piece.freeze()
                } else {
                    // A code point split across frames: a copy of at most one small piece.
                    let mut joined = self.recv.carry.split();
                    joined.extend_from_slice(&piece);
                    joined.freeze()
                };
                consumed += from_buf as u64;
                ready -= from_buf;
                self.recv.delivered += data.len() as u64;
                self.events.push_back(Event::Chunk(Chunk { kind: inc.kind, data, end_of_message: fin }));
                self.report_boundaries(self.recv.delivered);
            }
            if frame_done && ready > 0 {
                let tail = self.recv.buf.split_to(ready);
                self.recv.carry.extend_from_slice(&tail);
            }
        } else {
            self.report_boundaries(self.stats.received.payload_bytes);
            if frame_done {
                let payload = if ready == self.recv.buf.len() {
                    // The frame ends the input: the buffer itself becomes the message, without
                    // the shared header (an allocation) a split would give it; the next read
                    // starts a new one, as it does after any read that ends on a frame.
                    std::mem::take(&mut self.recv.buf)
                } else {
                    self.recv.buf.split_to(ready)
                };
                if fin && inc.assembly.is_empty() {
                    self.deliver(inc.kind, payload.freeze())?;
                } else {
                    inc.assembly.extend_from_slice(&payload);
                    if fin {
                        let data = inc.assembly.split().freeze();
                        self.deliver(inc.kind, data)?;
                    }
                }
            }
        }

        if truncated {
            return Err(PeerError::InvalidUtf8("text message"));
        }
        if fin {
            self.stats.received.messages += 1;
        } else {
            self.recv.incoming = Some(inc);
        }
        self.recv.rx = if frame_done { Rx::Header } else { Rx::Payload { h, consumed, ready } };
        Ok(true)
    }

    /// Processes the next piece of a compressed message's frame (RFC 7692 §7.2.2). False:
    /// more input is needed, or the application must drain the events first.
    ///
    /// The frame's bytes are unmasked as they arrive and stay at the front of the buffer
    /// (`ready`) until the inflater takes them; it takes no more than its output room allows,
    /// so the limits hold before memory is taken: what the message may still grow by
    /// (`max_message_size`, 1009 past it) and, in streaming delivery, `INFLATE_AHEAD` of
    /// chunks not yet drained. After the last frame the trailer `00 00 ff ff` is inflated, then
    /// the message is complete.
    fn inflate_step(&mut self, h: Header, consumed: u64, ready: usize) -> Result<bool, PeerError> {
        let Some(mut inc) = self.recv.incoming.take() else {
            return Err(PeerError::UnexpectedContinuation);
        };
        let Some(mut inf) = inc.inflating.take() else {
            return Err(PeerError::UnexpectedContinuation);
        };
        // Unmask what arrived of the frame: all of it, since chunk boundaries and limits apply
        // to the inflated bytes.
        let arrived = (h.len - consumed - ready as u64).min((self.recv.buf.len() - ready) as u64) as usize;
        let (start, end) = (ready, ready + arrived);
        let pre = self.recv.premasked.min(arrived);
        self.recv.premasked -= pre;
        if let Some(key) = h.mask {
            let offset = (consumed + (start + pre) as u64) as usize;
            frame::apply_mask(&mut self.recv.buf[start + pre..end], key, offset);
        }
        let (mut consumed, mut ready) = (consumed, end);
        let Some(mut codec) = self.deflate.take() else {
            return Err(PeerError::ReservedBits(frame::RSV1 >> 4));
        };
        let result = self.inflate_ready(&mut codec, h, &mut inc, &mut inf, &mut consumed, &mut ready);
        self.deflate = Some(codec);
        let paused = result?;
        let frame_done = consumed == h.len;
        let message_done = frame_done && h.fin && inf.trailer_started && inf.trailer_left == 0 && !inf.full && !paused;
        if message_done {
            if let Some(codec) = &mut self.deflate {
                codec.end_inflate();
            }
            if inc.utf8.pending() > 0 {
                return Err(PeerError::InvalidUtf8("text message"));
            }
            if inc.streaming {
                let data = self.recv.carry.split().freeze();
                self.recv.delivered += data.len() as u64;
                self.events.push_back(Event::Chunk(Chunk { kind: inc.kind, data, end_of_message: true }));
                self.report_boundaries(self.recv.delivered);
            } else {
                let data = Bytes::from(std::mem::take(&mut inf.whole));
                self.deliver(inc.kind, data)?;
            }
            self.stats.received.messages += 1;
            self.recv.rx = Rx::Header;
            return Ok(true);
        }
        inc.inflating = Some(inf);
        self.recv.incoming = Some(inc);
        if frame_done && !h.fin && !paused {
            self.recv.rx = Rx::Header;
            return Ok(true);
        }
        self.recv.rx = Rx::Payload { h, consumed, ready };
        self.recv.paused = paused;
        Ok(false)
    }

    /// Feeds the inflater the frame's unmasked bytes (and, after the message's last frame, the
    /// trailer) until it needs more input. True if it stopped for the application to drain
    /// the events.
    fn inflate_ready(
        &mut self,
        codec: &mut crate::deflate::Codec,
        h: Header,
        inc: &mut Incoming,
        inf: &mut Inflating,
        consumed: &mut u64,
        ready: &mut usize,
    ) -> Result<bool, PeerError> {
        let limit = self.config.max_message_size;
        loop {
            let frame_in = *consumed + *ready as u64 == h.len;
            if frame_in && *ready == 0 && h.fin && !inf.trailer_started {
                inf.trailer_started = true;
                inf.trailer_left = crate::deflate::Codec::trailer().len();
            }
            let input: &[u8] = if *ready > 0 {
                &self.recv.buf[..*ready]
            } else if inf.trailer_left > 0 {
                let t = crate::deflate::Codec::trailer();
                &t[t.len() - inf.trailer_left..]
            } else {
                &[]
            };
            if input.is_empty() && !inf.full {
                return Ok(false);
            }
            if inc.streaming && self.recv.undrained >= INFLATE_AHEAD {
                return Ok(true);
            }
            let allowed = limit.saturating_sub(inf.total);
            let wanted = input.len().saturating_mul(4).clamp(4 << 10, INFLATE_STEP) as u64;
            // At the limit, one byte more (into a scratch vector) tells the message is too large.
            let room = allowed.min(wanted).max(1) as usize;
            let mut piece = Vec::new();
            let out = if inc.streaming || allowed == 0 { &mut piece } else { &mut inf.whole };
            if out.len() + room > out.capacity() {
                // Grow as a vector does, but never past the limit: a message that would
                // outgrow it fails before that memory is taken.
                let cap = (out.capacity() * 2).max(out.len() + room).min(usize::try_from(limit).unwrap_or(usize::MAX));
                out.reserve_exact(cap.max(out.len() + room) - out.len());
            }
            let from = out.len();
            let (taken, given) = codec.inflate(input, out, room).map_err(|e| PeerError::CorruptCompressed(e.0))?;
            inf.full = given == room;
            if *ready > 0 {
                self.recv.buf.advance(taken);
                *ready -= taken;
                *consumed += taken as u64;
                self.stats.received.wire_bytes += taken as u64;
            } else {
                inf.trailer_left -= taken;
            }
            inf.total += given as u64;
            if inf.total > limit {
                return Err(PeerError::MessageTooLarge { size: inf.total, limit });
            }
            if given > 0 {
                if inc.kind == DataKind::Text {
                    let fresh = if inc.streaming { &piece[..] } else { &inf.whole[from..] };
                    if let Err(valid) = inc.utf8.feed(fresh) {
                        // What was valid before the bad byte is still delivered (as on the
                        // uncompressed path), then the message fails.
                        if inc.streaming {
                            piece.truncate(valid);
                            self.stats.received.payload_bytes += valid as u64;
                            self.hand_out_inflated(inc, piece, true);
                        }
                        return Err(PeerError::InvalidUtf8("text message"));
                    }
                }
                self.stats.received.payload_bytes += given as u64;
                if inc.streaming {
                    self.hand_out_inflated(inc, piece, false);
                } else {
                    self.report_boundaries(self.stats.received.payload_bytes);
                }
            }
            if taken == 0 && given == 0 {
                return Ok(false);
            }
        }
    }

    /// Streaming delivery of inflated bytes: chunks cut at every chunk boundary (never inside
    /// a code point), the start of an unfinished code point kept back for the next piece.
    /// `failing`: the message fails after this piece, so nothing is kept back.
    fn hand_out_inflated(&mut self, inc: &Incoming, piece: Vec<u8>, failing: bool) {
        let mut data = if self.recv.carry.is_empty() {
            BytesMut::from(Bytes::from(piece))
        } else {
            let mut joined = self.recv.carry.split();
            joined.extend_from_slice(&piece);
            joined
        };
        let keep = if failing { 0 } else { inc.utf8.pending() };
        self.recv.carry = data.split_off(data.len() - keep);
        while !data.is_empty() {
            let mut n = (self.chunking.until_next(self.recv.delivered).min(data.len() as u64)) as usize;
            if inc.kind == DataKind::Text {
                // Finish the code point the boundary fell in (UTF-8 continuation bytes).
                while n < data.len() && data[n] & 0xC0 == 0x80 {
                    n += 1;
                }
            }
            let chunk = data.split_to(n).freeze();
            self.recv.delivered += n as u64;
            self.recv.undrained += n as u64;
            self.events.push_back(Event::Chunk(Chunk { kind: inc.kind, data: chunk, end_of_message: false }));
            self.report_boundaries(self.recv.delivered);
        }
    }

    /// The application drained the events: inflation stopped for it goes on.
    pub(super) fn resume_inflating(&mut self) {
        self.recv.undrained = 0;
        if std::mem::take(&mut self.recv.paused) {
            let now = self.now;
            self.process(now);
        }
    }

    fn deliver(&mut self, kind: DataKind, data: Bytes) -> Result<(), PeerError> {
        self.events.push_back(Event::Message(message_of(kind, data)?));
        Ok(())
    }

    fn report_boundaries(&mut self, total: u64) {
        while let Some((index, received)) = self.chunking.next_due(total) {
            self.events.push_back(Event::ChunkBoundary { index, received });
        }
    }
}

/// A received message's payload as the message, a text one checked whole as UTF-8.
fn message_of(kind: DataKind, data: Bytes) -> Result<Message, PeerError> {
    Ok(match kind {
        DataKind::Binary => Message::Binary(data),
        DataKind::Text => Message::Text(Text::from_utf8(data).map_err(|_| PeerError::InvalidUtf8("text message"))?),
    })
}
