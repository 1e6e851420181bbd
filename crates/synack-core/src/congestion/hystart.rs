//! HyStart++ (RFC 9406): leaving slow start before it overflows the
//! bottleneck's queue. Slow start is watched in rounds (one window of
//! data); when a round's minimum RTT has risen over the previous round's by
//! a threshold (an eighth of it, between 4 and 16 ms), the queue is
//! building: Conservative Slow Start (CSS) grows cwnd a quarter as fast for
//! up to five rounds, then congestion avoidance begins (ssthresh = cwnd).
//! An RTT back below CSS's baseline means the rise was spurious: slow start
//! resumes. Used in the initial slow start only (RFC 9406 §4.3 leaves
//! later ones to standard slow start); a loss ends it as it ends slow start.
//!
//! RFC 9406 is not in `../shared/rfc/`; the constants below are the ones
//! its §4.3 recommends, as remembered, and match Linux's tcp_cubic HyStart
//! delay thresholds (4 to 16 ms, an eighth of the RTT).

use crate::seq::SeqNum;
use core::time::Duration;

/// RFC 9406 §4.3 MIN_RTT_THRESH: 4 ms.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3 MAX_RTT_THRESH: 16 ms.
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3 MIN_RTT_DIVISOR: 8.
const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3 N_RTT_SAMPLE: 8 RTT samples a round before deciding.
const N_RTT_SAMPLE: u8 = 8;
/// RFC 9406 §4.3 CSS_GROWTH_DIVISOR: 4.
pub(crate) const CSS_GROWTH_DIVISOR: u32 = 4;
/// RFC 9406 §4.3 CSS_ROUNDS: 5.
const CSS_ROUNDS: u8 = 5;

/// Where HyStart++ is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Standard slow start, watching the RTT.
    SlowStart,
    /// Conservative Slow Start.
    Css,
    /// Over: congestion avoidance, a loss, or HyStart++ off.
    Done,
}

/// What an ACK in slow start should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Growth {
    /// Grow as slow start does.
    Full,
    /// Grow by a CSS_GROWTH_DIVISOR-th.
    Conservative,
    /// CSS is over: set ssthresh to cwnd and go on in congestion avoidance.
    EnterAvoidance,
}

/// HyStart++ state of a connection (RFC 9406 §4.2), packed (µs in u32).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HyStart {
    phase: Phase,
    /// windowEnd: the round ends when this is acknowledged.
    window_end: SeqNum,
    /// lastRoundMinRTT, currentRoundMinRTT, cssBaselineMinRtt in µs (u32::MAX: infinity).
    last_round_min: u32,
    current_round_min: u32,
    css_baseline: u32,
    /// rttSampleCount and the CSS rounds done.
    samples: u8,
    css_rounds: u8,
}

const INFINITY: u32 = u32::MAX;

impl HyStart {
    /// A connection's HyStart++, watching from its first round (`on`), or done.
    pub fn new(on: bool, snd_nxt: SeqNum) -> Self {
        HyStart {
            phase: if on { Phase::SlowStart } else { Phase::Done },
            window_end: snd_nxt,
            last_round_min: INFINITY,
            current_round_min: INFINITY,
            css_baseline: INFINITY,
            samples: 0,
            css_rounds: 0,
        }
    }

    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Slow start ended otherwise (a loss, a timeout): HyStart++ is over.
    pub fn stop(&mut self) {
        self.phase = Phase::Done;
    }

