//! The sender's SACK scoreboard (RFC 6675 §3, §4; RFC 2018): which bytes
//! above SND.UNA the peer reports holding, what is deemed lost, and the
//! `pipe` estimate of bytes still in the network. Fixed size: at most
//! [`MAX_RANGES`] ranges are remembered (those nearest SND.UNA are dropped
//! first when there are more; forgetting SACK information only makes the
//! sender more conservative).

use crate::seq::SeqNum;
use synack_wire::SackBlock;

/// Ranges the scoreboard remembers.
pub(crate) const MAX_RANGES: usize = 8;

/// RFC 6675 §2: DupThresh, to begin with.
const DUP_THRESH: u8 = 3;

/// The most DupThresh grows to on a path that reorders.
const MAX_DUP_THRESH: u8 = 32;

/// SACKed ranges above SND.UNA as offsets from it: sorted, disjoint, not adjacent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scoreboard {
    /// SND.UNA the offsets are relative to.
    base: SeqNum,
    ranges: [(u32, u32); MAX_RANGES],
    len: u8,
    /// DupThresh for this connection: 3, raised when reordering made a
    /// recovery spurious (RFC 6675 §2 allows a different value, as Linux
    /// adapts its `reordering`).
    dup_thresh: u8,
}

impl Default for Scoreboard {
    fn default() -> Self {
        Self { base: SeqNum(0), ranges: [(0, 0); MAX_RANGES], len: 0, dup_thresh: DUP_THRESH }
    }
}

