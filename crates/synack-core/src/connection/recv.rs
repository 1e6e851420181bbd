//! The receive side: in-order delivery into the receive ring, out-of-order
//! reassembly bounded by the window, SACK blocks to send (RFC 2018 §4),
//! delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2), the FIN (RFC 9293
//! §3.10.7.4, eighth check), PAWS (RFC 7323 §5) and the advertised window
//! with receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2).

use super::{Connection, Segment, Sink, State};
use crate::error::{CloseReason, Error};
use crate::time::Instant;
use crate::Config;
use crate::SeqNum;
use core::time::Duration;
use synack_wire::SackBlock;

/// PAWS does not apply to a TS.Recent older than this (RFC 7323 §5.5).
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

impl Connection {
    /// Free space in the receive buffer.
    pub(super) fn rcv_space(&self) -> u32 {
        self.recv_limit.saturating_sub(self.rcv_buf.len()).min(u32::MAX as usize / 2) as u32
    }

    /// Nothing received from now on will be read: the user closed the
    /// connection, or shut down reading with our FIN sent or queued
    /// (FIN-WAIT-1 or -2 with RCV_SHUTDOWN, Linux's condition; in
    /// ESTABLISHED a SHUT_RD socket still takes data, as Linux's does).
    fn reads_nothing_more(&self) -> bool {
        self.user_closed || (self.read_shut && matches!(self.state, State::FinWait1 | State::FinWait2))
    }

    /// Seventh and eighth checks of RFC 9293 §3.10.7.4: segment text and FIN.
    /// In-order data with nothing waiting before it may go to `sink`.
    pub(super) fn on_text_and_fin(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>, sink: Sink<'_>) {
        if !self.state.can_receive() && self.state != State::SynReceived {
            return;
        }
        let mut seq = seg.seq + u32::from(seg.flags.syn());
        let mut data = seg.payload;
        let mut fin = seg.flags.fin();
        // Trim what we already have (RFC 9293 §3.10.7.4: only new parts are processed).
        if seq < self.rcv_nxt {
            let skip = self.rcv_nxt.since(seq) as usize;
            if skip > data.len() {
                return;
            }
            // RFC 2883 §4.1.2: the part we had is reported as a duplicate.
            if skip > 0 && !data.is_empty() {
                self.note_duplicate(cfg, seq, self.rcv_nxt.min(seq + data.len() as u32));
            }
            data = &data[skip..];
            seq = self.rcv_nxt;
        }
        if !data.is_empty() && self.reads_nothing_more() {
            // RFC 1122 §4.2.2.13 as Linux (tcp_rcv_state_process): new data
            // nobody will read resets the connection, the RST answering
            // the segment (RFC 9293 §3.5.2: SEQ = SEG.ACK).
            self.send_rst = Some(super::Rst::ForAck(seg.ack));
            self.enter_closed(CloseReason::Error(Error::ConnectionReset));
            return;
        }
        // A zero window takes no data (a bare FIN is taken, as Linux does);
        // the ACK tells the peer where we are.
        if !data.is_empty() && seq == self.rcv_nxt && self.rcv_adv <= self.rcv_nxt {
            self.stats.zero_window_drops = self.stats.zero_window_drops.saturating_add(1);
            self.ack_now = true;
            return;
        }
        // Trim what does not fit in the buffer; a FIN past the cut is dropped.
        let room = self.rcv_space() as usize;
        let offset_in_window = seq.since(self.rcv_nxt) as usize;
        if offset_in_window + data.len() > room {
            data = &data[..room.saturating_sub(offset_in_window).min(data.len())];
            fin = false;
        }
        if self.state == State::SynReceived {
            return;
        }
        if seq == self.rcv_nxt {
            if fin && matches!(self.state, State::Established) {
                // Data and FIN together: the ACK is decided after both, and
                // the FIN ends quick-ACK mode (Linux's tcp_fin runs first).
                self.ack.on_fin();
            }
            if !data.is_empty() {
                let taken = self.deliver(now, cfg, data, seg.segment_size, seg.flags.psh(), sink);
                self.autotune_on_data(now, seg, data.len());
                if taken {
                    // The sink took it: read at once.
                    self.after_read(now);
                }
            }
        } else if !data.is_empty() {
            let off = self.ooo.base + u64::from(seq.since(self.rcv_nxt));
            // RFC 2883 §4.1.3: out-of-order data we already hold is a duplicate.
            if let Some((a, b)) = self.ooo.overlap(off, off + data.len() as u64) {
                self.note_duplicate(cfg, self.ooo_seq(a), self.ooo_seq(b));
            }
            self.ooo.insert(&mut self.rcv_buf, self.recv_limit, off, data);
            self.stats.ooo_segments = self.stats.ooo_segments.saturating_add(1);
            // RFC 5681 §4.2: out-of-order data is acknowledged at once.
            self.ack_now = true;
        }
        if fin {
            let fin_off = self.ooo.base + u64::from((seq + data.len() as u32).since(self.rcv_nxt));
            self.ooo.set_fin(fin_off);
        }
        if self.ooo.fin() == Some(self.ooo.base) && !self.fin_received {
            self.on_fin(now, cfg);
        }
    }

