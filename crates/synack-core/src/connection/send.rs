//! The send side: the send ring, segmentation, Nagle (RFC 9293 §3.7.4) and
//! sender SWS avoidance (§3.8.6.2.1), the peer's window, processing of the
//! ACK field (§3.10.7.4, fifth check), RTT samples (RFC 6298, RFC 7323 §4),
//! fast retransmit and NewReno recovery (RFC 5681 §3.2, RFC 6582), and
//! building every outgoing segment.

use super::tail_loss_probe::Probe;
use super::{frto, prr, rack, Connection, Origin, Recovery, Rst, Segment, State, TxLimits, Undo};
use crate::congestion::CongestionController;
use crate::error::Error;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;
use core::time::Duration;
use synack_wire::{SackBlock, TcpFlags, TcpOptions, TcpRepr};

/// Timestamp RTT samples above this are ignored as bogus.
const MAX_TS_RTT_MS: u32 = 120_000;

impl Connection {
    /// The user's SEND (RFC 9293 §3.10.2): queues as much of `data` as fits.
    pub(crate) fn send(&mut self, now: Instant, cfg: &Config, data: &[u8]) -> Result<usize, Error> {
        self.send_flagged(now, cfg, data, false)
    }

    /// SEND; with `more` (Linux's MSG_MORE) the write's trailing partial
    /// segment is held at this push, as TCP_CORK would hold it, and only
    /// until the next event: an ACK or a timer then sends it under Nagle's
    /// rules (Linux's tcp_push with TCP_NAGLE_CORK for that call only).
    pub(crate) fn send_flagged(&mut self, now: Instant, cfg: &Config, data: &[u8], more: bool) -> Result<usize, Error> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        if self.fin_queued {
            return Err(Error::BrokenPipe);
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed => return Err(Error::NotConnected),
            _ => return Err(Error::BrokenPipe),
        }
        if self.send_buf.len() >= self.send_limit {
            self.chrono_on_no_space();
            return Err(Error::WouldBlock);
        }
        self.check_app_limited(self.snd_nxt);
        let was_unsent = self.unsent() > 0;
        let n = self.send_buf.push(data, self.send_limit);
        if n > 0 {
            self.more = more;
            self.tail_unpushed = more;
            self.chrono_on_queued(now, was_unsent);
        }
        if n < data.len() {
            self.chrono_on_no_space();
        }
        self.after_event(now, cfg);
        Ok(n)
    }

    /// If less than one MSS would be left unsent past `sent_end` with cwnd
    /// to spare and nothing lost waiting, what is in flight now is
    /// application-limited for delivery rate estimation (Linux's
    /// tcp_rate_check_app_limited, which runs at each write; here also at
    /// each transmission, so the last flight of a transfer counts too).
    pub(super) fn check_app_limited(&mut self, sent_end: SeqNum) {
        if self.rack.is_none() {
            return;
        }
        let unsent = self.send_buf.len().saturating_sub(sent_end.since(self.snd_buf_seq) as usize);
        let (pipe, cwnd) = (self.pipe(), self.cc.cwnd());
        if let Some(r) = self.rack.as_mut() {
            if unsent < usize::from(self.snd_mss) && pipe < cwnd && r.log.lost_bytes() == 0 {
                r.rate.on_app_limited(pipe);
            }
        }
    }

    /// SEND with the URGENT flag (RFC 9293 §3.10.2): queues `data` and marks
    /// its end as the urgent pointer.
    pub(crate) fn send_urgent(&mut self, now: Instant, cfg: &Config, data: &[u8]) -> Result<usize, Error> {
        let n = self.send(now, cfg, data)?;
        self.snd_up = Some(self.snd_buf_seq + self.send_buf.len() as u32);
        Ok(n)
    }

    /// Bytes the user may still queue.
    pub(crate) fn send_capacity(&self) -> usize {
        self.send_limit.saturating_sub(self.send_buf.len())
    }

    /// Bytes queued and not yet acknowledged.
    pub(crate) fn send_queued(&self) -> usize {
        self.send_buf.len()
    }

    /// Sequence number of our FIN (once queued).
    pub(super) fn fin_seq(&self) -> SeqNum {
        self.snd_buf_seq + self.send_buf.len() as u32
    }

    /// True when our FIN has been sent and acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una > self.fin_seq()
    }

    /// True when data waits to be sent for the first time.
    pub(super) fn has_unsent(&self) -> bool {
        let sent = self.snd_max.since(self.snd_buf_seq) as usize;
        self.send_buf.len() > sent || (self.fin_queued && self.snd_max <= self.fin_seq())
    }

    fn flight(&self) -> u32 {
        self.snd_max.since(self.snd_una)
    }

    /// RFC 9293 §3.10.7.4, fifth check, for the synchronized states: SND.UNA,
    /// the send window, RTT, and congestion control.
    pub(super) fn on_ack(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>) {
        let ack = seg.ack;
        let wnd = u32::from(seg.window) << self.snd_wscale;
        let window_changed = wnd != self.snd_wnd;
        // Window update (RFC 9293 §3.10.7.4), guarded against old segments
        // as Linux's tcp_may_update_window: an ACK of new data or a later
        // SEG.SEQ updates; with SEG.SEQ = SND.WL1 and nothing new
        // acknowledged, only a larger or zero window does (the RFC would
        // also take a smaller one; a reordered old duplicate could then
        // shrink the window, CONFORMANCE.md).
        let newer = ack > self.snd_una
            || self.snd_wl1 < seg.seq
            || (self.snd_wl1 == seg.seq && (wnd > self.snd_wnd || wnd == 0));
        if self.snd_una <= ack && newer {
            self.snd_wnd = wnd;
            self.snd_wl1 = seg.seq;
            if wnd > self.max_snd_wnd {
                // A larger window lifts the half-window bound (Linux's
                // tcp_ack_update_window calls tcp_sync_mss).
                self.max_snd_wnd = wnd;
                self.bound_snd_mss();
            }
        }
        let mss = u32::from(self.snd_mss);
        // RFC 6937: DeliveredData = change in SND.UNA + change in SACKed bytes.
        let (una_before, sacked_before, nxt_before) = (self.snd_una, self.sacked_bytes(), self.snd_nxt);
        let dup_segments_before = self.recovery.as_ref().map_or(0, |r| r.dup_segments);
        let dsack = rack::is_dsack(seg.options.sack_blocks(), ack);
        let frto_ack = |dupack| frto::FrtoAck {
            una_before,
            nxt_before,
            sacked_before,
            dupack,
            dsack,
            blocks: seg.options.sack_blocks(),
            ecr: seg.options.timestamps.map(|(_, ecr)| ecr),
        };
        if self.sack_ok && !self.rack_on() {
            let una = if ack > self.snd_una { ack } else { self.snd_una };
            self.scoreboard.update(una, self.snd_max, seg.options.sack_blocks());
        }
        // RFC 8985 §6.2: what the ACK delivered, and what it shows lost
        // (with RACK, its log is the one record of what is SACKed).
        let rack =
            if ack <= self.snd_max { self.rack_on_ack(now, cfg, seg, una_before, dsack) } else { Default::default() };
        let rack_lost = rack.lost;
        self.on_ack_for_probe(seg, dsack, mss);
        if ack > self.snd_una {
            let acked = ack.since(self.snd_una);
            let rtt_sample = self.take_rtt_sample(now, cfg, seg);
            // Congestion control's sample: RACK's per-segment one, exact to
            // the microsecond as Linux's ca_rtt_us, where RACK runs.
            // (Not the handshake's: Linux initialises the controller after it.)
            let sample = if self.rack_on() { rack.ca_rtt } else { rtt_sample }.filter(|_| una_before != self.iss);
            if let Some(rtt) = sample {
                self.cc.on_rtt_sample(rtt, now);
            }
            let data_acked = (ack.since(self.snd_buf_seq) as usize).min(self.send_buf.len());
            if data_acked > 0 {
                self.send_buf.consume(data_acked);
                if self.send_buf.is_empty() {
                    self.note_drained(now);
                }
                self.snd_buf_seq += data_acked as u32;
                self.pending.writable = true;
            }
            self.snd_una = ack;
            if self.snd_nxt < self.snd_una {
                self.snd_nxt = self.snd_una;
                self.skip_sacked();
            }
            // tcpi_bytes_acked: an ACK here never counts the SYN (Linux's
            // SYN-RECEIVED takes its ACK outside tcp_ack; SYN-SENT counts it).
            self.stats.bytes_acked += u64::from(acked - u32::from(una_before == self.iss));
            // RFC 6298 §5 (after 5.7): the backed-off RTO collapses only
            // with a new RTT measurement (RttEstimator::sample), as Linux.
            self.retries = 0;
            // RFC 5682, RFC 3522: a timeout shown spurious is undone before
            // cwnd grows for this ACK (as Linux).
            self.frto_on_ack(&frto_ack(false));
            let spurious = self.in_recovery && self.retransmission_was_spurious(seg);
            // Whether this ACK may grow cwnd: outside recovery, and (as
            // Linux's tcp_cong_control after tcp_fastretrans_alert) on the
            // ACK that ends one.
            let mut open = !self.in_recovery;
            if self.in_recovery {
                if spurious {
                    self.end_spurious_recovery();
                } else if ack >= self.recover {
                    // RFC 6582 §3.2 step 6, RFC 6675 §5: full acknowledgment ends recovery.
                    self.leave_recovery();
                    self.cc.on_recovery_end();
                    open = true;
                } else if self.sack_recovery {
                    // RFC 6675 §5 (C): the scoreboard and pipe decide what goes next.
                    if self.high_rxt < self.snd_una {
                        self.high_rxt = self.snd_una;
                    }
                } else {
                    // Step 5: partial acknowledgment: retransmit the next hole
                    // (how much else goes is PRR's, below).
                    self.retransmit_head = true;
                }
            }
            if open {
                self.dupacks = 0;
                // Growth counts what this ACK delivered (Linux's
                // acked_sacked): bytes the peer had already SACKed were
                // delivered by an earlier ACK, which did not grow cwnd.
                let acked = self.sack_delivered(acked, sacked_before);
                let acked = self.slow_start_growth(now, cfg, ack, acked, rtt_sample);
                if self.cwnd_may_grow() {
                    self.cc.on_ack(acked, mss, now, self.rtt.srtt());
                }
                // RFC 6675 §5 (2): SACKs above the new SND.UNA may show it lost.
                if self.sack_ok
                    && self.may_start_recovery(ack)
                    && self.snd_max > self.snd_una
                    && self.loss_detected(rack_lost)
                {
                    self.enter_recovery(now, mss);
                }
            }
            let rto = self.rtt.rto(cfg.max_rto);
            // RFC 6298 §5.2, §5.3: stop or restart the timer.
            self.timers.rtx = (self.snd_max > self.snd_una).then(|| now + rto);
            self.unacked_since = (self.snd_max > self.snd_una).then_some(now);
            // RFC 8985 §7.2: the probe timer, if it comes first.
            self.schedule_probe(now, cfg);
            self.check_sack_reneging(now);
        } else if ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.syn()
            && !seg.flags.fin()
            && !window_changed
            && self.snd_max > self.snd_una
            && wnd > 0
        {
            // A duplicate ACK (RFC 5681 §2); answers to zero-window probes
            // are not (the data is not lost, the window is closed).
            self.dupacks = self.dupacks.saturating_add(1);
            self.frto_on_ack(&frto_ack(true));
            if self.in_recovery {
                if !self.sack_recovery {
                    self.count_dup_segment();
                }
            } else if self.may_start_recovery(ack)
                && ((!self.rack_on() && u32::from(self.dupacks) == self.scoreboard.dup_thresh())
                    || (self.sack_ok && self.loss_detected(rack_lost)))
            {
                // RFC 6582 §3.2 step 2, RFC 6675 §5 (1), (2): fast retransmit, enter recovery.
                self.enter_recovery(now, mss);
            }
        } else if ack == self.snd_una
            && self.sack_ok
            && !self.in_recovery
            && self.snd_max > self.snd_una
            && self.sacked_bytes() > sacked_before
            && self.may_start_recovery(ack)
            && self.loss_detected(rack_lost)
        {
            // RFC 6675 §2: an ACK with newly SACKed data counts as a
            // duplicate "even if it carries new data [or] changes the
            // advertised window", so what it shows lost starts recovery
            // (Linux: FLAG_DATA_SACKED makes the ACK dubious).
            self.enter_recovery(now, mss);
        }
        if self.snd_wnd == 0 {
            // The peer answers our zero-window probes: it is alive.
            self.retries = 0;
        }
        if self.in_recovery {
            let advanced = self.snd_una.since(una_before);
            let delivered = if self.sack_recovery {
                self.sack_delivered(advanced, sacked_before)
            } else {
                self.reno_delivered(advanced, dup_segments_before)
            };
            let pipe = self.recovery_pipe();
            let ssthresh = self.cc.ssthresh();
            if let Some(prr) = self.prr_mut() {
                prr.on_ack(delivered, advanced > 0, pipe, ssthresh, mss);
            }
        }
        // RFC 2883 §5: D-SACKs may show the last recovery needless.
        if dsack {
            self.dsack_undo_on_ack(seg);
        }
        self.chrono_on_ack(now);
    }

    /// RFC 6937's DeliveredData with SACK (Linux's acked_sacked): SND.UNA's
    /// advance plus the change in SACKed bytes, so bytes SACKed by an
    /// earlier ACK do not count again when the cumulative ACK covers them.
    fn sack_delivered(&self, advanced: u32, sacked_before: u32) -> u32 {
        (i64::from(advanced) + i64::from(self.sacked_bytes()) - i64::from(sacked_before)).clamp(0, i64::from(u32::MAX))
            as u32
    }

    /// The congestion window sending goes by: PRR's during fast recovery
    /// (RFC 6937), the controller's otherwise.
    pub(super) fn effective_cwnd(&self) -> u32 {
        self.prr().map_or_else(|| self.cc.cwnd(), prr::Prr::cwnd)
    }

    /// PRR's state while in fast recovery (every fast recovery has it; a
    /// timeout's recovery does not).
    fn prr(&self) -> Option<&prr::Prr> {
        self.recovery.as_ref().and_then(|r| r.prr.as_ref()).filter(|_| self.in_recovery)
    }

    fn prr_mut(&mut self) -> Option<&mut prr::Prr> {
        let in_recovery = self.in_recovery;
        self.recovery.as_mut().and_then(|r| r.prr.as_mut()).filter(|_| in_recovery)
    }

    /// `pipe` in fast recovery: RFC 6675's with SACK; without it, the
    /// flight less a segment for each duplicate ACK and less the head
    /// while it waits to be resent (Linux's tcp_packets_in_flight with
    /// Reno's sacked_out and the head marked lost; once resent, the
    /// retransmission takes its place).
    pub(super) fn recovery_pipe(&self) -> u32 {
        if self.sack_recovery {
            return self.pipe();
        }
        let mss = u32::from(self.snd_mss);
        let dups = self.recovery.as_ref().map_or(0, |r| r.dup_segments);
        let lost_head = if self.retransmit_head { mss } else { 0 };
        self.flight().saturating_sub(dups.saturating_mul(mss)).saturating_sub(lost_head)
    }

    /// Whether the head retransmission a recovery or timeout asked for may
    /// go now: at once, but in recovery without SACK only as PRR allows
    /// (as Linux: a partial ACK that leaves pipe at ssthresh resends the
    /// next hole on the following duplicate ACK; the fast retransmission
    /// itself always has room, PRR's first ACK grants it).
    fn head_may_go(&self) -> bool {
        self.sack_recovery || self.prr().is_none() || self.cwnd_room() >= u32::from(self.snd_mss)
    }

    /// A duplicate ACK in recovery without SACK: one more segment has left
    /// the network, as long as fewer than the flight's segments are counted.
    fn count_dup_segment(&mut self) {
        let mss = u32::from(self.snd_mss).max(1);
        let most = self.flight().div_ceil(mss).saturating_sub(1);
        if let Some(r) = self.recovery.as_mut() {
            r.dup_segments = (r.dup_segments + 1).min(most);
        }
    }

    /// RFC 6937 §3, DeliveredData without SACK: one MSS for a duplicate
    /// ACK; for a partial ACK the advance of SND.UNA less an MSS for each
    /// duplicate ACK it covers (at least one MSS), as Linux's
    /// tcp_remove_reno_sacks, which also forgets those duplicates.
    fn reno_delivered(&mut self, advanced: u32, dups_before: u32) -> u32 {
        let mss = u32::from(self.snd_mss).max(1);
        let Some(r) = self.recovery.as_mut() else { return 0 };
        if advanced == 0 {
            return if r.dup_segments > dups_before { mss } else { 0 };
        }
        let covered = advanced.div_ceil(mss).saturating_sub(1);
        let delivered = advanced.saturating_sub(r.dup_segments.saturating_mul(mss)).max(mss);
        r.dup_segments = r.dup_segments.saturating_sub(covered);
        delivered
    }

    /// RFC 6675 §4 SetPipe, or with RACK as Linux's tcp_packets_in_flight:
    /// what was sent and is neither SACKed nor deemed lost (a lost segment
    /// sent again counts again).
    pub(super) fn pipe(&self) -> u32 {
        match self.rack.as_ref() {
            Some(r) => self.flight().saturating_sub(r.log.sacked_bytes() + r.log.lost_bytes()),
            None => self.scoreboard.pipe(self.snd_max, self.high_rxt, u32::from(self.snd_mss)),
        }
    }

    /// Bytes above SND.UNA the peer has SACKed.
    pub(super) fn sacked_bytes(&self) -> u32 {
        match self.rack.as_ref() {
            Some(r) => r.log.sacked_bytes(),
            None => self.scoreboard.sacked_bytes(),
        }
    }

    /// Just past the highest byte below SND.MAX that is not SACKed.
    pub(super) fn unsacked_end(&self) -> SeqNum {
        match self.rack.as_ref() {
            Some(r) => r.log.unsacked_end(self.snd_max),
            None => self.scoreboard.unsacked_end(self.snd_max),
        }
    }

    /// Whether loss is known: RACK marked a segment lost (RFC 8985 §6.2),
    /// or without RACK, RFC 6675's IsLost(SND.UNA).
    fn loss_detected(&self, rack_marked: bool) -> bool {
        match self.rack.as_ref() {
            Some(r) => rack_marked || r.log.lost_bytes() > 0,
            None => self.scoreboard.is_lost(self.snd_una, u32::from(self.snd_mss)),
        }
    }

    /// Fast retransmit and loss recovery: SACK-based (RFC 6675 §5 (4)) when
    /// the peer has SACKed something, NewReno (RFC 6582 §3.2 step 2) otherwise.
    pub(super) fn enter_recovery(&mut self, now: Instant, mss: u32) {
        // RFC 9406: a loss ends slow start, and HyStart++ with it.
        self.hystart.stop();
        let sack = self.sack_ok && self.sacked_bytes() > 0;
        // RFC 3522 §2: remember what the reduction undoes, and the TSval of
        // the retransmission (nothing sent before it carries one as high).
        let undo = (self.ts_ok && sack).then(|| Undo {
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            retransmit_ts: self.ts_now(now),
        });
        self.in_recovery = true;
        self.recover = self.snd_max;
        self.rtt_probe = None;
        self.stats.fast_retransmits = self.stats.fast_retransmits.saturating_add(1);
        self.pending.retransmission = Some(false);
        // The first segment presumed lost goes out at once, whatever pipe says.
        self.retransmit_head = true;
        if sack {
            self.sack_recovery = true;
            self.high_rxt = self.snd_una;
            self.rescue_rxt = self.snd_una;
            let prior_cwnd = self.cc.cwnd();
            self.dsack_undo_begin(prior_cwnd, self.cc.ssthresh());
            self.cc.on_recovery(self.flight_without_limited_transmit(), mss);
            let prr = Some(prr::Prr::new(prior_cwnd, self.cc.cwnd()));
            self.recovery = Some(Box::new(Recovery { undo, prr, timeout: None, dup_segments: 0 }));
        } else {
            let prior_cwnd = self.cc.cwnd();
            self.cc.on_recovery(self.flight_without_limited_transmit(), mss);
            // PRR as with SACK (RFC 6937 §3 estimates DeliveredData from
            // duplicate ACKs), as Linux does for Reno; the ACKs that
            // triggered it count.
            let prr = Some(prr::Prr::new(prior_cwnd, self.cc.cwnd()));
            let dup_segments = u32::from(self.dupacks);
            self.recovery = Some(Box::new(Recovery { undo, prr, timeout: None, dup_segments }));
        }
    }

    /// FlightSize for ssthresh at the start of recovery: RFC 5681 §3.2
    /// step 2 leaves out what Limited Transmit sent beyond cwnd (RFC 3042).
    fn flight_without_limited_transmit(&self) -> u32 {
        let flight = self.flight();
        flight - flight.saturating_sub(self.cc.cwnd()).min(2 * u32::from(self.snd_mss))
    }

    /// Recovery is over (or undone): back to the open state.
    fn leave_recovery(&mut self) {
        if let Some(r) = self.rack.as_mut() {
            r.on_recovery_end();
        }
        self.in_recovery = false;
        self.sack_recovery = false;
        self.recovery = None;
        self.dupacks = 0;
    }

    /// Eifel detection (RFC 3522) on the first ACK of new data in recovery:
    /// an echo older than the retransmission means the original arrived and
    /// the loss was not real (reordering). The response (RFC 4015) restores
    /// cwnd and ssthresh, DupThresh grows, and the recovery ends.
    fn retransmission_was_spurious(&mut self, seg: &Segment<'_>) -> bool {
        let Some(undo) = self.recovery.as_mut().and_then(|r| r.undo.take()) else { return false };
        let Some((_, ecr)) = seg.options.timestamps else { return false };
        if (ecr.wrapping_sub(undo.retransmit_ts) as i32) >= 0 {
            return false;
        }
        self.cc.on_spurious_recovery(undo.cwnd, undo.ssthresh);
        self.dsack_undo_forget();
        self.note_spurious_recovery();
        true
    }

    /// RFC 4015: a spurious recovery ends, and sending resumes with new
    /// data. Holes that are really lost start a new recovery once ACKs
    /// show them lost afresh (RACK's marks were wrong and go).
    pub(super) fn end_spurious_recovery(&mut self) {
        self.leave_recovery();
        self.recover = self.snd_una;
        if let Some(r) = self.rack.as_mut() {
            r.log.clear_lost();
        }
    }

    /// Whether a loss found now may start a fast recovery (in the open
    /// state): once the cumulative ACK is past the last recovery's
    /// RecoveryPoint (RFC 6582 §3.2 step 2); with RACK also when it is at
    /// it, since the hole there was sent after that recovery began, and a
    /// new loss (RFC 6675 §5 has no such guard; Linux starts a recovery
    /// from the open state on any loss it detects). Without this, that
    /// hole waits for the RTO while SACKs clock out new data.
    pub(super) fn may_start_recovery(&self, ack: SeqNum) -> bool {
        ack > self.recover || (self.rack_on() && ack == self.recover)
    }

    /// A recovery was spurious: the path reorders (DupThresh doubles, RACK
    /// widens its window), and the count shows it.
    pub(super) fn note_spurious_recovery(&mut self) {
        self.scoreboard.raise_dup_thresh();
        if let Some(r) = self.rack.as_mut() {
            r.on_spurious_recovery();
        }
        self.stats.spurious_recoveries = self.stats.spurious_recoveries.saturating_add(1);
    }

    /// RFC 6675 §5 (C) and §4 NextSeg, in SACK recovery, while cwnd leaves
    /// room for a segment beyond `pipe`: rule 1, the next hole deemed lost;
    /// rule 2, new data; rule 3, a hole below the highest SACK not yet deemed
    /// lost; rule 4, once per recovery and after a partial ACK, the last
    /// outstanding segment (a rescue that spares a tail loss its timeout).
    fn send_next_seg(&mut self, now: Instant, cfg: &Config, buf: &mut [u8]) -> Option<usize> {
        let mss = u32::from(self.snd_mss);
        if self.effective_cwnd() < self.pipe() + mss {
            // No room: only what new data may send regardless (a FIN, a probe).
            return self.send_new_data(now, cfg, buf);
        }
        if let Some(r) = self.rack.as_ref() {
            // RFC 8985 §6: what RACK marked lost goes first, then new data
            // (as Linux's tcp_xmit_retransmit_queue; a lost tail is the
            // probe's, RFC 6675's rules 3 and 4 are not needed).
            return match r.log.first_lost(self.snd_una, mss) {
                Some((seq, len)) => self.send_range(now, cfg, buf, seq, len as usize).map(|(n, _)| n),
                None => self.send_new_data(now, cfg, buf),
            };
        }
        let from = self.high_rxt.max(self.snd_una);
        let hole = match self.scoreboard.next_hole(from, mss, true) {
            Some(lost) => Some(lost),
            None => {
                if let Some(n) = self.send_new_data(now, cfg, buf) {
                    return Some(n);
                }
                self.scoreboard.next_hole(from, mss, false)
            }
        };
        if let Some((seq, len)) = hole {
            let (n, end) = self.send_range(now, cfg, buf, seq, len as usize)?;
            self.high_rxt = end;
            return Some(n);
        }
        let end = self.unsacked_end();
        if self.rescue_rxt < self.recover && self.snd_una > self.rescue_rxt && end > self.high_rxt {
            self.rescue_rxt = self.recover;
            let seq = (end - mss).max(self.snd_una).max(self.high_rxt);
            return self.send_range(now, cfg, buf, seq, end.since(seq) as usize).map(|(n, _)| n);
        }
        None
    }

    /// Room for new data: the windows less what is in flight; in SACK
    /// recovery, cwnd less `pipe` (RFC 6675 §5 (C)).
    fn room_for_new_data(&self) -> u32 {
        let by_peer = self.peer_room();
        if self.tlp.pending() == Some(Probe::NewData) {
            // RFC 8985 §7.3: the probe is one segment, whatever cwnd says.
            return by_peer.min(u32::from(self.snd_mss));
        }
        by_peer.min(self.cwnd_room())
    }

    /// What the peer's window leaves beyond SND.NXT.
    pub(super) fn peer_room(&self) -> u32 {
        self.snd_wnd.saturating_sub(self.snd_nxt.since(self.snd_una))
    }

    /// Bytes written and not yet sent (from SND.NXT on).
    pub(super) fn unsent(&self) -> usize {
        self.send_buf.len().saturating_sub(self.snd_nxt.since(self.snd_buf_seq) as usize)
    }

    /// What cwnd leaves for new data: less `pipe` in SACK recovery (RFC
    /// 6675 §5 (C)), less what F-RTO counts after a timeout, less the
    /// flight otherwise.
    pub(super) fn cwnd_room(&self) -> u32 {
        if let Some(prr) = self.prr() {
            prr.cwnd().saturating_sub(self.recovery_pipe())
        } else if let Some(flight) = self.frto_flight() {
            self.cc.cwnd().saturating_sub(flight)
        } else {
            // With SACK, as Linux's tcp_packets_in_flight outside recovery
            // too: what the peer SACKed (or is deemed lost) has left the
            // network, so each SACK lets new data go (RFC 3042's Limited
            // Transmit, generalised as RFC 6675 §5 does in recovery).
            // Without SACK, RFC 3042: the first two duplicate ACKs each
            // let one new segment go beyond cwnd. Going back after a
            // timeout, what is below SND.NXT is the flight.
            // With RACK's log, a go-back's flight is `pipe` too: what is
            // neither SACKed nor lost, or was resent (go_back.rs).
            if self.sack_ok && (self.snd_nxt >= self.snd_max || self.rack_on()) {
                return self.cc.cwnd().saturating_sub(self.pipe());
            }
            let limited = u32::from(self.dupacks.min(2)) * u32::from(self.snd_mss);
            (self.cc.cwnd() + limited).saturating_sub(self.snd_nxt.since(self.snd_una))
        }
    }

    /// Takes an RTT sample from the ACK if it holds one (RFC 7323 §4.1, or
    /// Karn's rule without timestamps), and returns it.
    fn take_rtt_sample(&mut self, now: Instant, cfg: &Config, seg: &Segment<'_>) -> Option<Duration> {
        let sample = if self.ts_ok {
            // RFC 7323 §4.1: RTTM from the echoed timestamp.
            let (_, ecr) = seg.options.timestamps?;
            // An echo of a segment sent before our last timeout measures
            // the stall, not the path: after a go-back, the peer answers
            // duplicates with an old TS.Recent (RFC 7323 §4.3). Skip it.
            if self.rto_ts.is_some_and(|t| (ecr.wrapping_sub(t) as i32) < 0) {
                return None;
            }
            let ms = self.ts_now(now).wrapping_sub(ecr);
            (ms <= MAX_TS_RTT_MS).then(|| Duration::from_millis(u64::from(ms)))?
        } else {
            // Karn's rule: the probe is cleared whenever we retransmit.
            let (_, sent) = self.rtt_probe.filter(|&(seq, _)| seg.ack > seq)?;
            self.rtt_probe = None;
            super::since_micros_u32(now, sent)
        };
        self.rtt.sample(sample, cfg.min_rto, cfg.max_rto);
        Some(sample)
    }

    /// What an ACK of `acked` new bytes grows cwnd by in slow start, as
    /// HyStart++ (RFC 9406 §4.2) decides: all of it, a CSS_GROWTH_DIVISOR-th
    /// in Conservative Slow Start, or (CSS over) congestion avoidance begins.
    fn slow_start_growth(&mut self, now: Instant, cfg: &Config, ack: SeqNum, acked: u32, rtt: Option<Duration>) -> u32 {
        use crate::congestion::hystart::{Growth, CSS_GROWTH_DIVISOR};
        if self.cc.cwnd() >= self.cc.ssthresh() {
            return acked;
        }
        let train = self.ack_train(now, cfg);
        match self.hystart.on_ack(ack, self.snd_nxt, rtt, train) {
            Growth::Full => acked,
            // RFC 9406 §4.2: min(N, L * SMSS) / CSS_GROWTH_DIVISOR, with L
            // infinite for a paced sender and 8 otherwise.
            Growth::Conservative if cfg.pacing => acked / CSS_GROWTH_DIVISOR,
            Growth::Conservative => acked.min(8 * u32::from(self.snd_mss)) / CSS_GROWTH_DIVISOR,
            Growth::EnterAvoidance => {
                self.cc.end_slow_start();
                acked
            }
        }
    }

    /// RFC 5681 §4.1 as Linux's tcp_slow_start_after_idle_check and
    /// tcp_cwnd_restart: after more than an RTO without data sent (pure
    /// ACKs do not count), cwnd halves for each further RTO of the pause
    /// (RFC 2861's decay), down to the initial window.
    fn restart_after_idle(&mut self, now: Instant, cfg: &Config) {
        let rto = self.rtt.rto(cfg.max_rto);
        let idle = Duration::from_millis(u64::from(now.millis_u32().wrapping_sub(self.last_data_sent_ms)));
        if idle <= rto {
            return;
        }
        let mss = u32::from(self.snd_mss).max(1);
        let segments = self.cc.cwnd() / mss;
        let restart = cfg.initial_cwnd_segments.max(1).min(segments.max(1));
        let (mut cwnd, mut left) = (segments, idle);
        // Linux: while ((delta -= rto) > 0 && cwnd > restart_cwnd) cwnd >>= 1;
        while left > rto && cwnd > restart {
            left -= rto;
            cwnd >>= 1;
        }
        self.cc.on_cwnd_restart(cwnd.max(restart) * mss, mss);
    }

    /// The ACK-train context of an ACK at `now` (Linux's CUBIC HyStart,
    /// tcp_cubic.c): the threshold is the minimum RTT plus
    /// min(1 ms, 4 x 64 KiB at the pacing rate) (hystart_ack_delay), halved
    /// without pacing; only for CUBIC and from 16 segments of cwnd
    /// (hystart_low_window). The minimum RTT must be exact to the
    /// microsecond, as Linux's: RACK's per-segment one (the estimator's,
    /// from millisecond timestamps, is 0 on a LAN), so the detector runs
    /// where RACK does; the pacing rate is taken at that RTT.
    fn ack_train(&self, now: Instant, cfg: &Config) -> crate::congestion::hystart::AckTrain {
        const LOW_WINDOW_SEGMENTS: u32 = 16;
        let now_us = now.as_micros() as u32;
        let on = cfg.hystart_ack_train
            && self.cc.kind() == crate::CongestionControl::Cubic
            && self.cc.cwnd() >= LOW_WINDOW_SEGMENTS * u32::from(self.snd_mss);
        let min_rtt = self.rack.as_ref().and_then(|r| r.min_rtt()).filter(|m| on && !m.is_zero());
        let threshold_us = min_rtt.map(|min_rtt| {
            let rate = self.pacing_rate_at(min_rtt).max(1);
            let delay = (super::pacing::GSO_MAX_SIZE as u64 * 4 * 1_000_000 / rate).min(1000);
            let threshold = (min_rtt.as_micros() as u64 + delay).min(u64::from(u32::MAX >> 1)) as u32;
            if cfg.pacing {
                threshold
            } else {
                threshold / 2
            }
        });
        crate::congestion::hystart::AckTrain { now_us, threshold_us }
    }

    /// The next segment this connection wants to send, written into `buf`
    /// (TCP header and payload) within `tx`. Returns its length and, for a
    /// super-segment, the size of the segments the device must cut it into.
    pub(crate) fn poll_segment(
        &mut self,
        now: Instant,
        cfg: &Config,
        buf: &mut [u8],
        tx: TxLimits,
    ) -> Option<(usize, Option<u16>)> {
        self.tx = tx;
        self.tx_segment_size = 0;
        let max_before = self.snd_max;
        let sent = self.next_segment(now, cfg, buf);
        if self.state.is_synchronized() {
            self.validate_cwnd();
            self.chrono_on_pass(now, self.snd_max > max_before);
        }
        let n = sent?;
        self.rearm_timers(now, cfg);
        if self.snd_max > max_before {
            // New data went out: the probe counts from its transmission.
            self.schedule_probe(now, cfg);
        }
        Some((n, Some(core::mem::take(&mut self.tx_segment_size)).filter(|&s| s > 0)))
    }

    fn next_segment(&mut self, now: Instant, cfg: &Config, buf: &mut [u8]) -> Option<usize> {
        if let Some(rst) = self.send_rst.take() {
            return match rst {
                Rst::Abort => {
                    let seq = self.acceptable_seq();
                    self.emit(now, cfg, buf, seq, TcpFlags::RST | TcpFlags::ACK, 0)
                }
                Rst::ForAck(seq) => self.emit(now, cfg, buf, seq, TcpFlags::RST, 0),
            };
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent => {
                if self.snd_nxt == self.iss {
                    return self.send_syn(now, cfg, buf, TcpFlags::SYN);
                }
                return None;
            }
            State::SynReceived if self.snd_nxt == self.iss => {
                return self.send_syn(now, cfg, buf, TcpFlags::SYN | TcpFlags::ACK);
            }
            State::SynReceived => {}
            _ => {
                let sent_before = self.stats.bytes_sent;
                let sent = self.send_data(now, cfg, buf);
                let bytes = (self.stats.bytes_sent - sent_before).min(u64::from(u32::MAX)) as u32;
                if let Some(prr) = self.prr_mut() {
                    prr.on_sent(bytes);
                }
                if bytes > 0 {
                    self.on_paced_send(now, cfg, bytes);
                }
                if sent.is_some() {
                    return sent;
                }
            }
        }
        self.send_control(now, cfg, buf)
    }

    /// Data to send in a synchronized state: the head retransmission a
    /// recovery or timeout asked for, what SACK recovery picks, or new data.
    fn send_data(&mut self, now: Instant, cfg: &Config, buf: &mut [u8]) -> Option<usize> {
        if let Some(probe) = self.tlp.pending() {
            let sent = match probe {
                Probe::NewData => self.send_new_data(now, cfg, buf),
                Probe::Tail => {
                    // The last segment sent (and the FIN, if it went) that
                    // the peer has not SACKed.
                    let unsacked = self.unsacked_end();
                    let data_end = (self.snd_buf_seq + self.send_buf.len() as u32).min(unsacked);
                    let seq = (data_end - u32::from(self.snd_mss)).max(self.snd_una);
                    self.send_range(now, cfg, buf, seq, usize::from(self.snd_mss)).map(|(n, _)| n)
                }
            };
            self.probe_done();
            if sent.is_some() {
                self.probe_sent();
                return sent;
            }
        }
        if self.retransmit_head && self.head_may_go() {
            self.retransmit_head = false;
            // With RACK, the first segment it marked lost.
            let first_lost = self.rack.as_ref().and_then(|r| r.log.first_lost(self.snd_una, 1));
            let seq = first_lost.map_or(self.snd_una, |(seq, _)| seq);
            if let Some((n, end)) = self.send_range(now, cfg, buf, seq, usize::from(self.snd_mss)) {
                if self.sack_recovery && end > self.high_rxt {
                    // RFC 6675 §5 (4.3): HighRxt and RescueRxt cover the first retransmission.
                    self.high_rxt = end;
                    self.rescue_rxt = end;
                }
                return Some(n);
            }
        }
        if self.pacing_holds(now, cfg) {
            return None;
        }
        if self.sack_recovery {
            self.send_next_seg(now, cfg, buf)
        } else if self.tso_defers(now, cfg) {
            None
        } else {
            self.send_new_data(now, cfg, buf)
        }
    }

    /// Segments without data: a keepalive probe, an owed ACK.
    fn send_control(&mut self, now: Instant, cfg: &Config, buf: &mut [u8]) -> Option<usize> {
        if self.keepalive_probe {
            self.keepalive_probe = false;
            // RFC 9293 §3.8.4: a probe with SEG.SEQ = SND.NXT - 1 elicits an ACK.
            let seq = self.snd_una - 1;
            return self.emit(now, cfg, buf, seq, TcpFlags::ACK, 0);
        }
        let delack_due = self.timers.delack.is_some_and(|t| t <= now);
        if self.ack_now || delack_due {
            let seq = self.acceptable_seq();
            return self.emit(now, cfg, buf, seq, TcpFlags::ACK, 0);
        }
        None
    }

    fn send_syn(&mut self, now: Instant, cfg: &Config, buf: &mut [u8], flags: TcpFlags) -> Option<usize> {
        let iss = self.iss;
        if self.snd_max == self.iss && !self.ts_ok {
            self.rtt_probe = Some((iss, super::micros_u32(now)));
        }
        let n = self.emit(now, cfg, buf, iss, flags, 0)?;
        if self.snd_max > self.iss {
            self.stats.retransmits += 1;
        }
        self.snd_nxt = iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.timers.rtx.is_none() {
            self.timers.rtx = Some(now + self.rtt.rto(cfg.max_rto));
        }
        Some(n)
    }

    /// New data at SND.NXT, as much as the windows, Nagle and SWS avoidance allow.
    fn send_new_data(&mut self, now: Instant, cfg: &Config, buf: &mut [u8]) -> Option<usize> {
        let seq = self.snd_nxt;
        if self.fin_queued && seq > self.fin_seq() {
            return None;
        }
        let off = seq.since(self.snd_buf_seq) as usize;
        let unsent = self.unsent().min(self.go_back_limit(seq));
        let in_flight = self.snd_nxt.since(self.snd_una);
        let mss = usize::from(self.snd_mss);
        if self.force_probe {
            // Zero-window probe: one byte of new data, past the window (RFC 9293 §3.8.6.1).
            self.force_probe = false;
            if unsent > 0 || self.fin_queued {
                self.stats.window_probes = self.stats.window_probes.saturating_add(1);
                return self.send_range(now, cfg, buf, seq, 1).map(|(n, _)| n);
            }
        }
        if cfg.slow_start_after_idle && in_flight == 0 && seq >= self.snd_max && unsent > 0 {
            self.restart_after_idle(now, cfg);
        }
        let room = self.room_for_new_data() as usize;
        // With segmentation offload, one super-segment of whole segments,
        // sized as Linux sizes TSO bursts (RFC 9293 §3.7.4 and Linux's
        // tcp_mss_split_point: a partial tail rides only at the end of the
        // queued data, and only when Nagle would send it).
        // At most half of cwnd in one burst, so that at least two are in
        // flight (Linux's tcp_cwnd_test).
        let half_cwnd = (self.effective_cwnd() as usize / mss / 2).max(1) * mss;
        let goal = if self.tx.gso { self.tso_goal().min(half_cwnd) } else { mss };
        let mut len = unsent.min(goal).min(room);
        if len > mss && len % mss != 0 && (len < unsent || self.nagle_holds_runt(in_flight)) {
            len -= len % mss;
        }
        let fin_rides = self.fin_queued && off + len == self.send_buf.len();
        if len == 0 && !fin_rides {
            return None;
        }
        if len > 0 && len < mss && seq >= self.snd_max && !fin_rides {
            if self.nagle_holds_runt(in_flight) {
                return None;
            }
            // Sender SWS avoidance: wait for a usable window unless idle.
            if len < unsent && in_flight > 0 && (len as u32) < self.max_snd_wnd / 2 {
                return None;
            }
        }
        self.send_range(now, cfg, buf, seq, len).map(|(n, _)| n)
    }

    /// Nagle (RFC 9293 §3.7.4) with Minshall's refinement, as Linux: hold
    /// a runt only while an earlier runt is unacknowledged, so the tail of a
    /// write is not held behind full-sized segments; TCP_CORK holds every
    /// runt until uncorked.
    fn nagle_holds_runt(&self, in_flight: u32) -> bool {
        let minshall = in_flight > 0 && self.snd_sml > self.snd_una && self.snd_sml <= self.snd_nxt;
        self.cork || self.more || (!self.nodelay && minshall)
    }

    /// A data (and possibly FIN) segment starting at `seq`, at most `max_len`
    /// bytes (with segmentation offload, a super-segment of whole segments
    /// up to `max_len`). Returns its length and the sequence number just past it.
    fn send_range(
        &mut self,
        now: Instant,
        cfg: &Config,
        buf: &mut [u8],
        seq: SeqNum,
        max_len: usize,
    ) -> Option<(usize, SeqNum)> {
        if seq < self.snd_buf_seq {
            return None;
        }
        let off = seq.since(self.snd_buf_seq) as usize;
        if off > self.send_buf.len() {
            return None;
        }
        // SACK blocks make the header longer: the payload shrinks to fit.
        let options = self.segment_options(now, cfg, TcpFlags::ACK);
        let header = synack_wire::tcp::HEADER_LEN + options.len();
        let piece = usize::from(self.snd_mss).min(self.tx.mtu_body.saturating_sub(header)).max(1);
        let max_len = if self.tx.gso { max_len } else { max_len.min(piece) };
        let max_len = max_len.min(buf.len().saturating_sub(header));
        let mut len = (self.send_buf.len() - off).min(max_len);
        if len > piece && off + len < self.send_buf.len() {
            len -= len % piece;
        }
        let fin = self.fin_queued && off + len == self.send_buf.len();
        if len == 0 && !fin {
            return None;
        }
        let mut flags = TcpFlags::ACK;
        // PSH at the end of what the application wrote, and on every
        // super-segment (its last piece), as Linux forces it on GSO packets
        // to flush the receiver's GRO (tcp_output.c, __tcp_transmit_skb);
        // and on new data more than half the peer's largest window past
        // the last PSH, as Linux's forced_push in tcp_sendmsg.
        let data_end = seq + len as u32;
        let forced = data_end > self.pushed_seq && data_end.since(self.pushed_seq) > self.max_snd_wnd / 2;
        let write_end = off + len == self.send_buf.len() && !self.tail_unpushed;
        if len > 0 && (write_end || len > piece || forced) {
            flags |= TcpFlags::PSH;
            if data_end > self.pushed_seq {
                self.pushed_seq = data_end;
            }
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        // Nothing outstanding: the controller hears how long the sender
        // paused (Linux's tcp_event_data_sent, packets_out 0).
        let idle = (len > 0 && self.snd_max == self.snd_una)
            .then(|| Duration::from_millis(u64::from(now.millis_u32().wrapping_sub(self.last_data_sent_ms))));
        let n = self.emit_with(now, buf, seq, flags, len, options)?;
        if len > 0 {
            self.ack.on_data_sent(now);
        }
        if let Some(idle) = idle {
            self.cc.on_tx_start(idle, now);
        }
        if len > piece {
            self.tx_segment_size = piece as u16;
            self.stats.segs_out += (len.div_ceil(piece) - 1) as u64;
        }
        if len > 0 {
            self.stats.data_segs_out += len.div_ceil(piece.max(1)) as u64;
        }
        let end = seq + len as u32 + u32::from(fin);
        self.rack_on_sent(cfg, seq, end, now);
        if len % usize::from(self.snd_mss).max(1) != 0 {
            self.snd_sml = seq + len as u32;
        }
        if seq < self.snd_max {
            self.stats.retransmits += 1;
            self.stats.bytes_retrans += len as u64;
            self.dsack_undo_on_retransmit(seq, end.since(seq));
            if self.rtt_probe.is_some_and(|(s, _)| s >= seq) {
                self.rtt_probe = None;
            }
            if seq == self.snd_una && !self.tlp.armed() {
                // The head went again: the RTO counts from now (as Linux's
                // tcp_xmit_retransmit_queue), not from its first sending.
                self.timers.rtx = Some(now + self.rtt.rto(cfg.max_rto));
            }
        } else if self.rtt_probe.is_none() && !self.ts_ok {
            self.rtt_probe = Some((seq, super::micros_u32(now)));
        }
        if end > self.snd_nxt {
            self.snd_nxt = end;
            self.skip_sacked();
        }
        if end > self.snd_max {
            self.snd_max = end;
        }
        if self.timers.rtx.is_none() {
            self.timers.rtx = Some(now + self.rtt.rto(cfg.max_rto));
        }
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
        Some((n, end))
    }

    /// Builds one segment with our options, window and ACK into `buf`;
    /// `len` bytes of payload come from the send ring at `seq`.
    fn emit(
        &mut self,
        now: Instant,
        cfg: &Config,
        buf: &mut [u8],
        seq: SeqNum,
        flags: TcpFlags,
        len: usize,
    ) -> Option<usize> {
        let options = self.segment_options(now, cfg, flags);
        self.emit_with(now, buf, seq, flags, len, options)
    }

    /// [`Self::emit`] with the options already built.
    fn emit_with(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        seq: SeqNum,
        flags: TcpFlags,
        len: usize,
        options: TcpOptions,
    ) -> Option<usize> {
        let syn = flags.syn();
        let window = if flags.rst() && !flags.ack() { 0 } else { self.window_to_advertise(syn) };
        // RFC 9293 §3.8.5 (MUST-62): the pointer is the offset of the first
        // octet after the urgent data.
        let mut flags = flags;
        let mut urgent = 0;
        if let Some(up) = self.snd_up.filter(|&up| up > seq && !syn && !flags.rst()) {
            flags |= TcpFlags::URG;
            urgent = up.since(seq).min(u32::from(u16::MAX)) as u16;
        }
        let repr = TcpRepr {
            src_port: self.tuple.local.port(),
            dst_port: self.tuple.remote.port(),
            seq: seq.0,
            ack: if flags.ack() { self.rcv_nxt.0 } else { 0 },
            flags,
            window,
            urgent,
            options,
        };
        let hlen = repr.header_len();
        if buf.len() < hlen + len {
            return None;
        }
        if len > 0 {
            let off = seq.since(self.snd_buf_seq) as usize;
            self.send_buf.copy_out(off, &mut buf[hlen..hlen + len]);
        }
        let (src, dst) = (self.tuple.local.ip(), self.tuple.remote.ip());
        let n = repr.emit_in_place_with(buf, len, src, dst, self.tx.partial_checksum).ok()?;
        if flags.ack() {
            self.ack.on_ack_sent();
            self.dsack = None;
            self.ack_now = false;
            self.unacked_rcv_bytes = 0;
            self.timers.delack = None;
            self.last_ack_sent = self.rcv_nxt;
        }
        if flags.rst() {
            self.stats.resets_out = self.stats.resets_out.saturating_add(1);
        }
        // A passive open's SYN-ACKs are not counted, as Linux sends them from
        // its request socket (tcpi_segs_out starts at the handshake's end).
        if !(flags.syn() && matches!(self.origin, Origin::Passive(_))) {
            self.stats.segs_out += 1;
        }
        self.stats.bytes_sent += len as u64;
        self.last_send = now;
        if len > 0 {
            self.last_data_sent_ms = now.millis_u32();
        }
        Some(n)
    }

    /// The sequence number for a segment without data (ACK, RST): SND.MAX,
    /// not SND.NXT, since after a go-back the peer may already hold data past
    /// SND.NXT; but never beyond the peer's window (a zero-window probe byte
    /// it did not take), where the segment would be unacceptable (as Linux's
    /// tcp_acceptable_seq).
    fn acceptable_seq(&self) -> SeqNum {
        let right_edge = self.snd_una + self.snd_wnd;
        if self.snd_max > right_edge && self.state.is_synchronized() {
            right_edge.max(self.snd_una)
        } else {
            self.snd_max
        }
    }

    /// The options of a segment with `flags`: the SYN options, or timestamps
    /// and SACK blocks.
    fn segment_options(&self, now: Instant, cfg: &Config, flags: TcpFlags) -> TcpOptions {
        let syn = flags.syn();
        let mut options = if syn { self.syn_options(now, cfg) } else { TcpOptions::default() };
        if !syn && self.ts_ok {
            options.timestamps = Some((self.ts_now(now), self.ts_recent));
        }
        if flags.ack() && !syn && !flags.rst() {
            let mut blocks = [SackBlock::default(); 4];
            let n = self.sack_blocks(&mut blocks);
            options.set_sack_blocks(&blocks[..n]);
        }
        options
    }

    /// TCP_CORK: hold partial segments until uncorked (full segments and a
    /// FIN still go out).
    pub(crate) fn set_cork(&mut self, now: Instant, cfg: &Config, cork: bool) {
        self.cork = cork;
        self.after_event(now, cfg);
    }

    /// Disables or enables Nagle's algorithm (TCP_NODELAY).
    pub(crate) fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }
}
