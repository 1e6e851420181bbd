//! The sender's record of what is in flight, one entry per transmission:
//! the sequence range, when it last went out, and whether it was
//! retransmitted, SACKed or deemed lost. RACK (RFC 8985 §5.2) needs each
//! segment's most recent transmission time; Linux keeps the same flags on
//! each skb (`TCPCB_RETRANS`, `TCPCB_SACKED_ACKED`, `TCPCB_LOST`).
//!
//! Entries are sorted and disjoint, above SND.UNA. They split where a SACK
//! block or a retransmission begins or ends, and merge for new data sent at
//! the same instant. Memory is bounded: past [`MAX_ENTRIES`] nothing splits
//! and new data extends the last entry (less precise, never wrong the
//! dangerous way: a bigger entry is marked lost later, not sooner).

use super::delivery_rate::TxState;
use crate::seq::SeqNum;
use crate::time::Instant;
use std::collections::VecDeque;

/// Entries the log holds at most (a 4 MiB flight is about 2,900 segments).
pub(crate) const MAX_ENTRIES: usize = 8192;

/// Sent more than once.
pub(crate) const RETRANSMITTED: u8 = 1;
/// The peer SACKed it.
const SACKED: u8 = 2;
/// Deemed lost and not yet sent again.
const LOST: u8 = 4;
/// Deemed lost and sent again since (Linux keeps `TCPCB_LOST` on it).
const LOST_RESENT: u8 = 8;

/// One transmission of `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub start: SeqNum,
    pub end: SeqNum,
    /// When it last went out.
    pub xmit: Instant,
    pub flags: u8,
    /// The delivery state when it last went out (delivery rate estimation).
    pub tx: TxState,
}

impl Sent {
    fn len(&self) -> u32 {
        self.end.since(self.start)
    }

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Sent more than once.
    pub fn retransmitted(&self) -> bool {
        self.has(RETRANSMITTED)
    }
}

/// What is in flight, per transmission, with running totals.
#[derive(Debug, Default, Clone)]
pub(crate) struct SentLog {
    entries: VecDeque<Sent>,
    sacked: u32,
    lost: u32,
    /// Bytes deemed lost and sent again, not yet delivered.
    lost_resent: u32,
}

impl SentLog {
    /// Bytes SACKed above SND.UNA.
    pub fn sacked_bytes(&self) -> u32 {
        self.sacked
    }

    /// Bytes deemed lost and not yet sent again.
    pub fn lost_bytes(&self) -> u32 {
        self.lost
    }

    /// Bytes deemed lost and not yet delivered, sent again or not (Linux's
    /// lost_out, tcpi_lost).
    pub fn lost_out(&self) -> u32 {
        self.lost + self.lost_resent
    }