    /// An ACK of new data in slow start (RFC 9406 §4.2): `ack` is SEG.ACK,
    /// `snd_nxt` where the next round ends, `rtt` this ACK's sample if any.
    pub fn on_ack(&mut self, ack: SeqNum, snd_nxt: SeqNum, rtt: Option<Duration>) -> Growth {
        if self.phase == Phase::Done {
            return Growth::Full;
        }
        if ack >= self.window_end {
            // A new round.
            self.window_end = snd_nxt;
            self.last_round_min = self.current_round_min;
            self.current_round_min = INFINITY;
            self.samples = 0;
            if self.phase == Phase::Css {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    self.phase = Phase::Done;
                    return Growth::EnterAvoidance;
                }
            }
        }
        if let Some(rtt) = rtt {
            let us = rtt.as_micros().min(u128::from(INFINITY - 1)) as u32;
            self.current_round_min = self.current_round_min.min(us);
            self.samples = self.samples.saturating_add(1);
        }
        let enough = self.samples >= N_RTT_SAMPLE && self.current_round_min != INFINITY;
        match self.phase {
            Phase::SlowStart if enough && self.last_round_min != INFINITY => {
                let last = Duration::from_micros(u64::from(self.last_round_min));
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                let thresh = thresh.as_micros() as u32;
                if self.current_round_min >= self.last_round_min.saturating_add(thresh) {
                    self.css_baseline = self.current_round_min;
                    self.phase = Phase::Css;
                    self.css_rounds = 0;
                }
            }
            Phase::Css if enough && self.current_round_min < self.css_baseline => {
                // The RTT rise was spurious: back to slow start.
                self.css_baseline = INFINITY;
                self.phase = Phase::SlowStart;
            }
            _ => {}
        }
        match self.phase {
            Phase::Css => Growth::Conservative,
            _ => Growth::Full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    /// Runs one round of `acks` ACKs with RTT `rtt_ms`, starting at `seq`:
    /// when its first ACK arrives, what was sent runs to `seq + acks + 1`,
    /// the first ACK of the next round. Returns the growths.
    fn round(h: &mut HyStart, seq: &mut u32, acks: u32, rtt_ms: u64) -> Vec<Growth> {
        let next = SeqNum(*seq + acks + 1);
        let g = (0..acks).map(|i| h.on_ack(SeqNum(*seq + i + 1), next, ms(rtt_ms))).collect();
        *seq += acks;
        g
    }

    #[test]
    fn a_steady_rtt_stays_in_slow_start() {
        let mut h = HyStart::new(true, SeqNum(0));
        let mut seq = 0;
        for _ in 0..10 {
            round(&mut h, &mut seq, 16, 100);
        }
        assert_eq!(h.phase(), Phase::SlowStart);
    }

    #[test]
    fn a_rising_rtt_enters_css_then_avoidance_after_five_rounds() {
        let mut h = HyStart::new(true, SeqNum(0));
        let mut seq = 0;
        round(&mut h, &mut seq, 16, 100);
        round(&mut h, &mut seq, 16, 100);
        // 100 ms / 8 = 12.5 ms threshold: 110 ms is not enough; then
        // 110 ms / 8 = 13.75 ms: 125 ms is.
        round(&mut h, &mut seq, 16, 110);
        assert_eq!(h.phase(), Phase::SlowStart);
        let g = round(&mut h, &mut seq, 16, 125);
        assert_eq!(h.phase(), Phase::Css);
        assert_eq!(g.iter().filter(|&&g| g == Growth::Full).count(), 7, "decided after 8 samples");
        let mut ended = false;
        for _ in 0..5 {
            ended |= round(&mut h, &mut seq, 16, 125).contains(&Growth::EnterAvoidance);
        }
        assert!(ended, "CSS_ROUNDS later, congestion avoidance");
        assert_eq!(h.phase(), Phase::Done);
    }

    #[test]
    fn an_rtt_back_below_the_baseline_resumes_slow_start() {
        let mut h = HyStart::new(true, SeqNum(0));
        let mut seq = 0;
        round(&mut h, &mut seq, 16, 20);
        round(&mut h, &mut seq, 16, 30);
        assert_eq!(h.phase(), Phase::Css, "4 ms threshold at 20 ms");
        round(&mut h, &mut seq, 16, 21);
        assert_eq!(h.phase(), Phase::SlowStart);
    }

    #[test]
    fn off_or_stopped_does_nothing() {
        let mut h = HyStart::new(false, SeqNum(0));
        assert_eq!(h.on_ack(SeqNum(1), SeqNum(2), ms(1)), Growth::Full);
        let mut h = HyStart::new(true, SeqNum(0));
        h.stop();
        let mut seq = 0;
        round(&mut h, &mut seq, 16, 20);
        round(&mut h, &mut seq, 16, 90);
        assert_eq!(h.phase(), Phase::Done);
    }
}
