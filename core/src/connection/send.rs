//! Sending: the application's messages, fragments and control frames become frames (RFC 6455
//! §5.2–§5.5), masked by a client (§5.3), queued in order behind what is already queued, and
//! handed to the transport by `poll_transmit`.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::{Connection, Role, Transmit};
use crate::LocalError;
use crate::frame::{self, OpCode};
use crate::message::{DataKind, Message, Text};
use crate::state::{Phase, Trigger};
use crate::timer::Deadline;
use crate::utf8::Utf8Validator;

/// Payloads up to this size are copied next to their header so that small frames leave in one
/// write; larger ones are handed out as their own `Bytes` without a copy (server) or with the
/// masking copy only (client).
const INLINE_PAYLOAD: usize = 4096;

/// Pongs owed at most; older ones are dropped (RFC 6455 §5.5.3 lets us answer only the latest).
const MAX_OWED_PONGS: usize = 16;

/// The sending direction's state: what is queued for the transport, in order.
#[derive(Debug, Clone, Default)]
pub(super) struct Sending {
    out: VecDeque<Segment>,
    /// Small frames (and the head of the next large one) gathered into one buffer.
    staging: BytesMut,
    /// Client frames are masked into this buffer; its memory is used again once the transport
    /// has written and dropped the frames cut from it.
    masking: frame::MaskedFrames,
    /// Bytes queued and not yet handed out.
    pub(super) buffered: usize,
    outgoing: Option<Outgoing>,
    pongs: VecDeque<Bytes>,
    pings_sent: u64,
}

impl Sending {
    pub(super) fn has_transmit(&self) -> bool {
        !self.out.is_empty() || !self.staging.is_empty() || !self.pongs.is_empty()
    }
}

/// Queued output. Large payloads stay the caller's `Bytes` (masked only when handed out).
#[derive(Debug, Clone)]
enum Segment {
    Bytes(Bytes),
    /// A client's large frame: `head` (what was staged before it, its header last) and the
    /// payload, masked with `key` while both are copied into one buffer when handed out: the
    /// masking copy is needed anyway, so header and payload leave in one write for free.
    Masked {
        head: Bytes,
        data: Bytes,
        key: [u8; 4],
    },
    ShutdownWrite,
    Disconnect,
}

/// The fragmented message being sent.
#[derive(Debug, Clone)]
struct Outgoing {
    kind: DataKind,
    utf8: Utf8Validator,
    /// Its fragments go through the compressor (decided at the first, RFC 7692 §6).
    compressed: bool,
}