    /// Bytes sent more than once and not yet acknowledged.
    pub fn retransmitted_bytes(&self) -> u32 {
        self.entries.iter().filter(|e| e.retransmitted() && !e.has(SACKED)).map(Sent::len).sum()
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Index of the entry that begins at `seq`, splitting the one that
    /// holds it; `None` if no entry holds `seq` or the log is full.
    fn split_at(&mut self, seq: SeqNum) -> Option<usize> {
        let i = self.entries.partition_point(|e| e.end <= seq);
        let e = *self.entries.get(i)?;
        if e.start >= seq {
            return Some(i);
        }
        if self.entries.len() >= MAX_ENTRIES {
            return None;
        }
        self.entries[i].end = seq;
        self.entries.insert(i + 1, Sent { start: seq, ..e });
        Some(i + 1)
    }

    /// The range of entries wholly inside `start..end`, split at its ends
    /// where the log has room (else only whole entries inside count).
    fn covered(&mut self, start: SeqNum, end: SeqNum) -> core::ops::Range<usize> {
        let from = self.split_at(start).unwrap_or_else(|| self.entries.partition_point(|e| e.start < start));
        let to = self.split_at(end).unwrap_or_else(|| self.entries.partition_point(|e| e.end <= end));
        from..to.max(from)
    }

    /// `start..end` went out at `now`, recording `tx`: new data past the
    /// log's end, or a retransmission of what it holds.
    pub fn on_sent(&mut self, start: SeqNum, end: SeqNum, now: Instant, tx: TxState) {
        if start >= end {
            return;
        }
        let tail = self.entries.back().map_or(start, |e| e.end);
        if start < tail {
            let range = self.covered(start, end.min(tail));
            for e in self.entries.range_mut(range) {
                if e.has(LOST) {
                    self.lost -= e.len();
                    self.lost_resent += e.len();
                    e.flags = (e.flags & !LOST) | LOST_RESENT;
                }
                e.flags |= RETRANSMITTED;
                e.xmit = now;
                e.tx = tx;
            }
        }
        let start = start.max(tail);
        if start >= end {
            return;
        }
        let full = self.entries.len() >= MAX_ENTRIES;
        match self.entries.back_mut() {
            Some(last) if last.end == start && (full || last.xmit == now && last.flags == 0 && last.tx == tx) => {
                // Full: the last entry grows and takes the newer time.
                last.end = end;
                last.xmit = now;
                last.tx = tx;
            }
            _ => self.entries.push_back(Sent { start, end, xmit: now, flags: 0, tx }),
        }
    }

    /// SND.UNA moved to `una`: acknowledged entries go; `delivered` sees
    /// each one the peer had not SACKed (the part acknowledged, if partly).
    pub fn on_ack(&mut self, una: SeqNum, mut delivered: impl FnMut(&Sent)) {
        while let Some(e) = self.entries.front_mut() {
            if e.start >= una {
                break;
            }
            let end = e.end.min(una);
            let part = Sent { end, ..*e };
            if e.has(SACKED) {
                self.sacked -= part.len();
            } else {
                if e.has(LOST) {
                    self.lost -= part.len();
                }
                if e.has(LOST_RESENT) {
                    self.lost_resent -= part.len();
                }
                delivered(&part);
            }
            if e.end <= una {
                self.entries.pop_front();
            } else {
                e.start = una;
                break;
            }
        }
    }

    /// The peer SACKed `start..end`: `delivered` sees each entry newly SACKed.
    pub fn on_sack(&mut self, start: SeqNum, end: SeqNum, mut delivered: impl FnMut(&Sent)) {
        let range = self.covered(start, end);
        for e in self.entries.range_mut(range) {
            if e.has(SACKED) {
                continue;
            }
            if e.has(LOST) {
                self.lost -= e.len();
            }
            if e.has(LOST_RESENT) {
                self.lost_resent -= e.len();
            }
            e.flags = (e.flags & !(LOST | LOST_RESENT)) | SACKED;
            self.sacked += e.len();
            delivered(e);
        }
    }

    /// RFC 8985 §6.2 step 5 over the log: each entry neither SACKed nor
    /// already marked lost, oldest first, for which `verdict` says lost
    /// (`Some(true)`), not yet (`Some(false)`), or stop: nothing later can
    /// be (`None`). Returns whether any was marked.
    pub fn mark_lost(&mut self, mut verdict: impl FnMut(&Sent) -> Option<bool>) -> bool {
        let mut marked = false;
        for e in self.entries.iter_mut() {
            if e.has(SACKED | LOST) {
                continue;
            }
            match verdict(e) {
                Some(true) => {
                    if e.has(LOST_RESENT) {
                        self.lost_resent -= e.len();
                    }
                    e.flags = (e.flags & !LOST_RESENT) | LOST;
                    self.lost += e.len();
                    marked = true;
                }
                Some(false) => {}
                None => break,
            }
        }
        marked
    }

    /// When the oldest segment in flight last went out.
    pub fn first_xmit(&self) -> Option<Instant> {
        self.entries.front().map(|e| e.xmit)
    }

    /// The first range deemed lost at or after `from`, at most `max` bytes.
    pub fn first_lost(&self, from: SeqNum, max: u32) -> Option<(SeqNum, u32)> {
        if self.lost == 0 {
            return None;
        }
        let i = self.entries.partition_point(|e| e.end <= from);
        let e = self.entries.range(i..).find(|e| e.has(LOST))?;
        let start = e.start.max(from);
        Some((start, e.end.since(start).min(max)))
    }

    /// The first byte at or after `from` that the peer has not SACKed
    /// (where a go-back resumes).
    pub fn skip_sacked(&self, mut from: SeqNum) -> SeqNum {
        let i = self.entries.partition_point(|e| e.end <= from);
        for e in self.entries.range(i..) {
            if !e.has(SACKED) || e.start > from {
                break;
            }
            from = e.end;
        }
        from
    }

    /// Where the first SACKed range in `from..from + within` begins (where
    /// a go-back retransmission of at most `within` bytes from `from`
    /// stops); the scan ends `within` bytes on, so a long run of unSACKed
    /// entries is not walked for every segment.
    pub fn next_sacked(&self, from: SeqNum, within: u32) -> Option<SeqNum> {
        if self.sacked == 0 {
            return None;
        }
        let end = from + within;
        let i = self.entries.partition_point(|e| e.end <= from);
        self.entries.range(i..).take_while(|e| e.start < end).find(|e| e.has(SACKED)).map(|e| e.start.max(from))
    }

    /// Whether the peer SACKed the segment at SND.UNA: it has discarded
    /// data it SACKed (reneged, RFC 2018 §8), since it would otherwise
    /// have acknowledged it (Linux's tcp_check_sack_reneging).
    pub fn head_sacked(&self) -> bool {
        self.entries.front().is_some_and(|e| e.has(SACKED))
    }

    /// Just past the highest byte below `snd_max` that is not SACKed (where
    /// a probe of the tail ends): `snd_max`, unless the entries that end
    /// the flight are SACKed.
    pub fn unsacked_end(&self, snd_max: SeqNum) -> SeqNum {
        let mut end = snd_max;
        for e in self.entries.iter().rev() {
            if !e.has(SACKED) || e.end < end {
                break;
            }
            end = e.start;
        }
        end
    }

    /// The loss marks were wrong (a spurious timeout): nothing is lost.
    pub fn clear_lost(&mut self) {
        for e in self.entries.iter_mut() {
            e.flags &= !(LOST | LOST_RESENT);
        }
        self.lost = 0;
        self.lost_resent = 0;
    }

    /// A retransmission timeout, or a go-back after a smaller path MTU:
    /// everything not SACKed is deemed lost (RFC 6675 §5.1, as Linux's
    /// tcp_timeout_mark_lost). What the peer SACKed stays SACKed, so the
    /// go-back skips it (RFC 6675 §5.1 and Errata 1610 allow keeping it),
    /// unless the peer reneged ([`Self::head_sacked`]): then, as RFC 2018
    /// §8 says, the SACK information is forgotten and everything goes again.
    pub fn mark_unsacked_lost(&mut self) {
        let keep = !self.head_sacked();
        let mut lost = 0;
        for e in self.entries.iter_mut() {
            if keep && e.has(SACKED) {
                continue;
            }
            e.flags = (e.flags & RETRANSMITTED) | LOST;
            lost += e.len();
        }
        if !keep {
            self.sacked = 0;
        }
        self.lost = lost;
        self.lost_resent = 0;
    }

    /// Checks the invariants (tests and fuzzing).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn check(&self) {
        let (mut sacked, mut lost, mut lost_resent) = (0, 0, 0);
        let mut prev: Option<SeqNum> = None;
        for e in &self.entries {
            assert!(e.start < e.end, "empty entry {e:?}");
            assert!(prev.is_none_or(|p| p <= e.start), "entries overlap at {e:?}");
            assert!((e.flags & (SACKED | LOST | LOST_RESENT)).count_ones() <= 1, "SACKed and lost: {e:?}");
            prev = Some(e.end);
            if e.has(SACKED) {
                sacked += e.len();
            }
            if e.has(LOST) {
                lost += e.len();
            }
            if e.has(LOST_RESENT) {
                lost_resent += e.len();
            }
        }
        assert_eq!((sacked, lost, lost_resent), (self.sacked, self.lost, self.lost_resent), "running totals");
        assert!(self.entries.len() <= MAX_ENTRIES + 2);
    }
}

