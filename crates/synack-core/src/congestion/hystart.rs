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
//!
//! With CUBIC, Linux's other HyStart detector runs too (tcp_cubic.c,
//! `hystart_update` with HYSTART_ACK_TRAIN, on by default): when a round's
//! ACKs keep arriving closely spaced (at most 2 ms apart) for longer than
//! the minimum RTT (half of it without pacing), the window already fills
//! the path, and slow start ends there (ssthresh = cwnd). It sees a full
//! pipe before any queue shows in the RTT, which a queue one BDP long
//! needs: the delay rise comes a round too late there.

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

/// Linux's hystart_ack_delta_us: ACKs at most this far apart form a train.
const ACK_TRAIN_DELTA_US: u32 = 2000;

/// One ACK's ACK-train context (Linux's CUBIC HyStart).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckTrain {
    /// The ACK's arrival, in µs (wrapping).
    pub now_us: u32,
    /// How long a train shows a full pipe: the minimum RTT plus the
    /// pacing-rate allowance (Linux's hystart_ack_delay), halved without
    /// pacing; `None` when the detector does not run (not CUBIC, a window
    /// under 16 segments as Linux's hystart_low_window, no RTT yet).
    pub threshold_us: Option<u32>,
}

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
    /// The ACK train: when this round's first ACK and the last one in the
    /// train arrived (µs, wrapping; Linux's round_start and last_ack).
    round_start_us: u32,
    last_ack_us: u32,
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
            round_start_us: 0,
            last_ack_us: 0,
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
    /// `snd_nxt` where the next round ends, `rtt` this ACK's sample if any,
    /// `train` its ACK-train context.
    pub fn on_ack(&mut self, ack: SeqNum, snd_nxt: SeqNum, rtt: Option<Duration>, train: AckTrain) -> Growth {
        if self.phase == Phase::Done {
            return Growth::Full;
        }
        if ack >= self.window_end {
            // A new round.
            self.window_end = snd_nxt;
            self.round_start_us = train.now_us;
            self.last_ack_us = train.now_us;
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
        if let Some(threshold) = train.threshold_us {
            if train.now_us.wrapping_sub(self.last_ack_us) as i32 <= ACK_TRAIN_DELTA_US as i32 {
                self.last_ack_us = train.now_us;
                if train.now_us.wrapping_sub(self.round_start_us) as i32 > threshold as i32 {
                    // The pipe is full: slow start ends here (Linux: ssthresh = cwnd).
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

    const NO_TRAIN: AckTrain = AckTrain { now_us: 0, threshold_us: None };

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    /// Runs one round of `acks` ACKs with RTT `rtt_ms`, starting at `seq`:
    /// when its first ACK arrives, what was sent runs to `seq + acks + 1`,
    /// the first ACK of the next round. Returns the growths.
    fn round(h: &mut HyStart, seq: &mut u32, acks: u32, rtt_ms: u64) -> Vec<Growth> {
        let next = SeqNum(*seq + acks + 1);
        let g = (0..acks).map(|i| h.on_ack(SeqNum(*seq + i + 1), next, ms(rtt_ms), NO_TRAIN)).collect();
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
        assert_eq!(h.on_ack(SeqNum(1), SeqNum(2), ms(1), NO_TRAIN), Growth::Full);
        let mut h = HyStart::new(true, SeqNum(0));
        h.stop();
        let mut seq = 0;
        round(&mut h, &mut seq, 16, 20);
        round(&mut h, &mut seq, 16, 90);
        assert_eq!(h.phase(), Phase::Done);
    }

    /// Runs a round of `acks` ACKs `gap_us` apart from `t`, with a train
    /// threshold of `threshold_us`; returns the growths.
    fn train_round(
        h: &mut HyStart,
        seq: &mut u32,
        t: &mut u32,
        acks: u32,
        gap_us: u32,
        threshold_us: u32,
    ) -> Vec<Growth> {
        let next = SeqNum(*seq + acks + 1);
        let g = (0..acks)
            .map(|i| {
                *t += gap_us;
                h.on_ack(SeqNum(*seq + i + 1), next, ms(100), AckTrain { now_us: *t, threshold_us: Some(threshold_us) })
            })
            .collect();
        *seq += acks;
        g
    }

    #[test]
    fn an_ack_train_longer_than_the_minimum_rtt_ends_slow_start() {
        let mut h = HyStart::new(true, SeqNum(0));
        let (mut seq, mut t) = (0, 0);
        // 40 ACKs 1 ms apart: 40 ms of train, under the 100 ms threshold.
        let g = train_round(&mut h, &mut seq, &mut t, 40, 1000, 100_000);
        assert!(g.iter().all(|&g| g == Growth::Full));
        // 150 ACKs 1 ms apart: the train passes 100 ms at its 102nd ACK.
        t += 60_000;
        let g = train_round(&mut h, &mut seq, &mut t, 150, 1000, 100_000);
        assert_eq!(g.iter().position(|&g| g == Growth::EnterAvoidance), Some(101));
        assert_eq!(h.phase(), Phase::Done);
    }

    #[test]
    fn acks_more_than_2_ms_apart_are_no_train() {
        let mut h = HyStart::new(true, SeqNum(0));
        let (mut seq, mut t) = (0, 0);
        train_round(&mut h, &mut seq, &mut t, 1, 1000, 100_000);
        // 3 ms apart: 450 ms of ACKs, never a train (the delay is steady too).
        let g = train_round(&mut h, &mut seq, &mut t, 150, 3000, 100_000);
        assert!(g.iter().all(|&g| g == Growth::Full));
        assert_eq!(h.phase(), Phase::SlowStart);
    }
}
