//! Congestion control: the interface a connection drives, NewReno and CUBIC.

mod cubic;
pub(crate) mod hystart;
mod new_reno;

use crate::config::CongestionControl;
use crate::time::Instant;
use core::time::Duration;
pub use cubic::Cubic;
pub use new_reno::NewReno;

/// What a congestion controller is told and what it decides: the
/// congestion window and slow-start threshold, in bytes.
pub trait CongestionController {
    /// The congestion window.
    fn cwnd(&self) -> u32;
    /// The slow-start threshold.
    fn ssthresh(&self) -> u32;
    /// New data was cumulatively acknowledged outside recovery, at `now`,
    /// with the smoothed RTT if one is known.
    fn on_ack(&mut self, acked: u32, mss: u32, now: Instant, srtt: Option<Duration>);
    /// An ACK of new data gave an RTT sample (Linux's pkts_acked with
    /// ca_rtt_us: the newest segment acknowledged, none after a
    /// retransmission), before `on_ack`, in recovery too.
    fn on_rtt_sample(&mut self, _rtt: Duration, _now: Instant) {}
    /// Loss detected (three duplicate ACKs, RFC 5681 §3.2 step 2; SACK or
    /// RACK, RFC 6675 §5 (4.2)): enter fast recovery with cwnd = ssthresh.
    /// What recovery sends is PRR's (RFC 6937), not a window inflated by
    /// duplicate ACKs; `flight` is FlightSize without Limited Transmit's.
    fn on_recovery(&mut self, flight: u32, mss: u32);
    /// The ACK that ends recovery: cwnd = ssthresh (RFC 6582 §3.2 step 6,
    /// its second option, as Linux's tcp_end_cwnd_reduction; pacing and
    /// PRR's last ACKs keep the burst small).
    fn on_recovery_end(&mut self);
    /// The recovery was spurious (RFC 3522): restore the window and
    /// threshold from before it (RFC 4015 §3.2).
    fn on_spurious_recovery(&mut self, cwnd: u32, ssthresh: u32);
    /// A retransmission timeout (RFC 5681 §3.1, eq. 4).
    fn on_rto(&mut self, flight: u32, mss: u32);
    /// A further timeout of a segment the timer already retransmitted:
    /// cwnd is the loss window, ssthresh is held (RFC 5681 §3.1).
    fn on_repeated_rto(&mut self, mss: u32);
    /// Restart after idle (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, restart_window: u32);
    /// Restart after an idle period longer than the RTO, as Linux's
    /// tcp_cwnd_restart: ssthresh = max(ssthresh, 3/4 cwnd) in whole
    /// segments (tcp_current_ssthresh), then cwnd = `cwnd` (the caller's
    /// decayed window); CUBIC keeps its epoch, which `on_tx_start` shifts.
    fn on_cwnd_restart(&mut self, cwnd: u32, mss: u32);
    /// Data goes out with nothing outstanding, `idle` after the last data
    /// sent (Linux's CA_EVENT_TX_START).
    fn on_tx_start(&mut self, _idle: Duration, _now: Instant) {}
    /// HyStart++ ends slow start (RFC 9406 §4.2): ssthresh = cwnd, and
    /// congestion avoidance from here.
    fn end_slow_start(&mut self);
}

/// The controller a connection runs, as `Config::congestion_control` chose.
#[derive(Debug, Clone, Copy)]
pub enum Congestion {
    /// NewReno (RFC 5681, RFC 6582).
    NewReno(NewReno),
    /// CUBIC (RFC 9438).
    Cubic(Cubic),
}

impl Congestion {
    /// A controller of `kind` with an initial window of `initial` bytes.
    pub fn new(kind: CongestionControl, initial: u32) -> Self {
        match kind {
            CongestionControl::NewReno => Self::NewReno(NewReno::new(initial)),
            CongestionControl::Cubic => Self::Cubic(Cubic::new(initial)),
        }
    }

    /// Which algorithm this is.
    pub fn kind(&self) -> CongestionControl {
        match self {
            Self::NewReno(_) => CongestionControl::NewReno,
            Self::Cubic(_) => CongestionControl::Cubic,
        }
    }
}

/// Calls the same method on whichever controller is in use.
macro_rules! each {
    ($self:expr, $c:ident => $call:expr) => {
        match $self {
            Congestion::NewReno($c) => $call,
            Congestion::Cubic($c) => $call,
        }
    };
}

impl CongestionController for Congestion {
    fn cwnd(&self) -> u32 {
        each!(self, c => c.cwnd())
    }
    fn ssthresh(&self) -> u32 {
        each!(self, c => c.ssthresh())
    }
    fn on_ack(&mut self, acked: u32, mss: u32, now: Instant, srtt: Option<Duration>) {
        each!(self, c => c.on_ack(acked, mss, now, srtt))
    }
    fn on_rtt_sample(&mut self, rtt: Duration, now: Instant) {
        each!(self, c => c.on_rtt_sample(rtt, now))
    }
    fn on_recovery(&mut self, flight: u32, mss: u32) {
        each!(self, c => c.on_recovery(flight, mss))
    }
    fn on_recovery_end(&mut self) {
        each!(self, c => c.on_recovery_end())
    }
    fn on_spurious_recovery(&mut self, cwnd: u32, ssthresh: u32) {
        each!(self, c => c.on_spurious_recovery(cwnd, ssthresh))
    }
    fn on_rto(&mut self, flight: u32, mss: u32) {
        each!(self, c => c.on_rto(flight, mss))
    }
    fn on_repeated_rto(&mut self, mss: u32) {
        each!(self, c => c.on_repeated_rto(mss))
    }
    fn on_idle_restart(&mut self, restart_window: u32) {
        each!(self, c => c.on_idle_restart(restart_window))
    }
    fn on_cwnd_restart(&mut self, cwnd: u32, mss: u32) {
        each!(self, c => c.on_cwnd_restart(cwnd, mss))
    }
    fn on_tx_start(&mut self, idle: Duration, now: Instant) {
        each!(self, c => c.on_tx_start(idle, now))
    }
    fn end_slow_start(&mut self) {
        each!(self, c => c.end_slow_start())
    }
}

/// ssthresh = max(ssthresh, 3/4 cwnd) in whole segments, as Linux's
/// tcp_current_ssthresh (outside a cwnd reduction).
pub(crate) fn current_ssthresh(ssthresh: u32, cwnd: u32, mss: u32) -> u32 {
    let segs = cwnd / mss.max(1);
    ssthresh.max(((segs >> 1) + (segs >> 2)) * mss.max(1))
}

/// Slow start as Linux's tcp_slow_start (RFC 5681 §3.1): cwnd grows by
/// everything the ACK delivered, up to ssthresh; returns what is left for
/// congestion avoidance. Linux has no byte-counting limit (it dropped
/// RFC 3465's L in 2013), so a stretch ACK or a receiver acknowledging a
/// GRO super-segment grows cwnd as much as the ACKs it stands for; RFC
/// 9406 §4.2 sets no limit for a paced sender either, and RFC 5681's
/// min(N, SMSS) is a SHOULD.
pub(crate) fn slow_start(cwnd: &mut u32, ssthresh: u32, acked: u32) -> u32 {
    if *cwnd >= ssthresh {
        return acked;
    }
    let grown = acked.min(ssthresh - *cwnd);
    *cwnd += grown;
    acked - grown
}