impl Connection {
    /// The next thing for the transport to do. Small frames queued together come out as one
    /// buffer; large payloads come out as their own `Bytes`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.flush_pongs();
        let seg = match self.send.out.pop_front() {
            Some(s) => s,
            None if !self.send.staging.is_empty() => Segment::Bytes(self.send.staging.split().freeze()),
            None => return None,
        };
        Some(match seg {
            Segment::Bytes(b) => {
                self.send.buffered = self.send.buffered.saturating_sub(b.len());
                Transmit::Bytes(b)
            }
            Segment::Masked { head, data, key } => {
                let m = self.send.masking.frame(&head, &data, key);
                self.send.buffered = self.send.buffered.saturating_sub(m.len());
                Transmit::Bytes(m)
            }
            Segment::ShutdownWrite => Transmit::ShutdownWrite,
            Segment::Disconnect => {
                let now = self.now;
                self.apply(now, Trigger::Released);
                Transmit::Disconnect
            }
        })
    }

    /// The staged bytes, handed out, when they are all the output there is (no segment
    /// queued, no pong due): a small write takes them from here (`Driver::take_small`).
    pub(crate) fn take_staged(&mut self) -> Option<Bytes> {
        if !self.send.out.is_empty() || !self.send.pongs.is_empty() {
            return None;
        }
        let staged = self.send.staging.split().freeze();
        self.send.buffered = self.send.buffered.saturating_sub(staged.len());
        Some(staged)
    }

    /// Sends a whole message, split into frames of at most `Config::max_send_frame_size`.
    pub fn send(&mut self, message: Message) -> Result<(), LocalError> {
        self.check_can_send()?;
        if self.send.outgoing.is_some() {
            return Err(LocalError::MessageInProgress);
        }
        let kind = message.kind();
        let payload = message.into_payload();
        let len = payload.len();
        match &mut self.deflate {
            Some(codec) if codec.compresses(len) => {
                let compressed = codec.compress(&payload, true);
                self.push_data(kind, compressed, len, true, true, true);
            }
            _ => self.push_data(kind, payload, len, true, true, false),
        }
        Ok(())
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: impl Into<Text>) -> Result<(), LocalError> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), LocalError> {
        self.send(Message::Binary(data.into()))
    }

    /// Sends part of a message; `end_of_message` finishes it (as .NET's `SendAsync`). Text
    /// fragments may split a code point; the whole message must be valid UTF-8.
    pub fn send_fragment(&mut self, kind: DataKind, data: Bytes, end_of_message: bool) -> Result<(), LocalError> {
        self.check_can_send()?;
        let (first, mut utf8, compressed) = match self.send.outgoing.take() {
            None => (true, Utf8Validator::default(), self.deflate.as_ref().is_some_and(|c| c.compresses_fragments())),
            Some(o) if o.kind == kind => (false, o.utf8, o.compressed),
            Some(o) => {
                let open = o.kind;
                self.send.outgoing = Some(o);
                return Err(LocalError::FragmentKindMismatch { open, sent: kind });
            }
        };
        if kind == DataKind::Text {
            let before = utf8.clone();
            if utf8.feed(&data).is_err() || (end_of_message && utf8.pending() > 0) {
                if !first {
                    self.send.outgoing = Some(Outgoing { kind, utf8: before, compressed });
                }
                return Err(LocalError::InvalidUtf8);
            }
        }
        if !end_of_message {
            self.send.outgoing = Some(Outgoing { kind, utf8, compressed });
        }
        let len = data.len();
        let data = match &mut self.deflate {
            Some(codec) if compressed => codec.compress(&data, end_of_message),
            _ => data,
        };
        self.push_data(kind, data, len, first, end_of_message, compressed);
        Ok(())
    }

    /// Sends a ping (payload at most 125 bytes).
    pub fn ping(&mut self, payload: Bytes) -> Result<(), LocalError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Sends an unsolicited pong (payload at most 125 bytes).
    pub fn pong(&mut self, payload: Bytes) -> Result<(), LocalError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Why a data message would be refused now, before anything is taken from it.
    pub(crate) fn check_can_send(&self) -> Result<(), LocalError> {
        if !matches!(self.phase, Phase::Open | Phase::CloseReceived) {
            return Err(LocalError::NotOpen(self.state()));
        }
        if self.is_send_buffer_full() {
            return Err(LocalError::SendBufferFull {
                buffered: self.send.buffered,
                limit: self.config.send_buffer_limit,
            });
        }
        Ok(())
    }

    fn send_control(&mut self, op: OpCode, payload: Bytes) -> Result<(), LocalError> {
        if !matches!(self.phase, Phase::Open | Phase::CloseReceived) {
            return Err(LocalError::NotOpen(self.state()));
        }
        if payload.len() > 125 {
            return Err(LocalError::ControlTooLong(payload.len()));
        }
        self.push_control(op, &payload);
        Ok(())
    }

    /// A keepalive ping (RFC 6455 §5.5.2), with the pong awaited and the next ping armed.
    pub(super) fn send_keepalive_ping(&mut self, now: Instant) {
        let Some(k) = self.config.keepalive else { return };
        self.send.pings_sent += 1;
        let payload = self.send.pings_sent.to_be_bytes();
        self.push_control(OpCode::Ping, &payload);
        if self.timers.get(Deadline::Pong).is_none() {
            self.timers.set(Deadline::Pong, now.checked_add(k.timeout));
        }
        self.timers.set(Deadline::Ping, now.checked_add(k.interval));
    }

    /// §5.5.2: a ping is answered with a pong, sent before anything queued after it. At most
    /// MAX_OWED_PONGS are owed: past that the oldest go unanswered, which §5.5.3 allows, so a
    /// ping flood cannot grow our output.
    pub(super) fn owe_pong(&mut self, payload: Bytes) {
        if self.send.pongs.len() == MAX_OWED_PONGS {
            self.send.pongs.pop_front();
        }
        self.send.pongs.push_back(payload);
    }

    /// Our Close (§5.5.1): pongs owed from before it go first; no frame may follow it.
    pub(super) fn push_close(&mut self, payload: &[u8]) {
        self.flush_pongs();
        self.push_control(OpCode::Close, payload);
    }

    /// What is left to send once `Closed`: nothing more is started, and owed pongs are moot.
    pub(super) fn stop_sending(&mut self, discard_queued: bool) {
        self.send.pongs.clear();
        self.send.outgoing = None;
        if discard_queued {
            self.send.out.clear();
            self.send.staging.clear();
            self.send.buffered = 0;
        }
    }

    pub(super) fn push_shutdown_write(&mut self) {
        self.push_segment(Segment::ShutdownWrite);
    }

    pub(super) fn push_disconnect(&mut self) {
        self.push_segment(Segment::Disconnect);
    }

    /// The transport is gone: the masking buffer's memory is given back.
    pub(super) fn release_send_memory(&mut self) {
        self.send.masking.release();
    }

    /// Frames for `data`, which carries `len` bytes of the application's payload (compressed,
    /// if `compressed`: then RSV1 marks the message's first frame, RFC 7692 §6).
    fn push_data(
        &mut self,
        kind: DataKind,
        mut data: Bytes,
        len: usize,
        first: bool,
        end_of_message: bool,
        compressed: bool,
    ) {
        let mut rsv1 = first && compressed;
        self.stats.sent.payload_bytes += len as u64;
        let mut op = match (first, kind) {
            (false, _) => OpCode::Continuation,
            (true, DataKind::Text) => OpCode::Text,
            (true, DataKind::Binary) => OpCode::Binary,
        };
        let max = self.config.max_send_frame_size.max(1);
        loop {
            let piece = if data.len() > max { data.split_to(max) } else { std::mem::take(&mut data) };
            let last = data.is_empty();
            self.stats.sent.data_frames += 1;
            self.stats.sent.wire_bytes += piece.len() as u64;
            self.push_frame(end_of_message && last, std::mem::take(&mut rsv1), op, piece);
            op = OpCode::Continuation;
            if last {
                break;
            }
        }
        if end_of_message {
            self.stats.sent.messages += 1;
        }
    }

    fn flush_pongs(&mut self) {
        while let Some(p) = self.send.pongs.pop_front() {
            self.push_control(OpCode::Pong, &p);
        }
    }

    fn push_control(&mut self, op: OpCode, payload: &[u8]) {
        self.stats.sent.control_frames += 1;
        // At most 125 bytes: always written next to the header, so no `Bytes` of its own.
        self.push_inline(true, false, op, payload);
    }

    fn push_frame(&mut self, fin: bool, rsv1: bool, op: OpCode, payload: Bytes) {
        if payload.len() <= INLINE_PAYLOAD {
            return self.push_inline(fin, rsv1, op, &payload);
        }
        let mask = self.next_mask();
        self.put_header(fin, rsv1, op, mask, payload.len());
        self.send.buffered += payload.len();
        match mask {
            Some(key) => {
                let head = self.send.staging.split().freeze();
                self.send.out.push_back(Segment::Masked { head, data: payload, key });
            }
            None => self.push_segment(Segment::Bytes(payload)),
        }
    }

    /// A frame copied, with its header, into the staging buffer (masked in place).
    fn push_inline(&mut self, fin: bool, rsv1: bool, op: OpCode, payload: &[u8]) {
        let mask = self.next_mask();
        self.put_header(fin, rsv1, op, mask, payload.len());
        let start = self.send.staging.len();
        self.send.staging.extend_from_slice(payload);
        if let Some(key) = mask {
            frame::apply_mask(&mut self.send.staging[start..], key, 0);
        }
        self.send.buffered += payload.len();
    }

    fn put_header(&mut self, fin: bool, rsv1: bool, op: OpCode, mask: Option<[u8; 4]>, len: usize) {
        let before = self.send.staging.len();
        frame::put_header(&mut self.send.staging, fin, op, mask, len as u64);
        if rsv1 {
            self.send.staging[before] |= frame::RSV1;
        }
        self.send.buffered += self.send.staging.len() - before;
    }

    /// A fresh mask key for a client's frame (RFC 6455 §5.3); servers do not mask.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => {
                let mut key = [0u8; 4];
                self.fill_keys(&mut key);
                Some(key)
            }
            Role::Server => None,
        }
    }

    /// Bytes that go out as they are (the handshake's HTTP head).
    pub(super) fn stage(&mut self, bytes: &[u8]) {
        self.send.staging.extend_from_slice(bytes);
        self.send.buffered += bytes.len();
    }

    /// Queues a segment behind everything staged so far.
    fn push_segment(&mut self, seg: Segment) {
        if !self.send.staging.is_empty() {
            let staged = self.send.staging.split().freeze();
            self.send.out.push_back(Segment::Bytes(staged));
        }
        self.send.out.push_back(seg);
    }

    pub(super) fn fill_keys(&mut self, dest: &mut [u8]) {
        if let Some(k) = &mut self.keys {
            k.fill(dest);
        }
    }
}