    /// In-order data: to `sink` when nothing waits before it and the sink
    /// takes it (read at once), else into the buffer, then whatever
    /// reassembly now joins. `segment_size` is the size of the segments a
    /// coalesced (GRO) segment stands for. True when the sink took it.
    fn deliver(
        &mut self,
        now: Instant,
        cfg: &Config,
        data: &[u8],
        segment_size: Option<u16>,
        pushed: bool,
        sink: Sink<'_>,
    ) -> bool {
        let mut n = data.len();
        let direct = self.may_deliver_directly() && sink(data);
        if !direct {
            self.rcv_buf.push(data, self.recv_limit);
            let joined = self.ooo.advance(&mut self.rcv_buf, n as u64) as usize;
            if joined > 0 {
                // A hole was filled: ACK at once (RFC 5681 §4.2).
                self.ack_now = true;
                n += joined;
            }
            self.pending.readable = true;
        }
        self.rcv_nxt += n as u32;
        self.stats.bytes_received += n as u64;
        self.last_data_recv_ms = now.millis_u32();
        let growth = 2 * (n as u32).min(u32::from(self.rcv_mss));
        self.rcv_wnd_ceiling =
            self.rcv_wnd_ceiling.saturating_add(growth).min(self.recv_limit.min(u32::MAX as usize) as u32);
        // RFC 9293 §3.8.6.3 (SHLD-19): ACK at least every second full-sized
        // segment. "Full-sized" is the largest segment the peer has sent (as
        // Linux's rcv_mss: at most our MSS, at first 536), and like Linux we
        // ACK once more than one such segment is unacknowledged.
        let seg_len =
            segment_size.map_or(data.len(), usize::from).min(data.len()).min(usize::from(self.rcv_mss)) as u16;
        self.peer_seg_mss = self.peer_seg_mss.max(seg_len);
        self.unacked_rcv_bytes = self.unacked_rcv_bytes.saturating_add(n as u32);
        let small = seg_len < self.peer_seg_mss || pushed;
        self.ack.on_data(now, self.rtt.rto(cfg.max_rto), self.window_last_advertised(), self.peer_seg_mss, small);
        if self.unacked_rcv_bytes > u32::from(self.peer_seg_mss) || self.ack.in_quickack() {
            self.ack_now = true;
        } else {
            self.schedule_delayed_ack(now);
        }
        direct
    }

    /// Whether in-order data may bypass the receive buffer: nothing is
    /// buffered before it, no out-of-order data waits to join it (it sits
    /// in the ring at its offset), no urgent mark lies ahead (a read stops
    /// there), and the read side is open.
    fn may_deliver_directly(&self) -> bool {
        self.rcv_buf.is_empty() && self.ooo.range_count() == 0 && self.urgent_unread() == 0 && !self.read_shut
    }