/// Reads `data` as operations on a log (sends, retransmissions, SACKs,
/// cumulative ACKs, loss marking, timeouts) and checks it against a model
/// of every byte's state (see `crate::fuzzing::sent_log`).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_ops(data: &[u8]) {
    let mut log = SentLog::default();
    let base = SeqNum(u32::from_le_bytes([data.first().copied().unwrap_or(0), 0, 0xff, 0xff]));
    let (mut una, mut max) = (base, base);
    // The model: for each byte sent (offset from `base`), SACKed since the last timeout.
    let mut sacked: Vec<bool> = Vec::new();
    let mut clock = 0u64;
    for op in data.chunks_exact(5).skip(1) {
        let v = u32::from(u16::from_le_bytes([op[1], op[2]]));
        let w = u32::from(u16::from_le_bytes([op[3], op[4]]));
        clock += u64::from(op[0] >> 4);
        let now = Instant::from_micros(clock);
        let (lo, hi) = (una.since(base), max.since(base));
        match op[0] % 6 {
            0 => {
                let n = 1 + w % 3000;
                log.on_sent(max, max + n, now, TxState::default());
                sacked.resize(sacked.len() + n as usize, false);
                max += n;
            }
            1 if hi > lo => {
                let s = lo + v % (hi - lo);
                let e = (s + 1 + w % 2000).min(hi);
                log.on_sent(base + s, base + e, now, TxState::default());
            }
            2 if hi > lo => {
                let s = lo + v % (hi - lo);
                let e = (s + 1 + w % 3000).min(hi);
                log.on_sack(base + s, base + e, |_| {});
                sacked[s as usize..e as usize].fill(true);
            }
            3 => {
                una += (v % 2000).min(hi - lo);
                log.on_ack(una, |_| {});
            }
            4 => {
                let cut = u64::from(w) * 4;
                log.mark_lost(|e| (e.xmit.as_micros() <= cut).then_some(true));
            }
            5 => {
                if log.head_sacked() {
                    sacked.fill(false);
                }
                log.mark_unsacked_lost();
                assert_eq!(log.sacked_bytes() + log.lost_bytes(), max.since(una), "not all lost");
            }
            _ => {}
        }
        log.check();
        let flight = max.since(una);
        assert!(log.sacked_bytes() + log.lost_bytes() <= flight, "totals past the flight");
        for e in &log.entries {
            assert!(e.start >= una && e.end <= max, "entry {e:?} outside {una:?}..{max:?}");
            if e.has(SACKED) {
                let (a, b) = (e.start.since(base) as usize, e.end.since(base) as usize);
                assert!(sacked[a..b].iter().all(|&x| x), "{e:?} claims bytes the peer did not SACK");
            }
        }
        if let Some((s, n)) = log.first_lost(una, 1460) {
            assert!(s >= una && s + n <= max && n > 0);
        }
        let end = log.unsacked_end(max);
        assert!(end >= una && end <= max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    fn log_of(segments: &[(u32, u32, u64)]) -> SentLog {
        let mut log = SentLog::default();
        for &(a, b, ms) in segments {
            log.on_sent(s(a), s(b), t(ms), TxState::default());
        }
        log.check();
        log
    }

    #[test]
    fn new_data_at_one_instant_is_one_entry() {
        let log = log_of(&[(0, 1000, 1), (1000, 2000, 1), (2000, 3000, 2)]);
        assert_eq!(log.len(), 2);
    }

    #[test]
    fn a_sack_splits_and_delivers_once() {
        let mut log = log_of(&[(0, 5000, 1)]);
        let mut seen = Vec::new();
        log.on_sack(s(2000), s(3000), |e| seen.push((e.start, e.end)));
        log.on_sack(s(2000), s(3000), |e| seen.push((e.start, e.end)));
        assert_eq!(seen, vec![(s(2000), s(3000))]);
        assert_eq!(log.len(), 3);
        assert_eq!(log.sacked_bytes(), 1000);
        log.check();
    }

    #[test]
    fn acking_delivers_what_was_not_sacked() {
        let mut log = log_of(&[(0, 1000, 1), (1000, 2000, 2), (2000, 3000, 3)]);
        log.on_sack(s(1000), s(2000), |_| {});
        let mut seen = Vec::new();
        log.on_ack(s(2500), |e| seen.push((e.start, e.end)));
        assert_eq!(seen, vec![(s(0), s(1000)), (s(2000), s(2500))]);
        assert_eq!(log.sacked_bytes(), 0);
        assert_eq!(log.len(), 1);
        log.check();
    }

    #[test]
    fn lost_then_retransmitted_then_lost_again() {
        let mut log = log_of(&[(0, 1000, 1), (1000, 2000, 2)]);
        assert!(log.mark_lost(|e| Some(e.start == s(0))));
        assert_eq!(log.lost_bytes(), 1000);
        assert_eq!(log.first_lost(s(0), 500), Some((s(0), 500)));
        log.on_sent(s(0), s(500), t(10), TxState::default());
        log.check();
        assert_eq!(log.lost_bytes(), 500);
        assert_eq!(log.first_lost(s(0), 1460), Some((s(500), 500)));
        log.on_sent(s(500), s(1000), t(10), TxState::default());
        assert_eq!(log.lost_bytes(), 0);
        assert_eq!(log.retransmitted_bytes(), 1000);
        // The retransmission is lost too: marked again, and sent again.
        assert!(log.mark_lost(|e| Some(e.retransmitted())));
        assert_eq!(log.first_lost(s(0), 1460), Some((s(0), 500)));
        log.check();
    }

    #[test]
    fn mark_lost_stops_when_told() {
        let mut log = log_of(&[(0, 1000, 1), (1000, 2000, 2), (2000, 3000, 3)]);
        let mut asked = 0;
        log.mark_lost(|e| {
            asked += 1;
            (e.start < s(1000)).then_some(true)
        });
        assert_eq!(asked, 2);
        assert_eq!(log.lost_bytes(), 1000);
    }

    #[test]
    fn the_unsacked_end_skips_the_sacked_tail() {
        let mut log = log_of(&[(0, 1000, 1), (1000, 2000, 2), (2000, 3000, 3)]);
        assert_eq!(log.unsacked_end(s(3000)), s(3000));
        log.on_sack(s(2000), s(3000), |_| {});
        assert_eq!(log.unsacked_end(s(3000)), s(2000));
        log.on_sack(s(1000), s(2000), |_| {});
        assert_eq!(log.unsacked_end(s(3000)), s(1000));
        let mut log = log_of(&[(0, 1000, 1), (1000, 2000, 2), (2000, 3000, 3)]);
        log.on_sack(s(1000), s(2000), |_| {});
        assert_eq!(log.unsacked_end(s(3000)), s(3000), "a SACK below the tail does not move it");
    }

    #[test]
    fn a_timeout_keeps_the_sacks_and_marks_the_rest_lost() {
        let mut log = log_of(&[(0, 3000, 1), (3000, 4000, 2)]);
        log.on_sack(s(1000), s(2000), |_| {});
        log.mark_lost(|e| Some(e.start == s(0)));
        log.mark_unsacked_lost();
        log.check();
        assert_eq!((log.sacked_bytes(), log.lost_bytes()), (1000, 3000));
        assert_eq!(log.first_lost(s(0), 5000), Some((s(0), 1000)));
        assert_eq!(log.first_lost(s(1000), 5000), Some((s(2000), 1000)));
        // The go-back skips what is SACKed and stops before it.
        assert_eq!(log.next_sacked(s(0), 5000), Some(s(1000)));
        assert_eq!(log.next_sacked(s(0), 1000), None, "not within the bound");
        assert_eq!(log.skip_sacked(s(1000)), s(2000));
        assert_eq!(log.skip_sacked(s(0)), s(0));
        assert_eq!(log.next_sacked(s(2000), 5000), None);
    }

    #[test]
    fn a_timeout_after_reneging_forgets_the_sacks() {
        let mut log = log_of(&[(0, 1000, 1), (1000, 2000, 2), (2000, 3000, 3)]);
        log.on_sack(s(1000), s(2000), |_| {});
        log.on_ack(s(1000), |_| {});
        // SND.UNA is at a SACKed segment: the peer dropped what it SACKed.
        assert!(log.head_sacked());
        log.mark_unsacked_lost();
        log.check();
        assert_eq!((log.sacked_bytes(), log.lost_bytes()), (0, 2000));
        assert_eq!(log.skip_sacked(s(1000)), s(1000));
    }

    #[test]
    fn the_log_stays_bounded_whatever_the_sack_pattern() {
        let mut log = SentLog::default();
        for i in 0..20_000u32 {
            log.on_sent(s(i * 10), s(i * 10 + 10), t(u64::from(i)), TxState::default());
        }
        for i in 0..200_000u32 {
            log.on_sack(s(i + 3), s(i + 4), |_| {});
        }
        log.check();
        assert!(log.len() <= MAX_ENTRIES + 2);
    }
}
