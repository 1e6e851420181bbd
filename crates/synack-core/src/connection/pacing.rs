//! The pacing rate and the size of TSO bursts, as Linux computes them
//! (`tcp_update_pacing_rate`, `tcp_tso_autosize` in net/ipv4/tcp_output.c):
//! a super-segment carries about a millisecond of data at the pacing rate,
//! at least two segments, more on a short path, and never more than the
//! congestion window, the peer's window or 64 KiB allow. With
//! `Config::pacing`, data also leaves at that rate (as Linux's internal
//! pacing, `tcp_internal_pacing`: each transmission moves the earliest time
//! of the next by its length over the rate), so that a window does not
//! arrive at the bottleneck as one burst.

use super::Connection;
use crate::congestion::CongestionController;
use crate::time::Instant;
use crate::Config;
use core::time::Duration;

/// How far behind a late timer may leave the pacing clock: a runtime whose
/// timers fire on millisecond ticks sends up to this much at once to catch
/// up, instead of losing the rate (Linux's hrtimers need none).
const PACING_SLACK: Duration = Duration::from_millis(2);

/// Linux's `tcp_pacing_ss_ratio`: 200 % of cwnd/srtt in slow start.
const PACING_SS_RATIO: u64 = 200;
/// Linux's `tcp_pacing_ca_ratio`: 120 % of cwnd/srtt in congestion avoidance.
const PACING_CA_RATIO: u64 = 120;
/// Linux's `sk_pacing_shift` default 10: a burst is about 1/1024 s of data.
const PACING_SHIFT: u32 = 10;
/// Linux's `tcp_tso_rtt_log` default 9: on a path with min RTT below
/// 2^9 µs a whole 64 KiB is added, halving per doubling of the RTT.
const TSO_RTT_LOG: u32 = 9;
/// Linux's `tcp_min_tso_segs` default.
const MIN_TSO_SEGS: usize = 2;
/// Linux's `GSO_MAX_SIZE` (the most one super-segment may be).
pub(super) const GSO_MAX_SIZE: usize = 65_536;
/// Largest IP header plus TCP header of a super-segment (IPv6, full options).
const MAX_HEADERS: usize = 40 + 60;

impl Connection {
    /// The pacing rate in bytes per second: max(cwnd, in flight) / SRTT,
    /// times 200 % in slow start (cwnd below half ssthresh) and 120 %
    /// after. `None` before the first RTT sample (unlimited, as Linux).
    pub(super) fn pacing_rate(&self) -> Option<u64> {
        Some(self.pacing_rate_at(self.rtt.srtt()?))
    }

    /// The pacing rate, in bytes per second, were the round trip `rtt`.
    pub(super) fn pacing_rate_at(&self, rtt: Duration) -> u64 {
        let srtt = rtt.as_micros().max(1) as u64;
        let cwnd = u64::from(self.cc.cwnd()).max(u64::from(self.snd_max.since(self.snd_una)));
        let ratio = if u64::from(self.cc.cwnd()) < u64::from(self.cc.ssthresh()) / 2 {
            PACING_SS_RATIO
        } else {
            PACING_CA_RATIO
        };
        cwnd.saturating_mul(ratio).saturating_mul(10_000) / srtt
    }

    /// Bytes one super-segment of new data may carry: Linux's
    /// `tcp_tso_autosize`, as a whole number of MSS-sized segments.
    pub(super) fn tso_goal(&self) -> usize {
        let mss = usize::from(self.snd_mss).max(1);
        let mut bytes = self.pacing_rate().map_or(GSO_MAX_SIZE, |r| (r >> PACING_SHIFT) as usize);
        let min_rtt_us = self.rtt.min_rtt().map_or(0, |d| d.as_micros() as u64);
        let r = min_rtt_us >> TSO_RTT_LOG;
        if r < usize::BITS as u64 {
            bytes = bytes.saturating_add(GSO_MAX_SIZE >> r);
        }
        (bytes.min(GSO_MAX_SIZE) / mss).max(MIN_TSO_SEGS).min(self.gso_max_segments()) * mss
    }

    /// Whole segments one super-segment holds at most (64 KiB less headers).
    pub(super) fn gso_max_segments(&self) -> usize {
        ((GSO_MAX_SIZE - 1 - MAX_HEADERS) / usize::from(self.snd_mss).max(1)).max(1)
    }

    /// Pacing holds data back until `pace_next` (the deadline is then one of
    /// the connection's timers).
    pub(super) fn pacing_holds(&mut self, now: Instant, cfg: &Config) -> bool {
        // New data and SACK recovery are paced; a go-back after a timeout
        // or an ICMP error (cwnd is small then) resends at once.
        let waiting = (self.has_unsent() && self.snd_nxt >= self.snd_max) || self.sack_recovery;
        self.paced = cfg.pacing && now < self.pace_next && waiting;
        self.paced
    }

    /// `bytes` of data left at `now`: the next may leave their length at the
    /// pacing rate later.
    pub(super) fn on_paced_send(&mut self, now: Instant, cfg: &Config, bytes: u32) {
        let Some(rate) = self.pacing_rate().filter(|&r| cfg.pacing && r > 0) else { return };
        let floor = Instant::from_micros(now.as_micros().saturating_sub(PACING_SLACK.as_micros() as u64));
        let from = if self.pace_next > floor { self.pace_next } else { floor };
        self.pace_next = from + Duration::from_micros(u64::from(bytes).saturating_mul(1_000_000) / rate);
    }
}