    /// Arms the delayed-ACK timer for what is owed (`tcp_send_delayed_ack`).
    fn schedule_delayed_ack(&mut self, now: Instant) {
        let delay = self.ack.delay(self.rtt.srtt());
        self.timers.delack = match self.timers.delack {
            // The timer is about to fire anyway: ACK now (tcp_send_delayed_ack).
            Some(t) if t <= now + delay / 4 => {
                self.ack_now = true;
                Some(t)
            }
            Some(t) => Some(t.min(now + delay)),
            None => Some(now + delay),
        };
    }

    /// The shortest delayed-ACK timeout: the configured delay, at most 200 ms.
    pub(super) fn delack_min(cfg: &Config) -> Duration {
        cfg.delayed_ack.min(Duration::from_millis(200))
    }

    /// RFC 9293 §3.10.7.4, eighth check: the FIN.
    fn on_fin(&mut self, now: Instant, cfg: &Config) {
        self.fin_received = true;
        self.rcv_nxt += 1;
        self.pending.readable = true;
        match self.state {
            State::SynReceived | State::Established => {
                // As Linux: the connection turns interactive (the
                // application's reply, or its FIN, will carry the ACK), so
                // the ACK is delayed once data has flowed, at once otherwise.
                self.set_state(State::CloseWait);
                self.ack.on_fin();
                if self.ack.has_data() && !self.ack_now {
                    self.schedule_delayed_ack(now);
                } else {
                    self.ack_now = true;
                }
                return;
            }
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(now, cfg),
            State::FinWait1 => self.set_state(State::Closing),
            State::FinWait2 => self.enter_time_wait(now, cfg),
            State::TimeWait => self.restart_time_wait(now, cfg),
            _ => {}
        }
        self.ack_now = true;
    }

