//! Proportional Rate Reduction (RFC 6937): how much SACK-based recovery
//! sends per ACK. While `pipe` is above ssthresh, sending follows the
//! delivery rate scaled by ssthresh / RecoverFS (the proportional part);
//! below it, the slow-start reduction bound (PRR-SSRB) lets `pipe` grow back
//! to ssthresh by at most one MSS more than was delivered, and the
//! conservative bound (PRR-CRB) holds when nothing new is acknowledged.
//! As Linux's tcp_cwnd_reduction: RecoverFS is the cwnd before the
//! reduction, the first ACK always allows the fast retransmission, and
//! the result is a congestion window of `pipe + sndcnt`.

/// PRR's state for one recovery (RFC 6937 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prr {
    /// RecoverFS: the congestion window when recovery began (Linux's prior_cwnd).
    recover_fs: u32,
    /// prr_delivered: data delivered to the receiver since recovery began.
    delivered: u32,
    /// prr_out: data sent since recovery began.
    out: u32,
    /// The congestion window PRR allows now: `pipe + sndcnt`.
    cwnd: u32,
}

impl Prr {
    /// Recovery begins with `prior_cwnd` bytes of congestion window, reduced
    /// to `cwnd` (RFC 6675's ssthresh) until an ACK delivers something.
    pub fn new(prior_cwnd: u32, cwnd: u32) -> Self {
        Prr { recover_fs: prior_cwnd.max(1), delivered: 0, out: 0, cwnd }
    }

    /// An ACK during recovery delivered `delivered` bytes (SND.UNA's advance
    /// plus newly SACKed bytes); `pipe` is RFC 6675's estimate after it.
    /// `una_advanced` is false for a duplicate ACK (the conservative bound:
    /// no extra MSS). Nothing delivered leaves the allowance as it was.
    pub fn on_ack(&mut self, delivered: u32, una_advanced: bool, pipe: u32, ssthresh: u32, mss: u32) {
        if delivered == 0 {
            return;
        }
        self.delivered = self.delivered.saturating_add(delivered);
        let sndcnt = if pipe > ssthresh {
            // RFC 6937 §3.1: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out,
            // the CEIL in whole segments as Linux counts them.
            let mss = u64::from(mss.max(1));
            let target =
                (u64::from(self.delivered) * u64::from(ssthresh)).div_ceil(u64::from(self.recover_fs) * mss) * mss;
            (target.min(u64::from(u32::MAX)) as u32).saturating_sub(self.out)
        } else {
            // PRR-SSRB: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS;
            // PRR-CRB (no new data acknowledged): without the extra MSS.
            let extra = if una_advanced { mss } else { 0 };
            let limit = self.delivered.saturating_sub(self.out).max(delivered).saturating_add(extra);
            (ssthresh - pipe).min(limit)
        };
        // The fast retransmission goes out on the first ACK whatever the bound says.
        let sndcnt = if self.out == 0 { sndcnt.max(mss) } else { sndcnt };
        self.cwnd = pipe.saturating_add(sndcnt);
    }

    /// Data (new or retransmitted) sent during recovery.
    pub fn on_sent(&mut self, bytes: u32) {
        self.out = self.out.saturating_add(bytes);
    }

    /// The congestion window to send by: `pipe + sndcnt` of the last ACK.
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// RFC 6937 Appendix A's first example, in segments: RecoverFS 20, one
    /// segment lost, ssthresh 10: PRR sends one segment for every two
    /// delivered (after the fast retransmission), never a burst.
    #[test]
    fn proportional_part_sends_half_of_what_is_delivered() {
        let mut p = Prr::new(20 * MSS, 10 * MSS);
        let ssthresh = 10 * MSS;
        // 20 segments out, the first lost: 19 in the pipe. Each ACK delivers one.
        let mut pipe = 19 * MSS;
        let mut sent = Vec::new();
        for _ in 0..16 {
            pipe -= MSS;
            p.on_ack(MSS, false, pipe, ssthresh, MSS);
            let mut n = 0;
            while pipe + MSS <= p.cwnd() {
                p.on_sent(MSS);
                pipe += MSS;
                n += 1;
            }
            sent.push(n);
        }
        assert_eq!(sent[0], 1, "the fast retransmission on the first ACK");
        assert!(sent.iter().all(|&n| n <= 1), "one segment at most per ACK: {sent:?}");
        let total: u32 = sent.iter().sum();
        assert_eq!(total, 8, "16 delivered at ssthresh/RecoverFS = 1/2: {sent:?}");
        assert_eq!(pipe, 11 * MSS, "pipe came down to ssthresh smoothly");
    }

    #[test]
    fn below_ssthresh_the_slow_start_bound_grows_pipe_by_one_mss_more_than_delivered() {
        let mut p = Prr::new(10 * MSS, 5 * MSS);
        p.on_sent(MSS);
        // A cumulative ACK of 3 segments with pipe far below ssthresh 5.
        p.on_ack(3 * MSS, true, MSS, 5 * MSS, MSS);
        assert_eq!(p.cwnd(), MSS + 4 * MSS, "SSRB: delivered 3 + 1 MSS, within ssthresh - pipe = 4");
        // A duplicate ACK (nothing cumulative): the conservative bound, no extra MSS.
        let mut q = Prr::new(10 * MSS, 5 * MSS);
        q.on_sent(MSS);
        q.on_ack(MSS, false, 2 * MSS, 5 * MSS, MSS);
        assert_eq!(q.cwnd(), 2 * MSS + MSS);
        // Nothing delivered: nothing changes.
        q.on_ack(0, false, 4 * MSS, 5 * MSS, MSS);
        assert_eq!(q.cwnd(), 3 * MSS);
    }
}
