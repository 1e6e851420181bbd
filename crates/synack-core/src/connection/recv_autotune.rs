//! Receive-buffer autotuning ("dynamic right-sizing", as Linux's
//! tcp_rcv_space_adjust and tcp_rcv_rtt_measure do it): the buffer starts
//! at `Config::recv_buffer_initial` and, once per receiver-side RTT, grows
//! to what the application read in the last RTT, doubled and with room
//! for the sender's growth, up to the socket's receive buffer (Linux's
//! tcp_rmem[2]). A long fat path gets the window it needs; a short one, or
//! a reader that does not keep up, keeps a small buffer. Setting the
//! buffer size (SO_RCVBUF) fixes it, as Linux's SOCK_RCVBUF_LOCK.
//!
//! The receiver's RTT comes from the echo of our TSval (smoothed by 1/8,
//! as Linux's tcp_rcv_rtt_measure_ts), or without timestamps from the time
//! one window of data takes to arrive (the minimum seen).

use super::{Connection, Segment};
use crate::seq::SeqNum;
use crate::time::Instant;
use core::time::Duration;

/// Autotuning state, allocated when the connection first receives data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvAutotune {
    /// Bytes read in the last measured RTT (Linux's rcvq_space.space).
    space: u32,
    /// Where reading stood, and when, at the start of this measurement.
    read_seq: SeqNum,
    read_at: Instant,
    /// The receiver's RTT estimate (zero: none yet).
    rtt: Duration,
    /// Without timestamps: the window being timed ends here, started then.
    rtt_seq: SeqNum,
    rtt_start: Option<Instant>,
    /// The last echo sampled (one sample per echo).
    last_ecr: u32,
}

/// Linux's TCP_INIT_CWND: the first estimate of what is read per RTT, in segments.
const INITIAL_SPACE_SEGMENTS: u32 = 10;

impl Connection {
    /// The sequence number just past what the application has read.
    fn read_seq(&self) -> SeqNum {
        self.rcv_nxt - self.rcv_buf.len() as u32
    }

    /// In-order data of `len` bytes arrived in `seg` (RFC 7323 §4's echo
    /// gives the receiver an RTT sample, as Linux's tcp_rcv_rtt_measure_ts).
    pub(super) fn autotune_on_data(&mut self, now: Instant, seg: &Segment<'_>, len: usize) {
        if !self.recv_autotune || len == 0 {
            return;
        }
        if self.autotune.is_none() {
            // The data is in already: the window as it was before it.
            let space = self.initial_space().max(len as u32).min(INITIAL_SPACE_SEGMENTS * u32::from(self.rcv_mss));
            let (read_seq, rcv_nxt) = (self.read_seq(), self.rcv_nxt);
            self.autotune = Some(Box::new(RecvAutotune {
                space,
                read_seq,
                read_at: now,
                rtt: Duration::ZERO,
                rtt_seq: rcv_nxt,
                rtt_start: None,
                last_ecr: 0,
            }));
        }
        let ts_now = self.ts_now(now);
        let (rcv_nxt, window) = (self.rcv_nxt, self.rcv_adv.since(self.rcv_nxt));
        // Full-sized as the peer sends them (Linux's icsk_ack.rcv_mss).
        let full = len >= usize::from(self.peer_seg_mss);
        let ecr = seg.options.timestamps.map(|(_, ecr)| ecr).filter(|&e| self.ts_ok && e != 0);
        let Some(a) = self.autotune.as_mut() else { return };
        match ecr {
            Some(ecr) => {
                if ecr == a.last_ecr {
                    return;
                }
                a.last_ecr = ecr;
                let ms = ts_now.wrapping_sub(ecr) as i32;
                if full && ms >= 0 {
                    // Millisecond ticks: a same-tick echo counts as one.
                    let sample = Duration::from_millis(u64::from(ms.max(1) as u32));
                    a.rtt = if a.rtt.is_zero() { sample } else { a.rtt - a.rtt / 8 + sample / 8 };
                }
            }
            None => {
                if let Some(start) = a.rtt_start {
                    if rcv_nxt < a.rtt_seq {
                        return;
                    }
                    // A window's worth arrived: the minimum is the estimate.
                    let sample = now.saturating_since(start).max(Duration::from_micros(1));
                    a.rtt = if a.rtt.is_zero() { sample } else { a.rtt.min(sample) };
                }
                a.rtt_seq = rcv_nxt + window;
                a.rtt_start = Some(now);
            }
        }
    }

    /// The application read: once per receiver RTT, the buffer grows to
    /// what was read in it (Linux's tcp_rcv_space_adjust).
    pub(super) fn autotune_on_read(&mut self, now: Instant) {
        let read_seq = self.read_seq();
        let (mss, max) = (u64::from(self.rcv_mss), u64::from(self.recv_max));
        let Some(a) = self.autotune.as_mut() else { return };
        if a.rtt.is_zero() || now.saturating_since(a.read_at) < a.rtt {
            return;
        }
        let copied = read_seq.since(a.read_seq);
        if copied > a.space {
            // Twice what one RTT carried, to cope with losses, a cushion
            // of 16 segments, and room for a sender still in slow start.
            let (copied64, space) = (u64::from(copied), u64::from(a.space));
            let mut rcvwin = 2 * copied64 + 16 * mss;
            let grow = rcvwin * (copied64 - space) / space;
            rcvwin += 2 * grow;
            let target = rcvwin.min(max) as usize;
            if target > self.recv_limit {
                self.recv_limit = target;
            }
            a.space = copied;
        }
        a.read_seq = read_seq;
        a.read_at = now;
    }

    /// What was read in the last measured RTT; before any data, the first
    /// estimate (Linux's tcp_init_buffer_space).
    pub(super) fn autotune_space(&self) -> u32 {
        self.autotune.as_ref().map_or_else(|| self.initial_space(), |a| a.space)
    }

    /// The receiver's RTT estimate, once there is one.
    pub(super) fn autotune_rtt(&self) -> Option<Duration> {
        self.autotune.as_ref().map(|a| a.rtt).filter(|r| !r.is_zero())
    }

    /// min(10 segments, the window offered, the window's ceiling).
    fn initial_space(&self) -> u32 {
        let window = self.rcv_adv.since(self.rcv_nxt).max(1);
        (INITIAL_SPACE_SEGMENTS * u32::from(self.rcv_mss)).min(window).min(self.rcv_wnd_ceiling).max(1)
    }

    /// The most the receive buffer may grow to (the window scale is chosen for it).
    pub(super) fn recv_ceiling(&self) -> usize {
        if self.recv_autotune {
            (self.recv_max as usize).max(self.recv_limit)
        } else {
            self.recv_limit
        }
    }
}