    /// The user's RECEIVE (RFC 9293 §3.10.3): `Ok(0)` is end of stream.
    pub(crate) fn recv(&mut self, now: Instant, cfg: &Config, buf: &mut [u8]) -> Result<usize, Error> {
        let mut at = 0;
        self.recv_with(now, cfg, buf.len(), &mut |s| {
            buf[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        })
    }

    /// RECEIVE that hands up to `max` bytes to `f` as slices of the receive
    /// buffer (one copy, wherever the caller keeps them).
    pub(crate) fn recv_with(
        &mut self,
        now: Instant,
        cfg: &Config,
        max: usize,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<usize, Error> {
        if !self.rcv_buf.is_empty() && max > 0 {
            let n = self.rcv_buf.pop_with(self.stop_at_urgent_mark(max), f);
            self.after_read(now);
            self.after_event(now, cfg);
            return Ok(n);
        }
        // As Linux's tcp_recvmsg: the peer's FIN (SOCK_DONE) first, then
        // the connection's error, then our own SHUT_RD.
        if self.fin_received {
            return Ok(0);
        }
        if let Some(e) = self.failure() {
            return Err(e);
        }
        if self.read_shut || self.close_reason == Some(CloseReason::Graceful) {
            return Ok(0);
        }
        match self.state {
            State::Closed => Err(Error::NotConnected),
            _ => Err(Error::WouldBlock),
        }
    }

    /// What a read of the buffer sets off (`tcp_cleanup_rbuf`, and the
    /// receiver's autotuning measure of what the application consumed).
    fn after_read(&mut self, now: Instant) {
        self.autotune_on_read(now);
        if self.rcv_buf.is_empty() {
            self.note_drained(now);
            if self.ack.ack_on_drain() {
                self.ack_now = true;
            }
        }
        self.maybe_window_update();
    }

    /// Bytes ready to read.
    pub(crate) fn readable_bytes(&self) -> usize {
        self.rcv_buf.len()
    }

    /// After a read opened the window enough, advertise it (RFC 9293 §3.8.6.2.2).
    fn maybe_window_update(&mut self) {
        if !self.state.is_synchronized() || self.fin_received {
            return;
        }
        let potential = self.rcv_nxt + self.scaled_space();
        let threshold = (self.recv_limit as u32 / 2).min(u32::from(self.rcv_mss)).max(1);
        // Announce only a window that grew enough to matter (RFC 9293
        // §3.8.6.2.2) and, as Linux does, only when what the peer may still
        // send is at most half the buffer and the new window at least doubles it.
        let now_wnd = self.rcv_adv.since(self.rcv_nxt);
        let new_wnd = potential.since(self.rcv_nxt);
        if potential > self.rcv_adv
            && potential.since(self.rcv_adv) >= threshold
            && u64::from(now_wnd) * 2 <= self.recv_limit as u64
            && new_wnd >= now_wnd.saturating_mul(2)
        {
            self.ack_now = true;
        }
    }

    /// The window we are willing to offer, rounded down to what the window
    /// field can express: free space, limited by a ceiling that starts at
    /// 64 KiB and grows with the data received (as Linux's rcv_ssthresh), so
    /// a large buffer is offered as the peer shows it can use it.
    fn scaled_space(&self) -> u32 {
        let shift = self.rcv_wscale;
        // The ceiling is rounded up to the scale's granularity (as Linux's
        // __tcp_select_window), free space down: never more than fits.
        let ceiling = self.rcv_wnd_ceiling.div_ceil(1 << shift);
        let raw = (self.rcv_space() >> shift).min(ceiling).min(65535);
        raw << shift
    }

    /// The raw window field for an outgoing segment, recording the new right
    /// edge. The window never shrinks, and grows only in steps of at least
    /// min(buffer/2, MSS) (receiver SWS avoidance).
    pub(super) fn window_to_advertise(&mut self, syn: bool) -> u16 {
        if syn {
            // As Linux's tcp_select_initial_window: whole segments of the
            // MSS the peer will send (less the timestamp option when it is
            // in use), so 64240 (44 × 1460) or 65160 (45 × 1448) by default.
            let unit = u32::from(self.rcv_mss)
                .saturating_sub(if self.ts_ok { u32::from(super::handshake::TS_OPTION_LEN) } else { 0 })
                .max(1);
            let mut w = self.rcv_space().min(65535);
            if w > unit {
                w -= w % unit;
            }
            self.rcv_adv = self.rcv_nxt + w;
            self.rcv_wnd_ceiling = self.rcv_wnd_ceiling.min(w.max(1));
            return w as u16;
        }
        let mut right = self.rcv_nxt + self.scaled_space();
        let threshold = (self.recv_limit as u32 / 2).min(u32::from(self.rcv_mss)).max(1);
        if right > self.rcv_adv && right.since(self.rcv_adv) < threshold && self.rcv_adv > self.rcv_nxt {
            right = self.rcv_adv;
        }
        if right < self.rcv_adv {
            right = self.rcv_adv;
        }
        // Rounded up, so that the right edge never moves left (Linux's
        // tcp_select_window aligns the current window up the same way),
        // unless the buffer has no room for the rounding. What the field
        // says is what the peer may send: that, or an edge offered before
        // if further right, is the edge segments are accepted against.
        let wnd = right.since(self.rcv_nxt);
        let mut raw = wnd.div_ceil(1 << self.rcv_wscale).min(65535);
        if (raw << self.rcv_wscale) > self.rcv_space().max(wnd) {
            raw = (wnd >> self.rcv_wscale).min(65535);
        }
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (raw << self.rcv_wscale));
        raw as u16
    }

    /// SACK blocks to report, the most recent first (RFC 2018 §4).
    pub(super) fn sack_blocks(&self, out: &mut [SackBlock; 4]) -> usize {
        if !self.sack_ok {
            return 0;
        }
        let max = if self.ts_ok { 3 } else { 4 };
        // RFC 2883 §4: a duplicate is reported first, then the usual blocks.
        let mut at = 0;
        if let Some((left, right)) = self.dsack {
            out[0] = SackBlock { left: left.0, right: right.0 };
            at = 1;
        }
        let mut ranges = [(0u64, 0u64); 4];
        let n = self.ooo.sack_ranges(&mut ranges[..max - at]);
        for (block, &(left, right)) in out[at..].iter_mut().zip(&ranges[..n]) {
            // A block that ends where a held FIN is covers the FIN's
            // sequence number too (it is the segment's end_seq, as Linux reports it).
            let right = if self.ooo.fin() == Some(right) { right + 1 } else { right };
            *block = SackBlock { left: self.ooo_seq(left).0, right: self.ooo_seq(right).0 };
        }
        at + n
    }

    /// The sequence number of reassembly offset `o`.
    fn ooo_seq(&self, o: u64) -> SeqNum {
        self.rcv_nxt + (o - self.ooo.base) as u32
    }

    /// The window the last ACK offered (what the quick-ACK budget is sized by).
    pub(super) fn window_last_advertised(&self) -> u32 {
        self.rcv_adv.since(self.last_ack_sent)
    }

    /// Notes a duplicate `left..right` for the next ACK (RFC 2883 §4,
    /// one D-SACK block per duplicate received; the latest wins).
    pub(super) fn note_duplicate(&mut self, cfg: &Config, left: SeqNum, right: SeqNum) {
        if cfg.dsack && self.sack_ok && left < right {
            self.dsack = Some((left, right));
            self.stats.dsacks_out = self.stats.dsacks_out.saturating_add(1);
        }
    }

    /// PAWS (RFC 7323 §5.3): a TSval older than TS.Recent marks an old duplicate.
    pub(super) fn paws_rejects(&self, now: Instant, val: u32) -> bool {
        (val.wrapping_sub(self.ts_recent) as i32) < 0 && now.saturating_since(self.ts_recent_at) < PAWS_IDLE
    }

    /// RFC 7323 §4.3: TS.Recent takes the TSval of a segment covering Last.ACK.sent.
    pub(super) fn update_ts_recent(&mut self, now: Instant, seg: &Segment<'_>) {
        if let Some((val, _)) = seg.options.timestamps {
            if seg.seq <= self.last_ack_sent && (val.wrapping_sub(self.ts_recent) as i32) >= 0 {
                self.ts_recent = val;
                self.ts_recent_at = now;
            }
        }
    }

    /// The timestamp clock: milliseconds plus a per-connection offset (RFC 7323 §5.4).
    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        Self::ts_clock(now, self.ts_offset)
    }