impl Scoreboard {
    fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges[..usize::from(self.len)]
    }

    /// True when nothing above SND.UNA is SACKed.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets everything (RFC 2018 §8: after a timeout SACK information
    /// is not relied on, the receiver may have reneged).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The duplicate ACKs, or SACKed segments above a hole, that mean loss.
    pub fn dup_thresh(&self) -> u32 {
        u32::from(self.dup_thresh)
    }

    /// A retransmission timeout: forget the SACK information (RFC 2018 §8).
    /// If what was SACKed would have shown a loss with the initial DupThresh,
    /// the raised one hid it: go back to the initial value (as Linux does).
    pub fn on_timeout(&mut self, mss: u32) {
        let (bytes, ranges) = self.above(0);
        if u32::from(DUP_THRESH) <= ranges || bytes > (u32::from(DUP_THRESH) - 1) * mss {
            self.dup_thresh = self.dup_thresh.min(DUP_THRESH);
        }
        self.clear();
    }

    /// The path reorders more than DupThresh allows for: double it (up to a bound).
    pub fn raise_dup_thresh(&mut self) {
        self.dup_thresh = self.dup_thresh.saturating_mul(2).min(MAX_DUP_THRESH);
    }

    /// Moves the base to a new SND.UNA, forgetting what it covers.
    pub fn advance(&mut self, snd_una: SeqNum) {
        let delta = snd_una.since(self.base);
        self.base = snd_una;
        if delta == 0 || (delta as i32) < 0 {
            if (delta as i32) < 0 {
                self.len = 0;
            }
            return;
        }
        let mut n = 0;
        for i in 0..usize::from(self.len) {
            let (s, e) = self.ranges[i];
            if e > delta {
                self.ranges[n] = (s.saturating_sub(delta), e - delta);
                n += 1;
            }
        }
        self.len = n as u8;
    }

    /// Records the SACK blocks of an ACK (RFC 6675 §4, update). Blocks that
    /// are not wholly in (SND.UNA, SND.MAX] (D-SACKs, junk) are ignored.
    pub fn update(&mut self, snd_una: SeqNum, snd_max: SeqNum, blocks: &[SackBlock]) {
        self.advance(snd_una);
        let limit = snd_max.since(snd_una);
        for b in blocks {
            let (s, e) = (SeqNum(b.left).since(snd_una), SeqNum(b.right).since(snd_una));
            if s < e && e <= limit {
                self.insert(s, e);
            }
        }
    }

    fn insert(&mut self, start: u32, end: u32) {
        let mut all = [(0u32, 0u32); MAX_RANGES + 1];
        let n = usize::from(self.len);
        all[..n].copy_from_slice(self.ranges());
        all[n] = (start, end);
        let all = &mut all[..=n];
        all.sort_unstable();
        let mut merged = [(0u32, 0u32); MAX_RANGES + 1];
        let mut m = 0;
        for &(s, e) in all.iter() {
            if m > 0 && s <= merged[m - 1].1 {
                merged[m - 1].1 = merged[m - 1].1.max(e);
            } else {
                merged[m] = (s, e);
                m += 1;
            }
        }
        // Too many: forget the lowest range.
        let skip = m.saturating_sub(MAX_RANGES);
        let keep = &merged[skip..m];
        self.ranges[..keep.len()].copy_from_slice(keep);
        self.len = keep.len() as u8;
    }

    /// Bytes SACKed above SND.UNA.
    pub fn sacked_bytes(&self) -> u32 {
        self.above(0).0
    }

    /// SACKed bytes and ranges at or above offset `at`.
    fn above(&self, at: u32) -> (u32, u32) {
        self.ranges()
            .iter()
            .filter(|&&(_, e)| e > at)
            .fold((0, 0), |(bytes, n), &(s, e)| (bytes + e - s.max(at), n + 1))
    }

    /// RFC 6675 §4, IsLost: DupThresh discontiguous SACKed ranges, or more
    /// than (DupThresh - 1) * SMSS SACKed bytes, above `seq`.
    pub fn is_lost(&self, seq: SeqNum, mss: u32) -> bool {
        let (bytes, ranges) = self.above(seq.since(self.base));
        let thresh = self.dup_thresh();
        ranges >= thresh || bytes > (thresh - 1) * mss
    }

    /// RFC 6675 §4, NextSeg rules 1 and 3: the first unSACKed byte at or
    /// after `from` below the highest SACKed one (and deemed lost, for rule
    /// 1: `lost_only`), with the length (at most `mss`) up to the next
    /// SACKed range.
    pub fn next_hole(&self, from: SeqNum, mss: u32, lost_only: bool) -> Option<(SeqNum, u32)> {
        let from = if (from.since(self.base) as i32) < 0 { 0 } else { from.since(self.base) };
        let mut cursor = 0;
        for &(s, e) in self.ranges() {
            let start = cursor.max(from);
            if start < s {
                let at = self.base + start;
                if !lost_only || self.is_lost(at, mss) {
                    return Some((at, (s - start).min(mss)));
                }
            }
            cursor = e;
        }
        None
    }

    /// Just past the highest byte below `snd_max` that is not SACKed (where
    /// a rescue retransmission must end).
    pub fn unsacked_end(&self, snd_max: SeqNum) -> SeqNum {
        let end = snd_max.since(self.base);
        match self.ranges().last() {
            Some(&(s, e)) if e >= end => self.base + s,
            _ => snd_max,
        }
    }

    /// RFC 6675 §4, SetPipe: bytes in flight between SND.UNA and SND.MAX
    /// that are neither SACKed nor deemed lost, plus those retransmitted
    /// (below `high_rxt`).
    pub fn pipe(&self, snd_max: SeqNum, high_rxt: SeqNum, mss: u32) -> u32 {
        let end = snd_max.since(self.base);
        let rxt = if (high_rxt.since(self.base) as i32) < 0 { 0 } else { high_rxt.since(self.base).min(end) };
        let mut pipe = 0;
        let mut cursor = 0;
        let holes = self.ranges().iter().copied().chain(core::iter::once((end, end)));
        for (s, e) in holes {
            let s = s.min(end);
            if cursor < s {
                if !self.is_lost(self.base + cursor, mss) {
                    pipe += s - cursor;
                }
                if rxt > cursor {
                    pipe += rxt.min(s) - cursor;
                }
            }
            cursor = cursor.max(e);
        }
        pipe
    }
}