    /// The TSval clock (one tick per millisecond) of a connection whose
    /// offset is `ts_offset` (RFC 7323 §5.4), also for the endpoint's cookies.
    pub(crate) fn ts_clock(now: Instant, ts_offset: u32) -> u32 {
        now.millis_u32().wrapping_add(ts_offset)
    }

    /// The user's SHUT_RD, as Linux has it: reads no longer wait (end of
    /// stream once what is queued has been read), but data queued and
    /// data that arrives later stays readable and is acknowledged as
    /// usual, within the window (BSD discards it; POSIX leaves it open).
    pub(crate) fn shutdown_read(&mut self) {
        self.read_shut = true;
    }

    /// Sixth check of RFC 9293 §3.10.7.4: RCV.UP = max(RCV.UP, SEG.UP).
    pub(super) fn on_urgent(&mut self, seg: &Segment<'_>) {
        let offset = self.ooo.base as i64 + i64::from(seg.seq.diff(self.rcv_nxt)) + i64::from(seg.urgent);
        let Ok(up) = u64::try_from(offset) else { return };
        if up > self.rcv_up {
            self.rcv_up = up;
            if self.urgent_unread() > 0 {
                self.pending.urgent = true;
            }
        }
    }

    /// A read of up to `max` bytes ends just before the urgent mark, the
    /// last urgent byte, and the next read starts at it: the application
    /// learns where urgent data ends (RFC 9293 MUST-33) as BSD sockets and
    /// Linux's tcp_recvmsg show it (SIOCATMARK; `urgent/urgent_data_inline.pkt`).
    fn stop_at_urgent_mark(&self, max: usize) -> usize {
        match self.urgent_unread() {
            0 | 1 => max,
            n => max.min(n - 1),
        }
    }

    /// Whether the next byte read is the last urgent byte (SIOCATMARK).
    pub(crate) fn at_urgent_mark(&self) -> bool {
        self.urgent_unread() == 1
    }

    /// Urgent bytes not yet read by the application (RFC 9293 MUST-33).
    pub(crate) fn urgent_unread(&self) -> usize {
        let read = self.ooo.base - self.rcv_buf.len() as u64;
        self.rcv_up.saturating_sub(read) as usize
    }
}