/// Reads `data` as scoreboard operations and checks the scoreboard against
/// a model of every byte SACKed (see `crate::fuzzing::scoreboard`).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_ops(data: &[u8]) {
    use std::collections::BTreeSet;
    const MSS: u32 = 100;
    let mut b = Scoreboard::default();
    let mut una = SeqNum(u32::from_le_bytes([data.first().copied().unwrap_or(0), 0, 0, 0x80]));
    let mut max = una + 5000;
    let mut sacked: BTreeSet<u32> = BTreeSet::new(); // absolute sequence numbers
    for op in data.chunks_exact(5).skip(1) {
        let v = u32::from(u16::from_le_bytes([op[1], op[2]]));
        let w = u32::from(u16::from_le_bytes([op[3], op[4]]));
        match op[0] % 5 {
            0 => {
                // SACK blocks: two, relative to SND.UNA (some outside the flight).
                let l = una + v % 6000;
                let r = l + w % 800;
                let blocks =
                    [SackBlock { left: l.0, right: r.0 }, SackBlock { left: (l + 1000).0, right: (r + 1100).0 }];
                b.update(una, max, &blocks);
                for blk in blocks {
                    let (bl, br) = (SeqNum(blk.left), SeqNum(blk.right));
                    if bl < br && br <= max && bl >= una {
                        sacked.extend((0..br.since(bl)).map(|i| (bl + i).0));
                    }
                }
            }
            1 => {
                // The cumulative ACK moves.
                let step = v % 700;
                if (una + step) <= max {
                    una += step;
                    b.advance(una);
                }
            }
            2 => max += w % 3000,
            3 => b.on_timeout(MSS),
            _ => b.raise_dup_thresh(),
        }
        if op[0] % 5 == 3 {
            sacked.clear();
        }
        let flight = max.since(una);
        let mut last_end = 0u32;
        for (i, &(s, e)) in b.ranges().iter().enumerate() {
            assert!(s < e && e <= flight, "range {s}..{e} outside the flight {flight}");
            assert!(i == 0 || s > last_end, "ranges sorted, disjoint, not adjacent");
            last_end = e;
            for off in s..e {
                assert!(sacked.contains(&(una + off).0), "claims {off} SACKed above SND.UNA");
            }
        }
        assert!(b.pipe(max, una, MSS) <= flight);
        assert!(b.pipe(max, max, MSS) <= 2 * flight);
        if let Some((seq, len)) = b.next_hole(una, MSS, false) {
            assert!(seq >= una && seq + len <= max && len <= MSS && len > 0);
        }
        let end = b.unsacked_end(max);
        assert!(end >= una && end <= max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn board(una: u32, max: u32, blocks: &[(u32, u32)]) -> Scoreboard {
        let mut b = Scoreboard::default();
        let blocks: Vec<SackBlock> = blocks.iter().map(|&(left, right)| SackBlock { left, right }).collect();
        b.update(SeqNum(una), SeqNum(max), &blocks);
        b
    }

    #[test]
    fn blocks_merge_and_junk_is_ignored() {
        let b = board(1000, 10_000, &[(3000, 4000), (4000, 5000), (2000, 2500), (500, 900), (9000, 11_000)]);
        assert_eq!(b.ranges(), &[(1000, 1500), (2000, 4000)]);
    }

    #[test]
    fn advancing_drops_what_is_acknowledged() {
        let mut b = board(1000, 10_000, &[(2000, 3000), (5000, 6000)]);
        b.advance(SeqNum(2500));
        assert_eq!(b.ranges(), &[(0, 500), (2500, 3500)]);
        b.advance(SeqNum(7000));
        assert!(b.is_empty());
    }

    #[test]
    fn a_hole_is_lost_with_more_than_two_segments_above_it() {
        let b = board(0, 10_000, &[(1000, 3000)]);
        assert!(!b.is_lost(SeqNum(0), MSS), "two segments above: maybe reordering");
        let b = board(0, 10_000, &[(1000, 3001)]);
        assert!(b.is_lost(SeqNum(0), MSS));
        let b = board(0, 10_000, &[(1000, 1100), (2000, 2100), (3000, 3100)]);
        assert!(b.is_lost(SeqNum(0), MSS), "three discontiguous ranges");
    }

    #[test]
    fn a_reordering_path_needs_more_evidence_of_loss() {
        let mut b = board(0, 20_000, &[(1000, 4000)]);
        assert!(b.is_lost(SeqNum(0), MSS));
        b.raise_dup_thresh();
        assert_eq!(b.dup_thresh(), 6);
        assert!(!b.is_lost(SeqNum(0), MSS));
        b.clear();
        assert_eq!(b.dup_thresh(), 6, "clearing SACK information keeps what was learned of the path");
        for _ in 0..10 {
            b.raise_dup_thresh();
        }
        assert_eq!(b.dup_thresh(), 32);
    }

    #[test]
    fn a_timeout_with_enough_sacked_resets_dup_thresh() {
        let mut b = board(0, 20_000, &[(1000, 2000)]);
        b.raise_dup_thresh();
        b.on_timeout(MSS);
        assert_eq!(b.dup_thresh(), 6, "one SACKed segment: the timeout says nothing of reordering");
        let mut b = board(0, 20_000, &[(1000, 5000)]);
        b.raise_dup_thresh();
        b.on_timeout(MSS);
        assert_eq!(b.dup_thresh(), 3, "four SACKed segments hid a loss");
        assert!(b.is_empty());
    }

    #[test]
    fn next_hole_walks_the_holes_below_the_highest_sack() {
        let b = board(0, 10_000, &[(1000, 2000), (3000, 6000)]);
        assert_eq!(b.next_hole(SeqNum(0), MSS, true), Some((SeqNum(0), 1000)));
        assert_eq!(b.next_hole(SeqNum(500), MSS, true), Some((SeqNum(500), 500)));
        assert_eq!(b.next_hole(SeqNum(1000), MSS, true), Some((SeqNum(2000), 1000)));
        assert_eq!(b.next_hole(SeqNum(3000), MSS, true), None, "nothing above the highest SACK is lost");
        let b = board(0, 10_000, &[(1000, 2000), (3000, 4000)]);
        assert_eq!(b.next_hole(SeqNum(0), MSS, true), None, "two segments above: not lost yet");
        assert_eq!(b.next_hole(SeqNum(0), MSS, false), Some((SeqNum(0), 1000)), "rule 3 takes it");
        assert_eq!(b.next_hole(SeqNum(1000), MSS, false), Some((SeqNum(2000), 1000)));
        assert_eq!(b.unsacked_end(SeqNum(10_000)), SeqNum(10_000));
        assert_eq!(b.unsacked_end(SeqNum(4000)), SeqNum(3000), "the tail is SACKed");
    }

    #[test]
    fn pipe_counts_what_may_still_be_in_the_network() {
        // 0..1000 lost, 1000..4000 SACKed, 4000..6000 in flight.
        let b = board(0, 6000, &[(1000, 4000)]);
        assert_eq!(b.pipe(SeqNum(6000), SeqNum(0), MSS), 2000);
        // Once 0..1000 is retransmitted it counts again.
        assert_eq!(b.pipe(SeqNum(6000), SeqNum(1000), MSS), 3000);
        // Without SACK information everything in flight counts.
        assert_eq!(Scoreboard::default().pipe(SeqNum(6000), SeqNum(0), MSS), 6000);
    }

    #[test]
    fn at_most_eight_ranges_the_highest_kept() {
        let blocks: Vec<(u32, u32)> = (1..=10).map(|i| (i * 1000, i * 1000 + 100)).collect();
        let b = board(0, 20_000, &blocks);
        assert_eq!(b.ranges().len(), MAX_RANGES);
        assert_eq!(b.ranges()[0], (3000, 3100));
    }
}
