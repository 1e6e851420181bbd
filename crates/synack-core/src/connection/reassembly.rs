//! Out-of-order data (RFC 9293 §3.10.7.4, seventh check: segments beyond
//! RCV.NXT are held for later delivery). The bytes go straight into the
//! receive ring at their offset past the readable data; a [`RangeSet`] says
//! which offsets hold data. Costs are O(log k) in the number of holes k per
//! segment, and SACK blocks (RFC 2018 §4) come from the set in O(blocks).
//! Memory is the ring (bounded by the receive buffer, which the window
//! bounds) plus the set, whose size is capped: past the cap the highest
//! ranges are forgotten, as Linux prunes its out-of-order queue
//! (`tcp_prune_ofo_queue`) when its overhead exceeds the buffer.

use crate::range_set::RangeSet;
use crate::ring::RingBuf;

/// Receive-buffer bytes per range the set may hold: a hostile pattern (a
/// hole at every other byte) costs at most about 1/32 of the buffer in
/// range bookkeeping (a range takes about 32 bytes in the map).
const BUFFER_BYTES_PER_RANGE: usize = 1024;

/// Ranges allowed whatever the buffer size.
const MIN_RANGES: usize = 16;

/// Offsets of the most recently received out-of-order segments remembered
/// for SACK (RFC 2018 §4: the first block holds the latest segment).
const RECENT: usize = 4;

/// Out-of-order data, by stream offset (bytes since the first data byte).
#[derive(Debug, Default)]
pub(super) struct Reassembly {
    /// Stream offset of RCV.NXT (data bytes delivered in order so far).
    pub base: u64,
    /// Offsets held past `base`.
    ranges: RangeSet,
    /// Start offsets of the most recently received pieces, newest first.
    recent: [u64; RECENT],
    n_recent: u8,
    /// Stream offset of a FIN that arrived out of order (see [`Reassembly::set_fin`]).
    fin: Option<u64>,
}

impl Reassembly {
    /// Number of ranges held (separated by holes).
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// Stream offset of the peer's FIN, once known.
    pub fn fin(&self) -> Option<u64> {
        self.fin
    }

    /// The peer's FIN lies at stream offset `off`: nothing past it can be
    /// genuine (a peer sends no data after its FIN), so held data beyond it
    /// is dropped and later data beyond it is refused; injected bytes past
    /// the end of the stream can never join it. The first FIN seen stands.
    pub fn set_fin(&mut self, off: u64) {
        if self.fin.is_none() {
            self.fin = Some(off);
            self.ranges.truncate(off);
        }
    }

    /// The first part of `start..end` already held, if any (a duplicate).
    pub fn overlap(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        self.ranges.first_overlap(start, end)
    }

    /// Holds `data` found at stream offset `off` (past `base`): its bytes
    /// go into `ring` at their place. `limit` is the
    /// ring's size limit, which the caller's window trim respects.
    /// Returns the bytes that were new.
    pub fn insert(&mut self, ring: &mut RingBuf, limit: usize, off: u64, data: &[u8]) -> u64 {
        debug_assert!(off > self.base);
        let data = match self.fin {
            Some(fin) if off >= fin => return 0,
            Some(fin) => &data[..data.len().min((fin - off) as usize)],
            None => data,
        };
        let at = ring.len() + (off - self.base) as usize;
        ring.write_at(at, data, limit);
        let fresh = self.ranges.insert(off, off + data.len() as u64);
        self.note_recent(off);
        let max_ranges = (limit / BUFFER_BYTES_PER_RANGE).max(MIN_RANGES);
        while self.ranges.len() > max_ranges {
            // Forget the highest range: the sender still holds that data
            // (RFC 2018 §8: SACKed data may be reneged) and sends it again.
            self.ranges.pop_last();
        }
        fresh
    }

    /// Moves `base` past `n` bytes delivered in order, then past whatever
    /// held data is now contiguous with it, which becomes readable in
    /// `ring`. Returns the extra bytes joined.
    pub fn advance(&mut self, ring: &mut RingBuf, n: u64) -> u64 {
        self.base += n;
        let mut joined = 0;
        while let Some((start, end)) = self.ranges.first() {
            if start > self.base {
                break;
            }
            self.ranges.pop_first();
            if end > self.base {
                let extra = end - self.base;
                ring.commit(extra as usize);
                joined += extra;
                self.base = end;
            }
        }
        joined
    }

    /// Forgets the held data (the connection closed), keeping `base`.
    pub fn clear(&mut self, ring: &mut RingBuf) {
        self.ranges.clear();
        self.n_recent = 0;
        self.fin = None;
        ring.discard_ahead();
    }

    fn note_recent(&mut self, off: u64) {
        let mut out = [0u64; RECENT];
        out[0] = off;
        let mut k = 1;
        for &r in &self.recent[..usize::from(self.n_recent)] {
            if k < RECENT && r != off {
                out[k] = r;
                k += 1;
            }
        }
        self.recent = out;
        self.n_recent = k as u8;
    }

    /// Up to `out.len()` blocks of held data as stream offsets, those with
    /// the most recently received segments first, then the lowest others
    /// (RFC 2018 §4). O(blocks · log k).
    pub fn sack_ranges(&self, out: &mut [(u64, u64)]) -> usize {
        let mut n = 0;
        let recent = self.recent[..usize::from(self.n_recent)].iter().filter_map(|&at| self.ranges.containing(at));
        for block in recent.chain(self.ranges.iter()) {
            if n >= out.len() {
                break;
            }
            if !out[..n].contains(&block) {
                out[n] = block;
                n += 1;
            }
        }
        n
    }
}

/// Reads `data` as segments (offset, length) of a byte pattern delivered to
/// reassembly and the ring, and checks them against a model of every byte
/// (see `crate::fuzzing::reassembly`).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_ops(data: &[u8]) {
    const LIMIT: usize = 1 << 14;
    let mut r = Reassembly::default();
    let mut ring = RingBuf::default();
    let mut covered = std::collections::BTreeSet::new();
    let mut read = 0u64;
    let pattern = |i: u64| (i % 251) as u8;
    for op in data.chunks_exact(4) {
        if op[0] == 0xff {
            // The reader takes what is readable.
            let mut out = vec![0u8; ring.len()];
            let n = ring.pop_into(&mut out);
            for (i, &byte) in out[..n].iter().enumerate() {
                assert_eq!(byte, pattern(read + i as u64), "byte {} in place", read + i as u64);
            }
            read += n as u64;
            continue;
        }
        let off = r.base + u64::from(u16::from_le_bytes([op[0], op[1]])) % (LIMIT as u64);
        let len = u64::from(op[2]) * 4 + u64::from(op[3] % 4) + 1;
        let room = (LIMIT - ring.len()) as u64;
        let end = (off + len).min(r.base + room);
        if end <= off {
            continue;
        }
        let bytes: Vec<u8> = (off..end).map(pattern).collect();
        if off == r.base {
            ring.push(&bytes, LIMIT);
            r.advance(&mut ring, bytes.len() as u64);
        } else {
            r.insert(&mut ring, LIMIT, off, &bytes);
        }
        covered.extend(off..end);
        let mut prefix = read;
        while covered.contains(&prefix) {
            prefix += 1;
        }
        assert!(r.base <= prefix, "readable only what was covered: base {} prefix {prefix}", r.base);
        assert_eq!(r.base, read + ring.len() as u64, "the ring holds what is readable");
        assert!(ring.capacity() <= LIMIT);
        assert!(r.range_count() <= (LIMIT / BUFFER_BYTES_PER_RANGE).max(MIN_RANGES));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 16;

    /// Delivers `segments` (offset, length) in the order given; returns the
    /// readable bytes, checked against the byte pattern `offset as u8`.
    fn run(segments: &[(u64, u64)]) -> (Reassembly, RingBuf) {
        let mut r = Reassembly::default();
        let mut ring = RingBuf::default();
        for &(off, len) in segments {
            let data: Vec<u8> = (off..off + len).map(|b| b as u8).collect();
            let end = off + len;
            if end <= r.base {
                continue;
            }
            let (off, data) = if off < r.base { (r.base, &data[(r.base - off) as usize..]) } else { (off, &data[..]) };
            if (ring.len() as u64 + end - r.base) as usize > LIMIT {
                continue;
            }
            if off == r.base {
                ring.push(data, LIMIT);
                r.advance(&mut ring, data.len() as u64);
            } else {
                r.insert(&mut ring, LIMIT, off, data);
            }
        }
        (r, ring)
    }

    #[test]
    fn a_hole_filled_joins_everything_behind_it() {
        let segs: Vec<(u64, u64)> = (1..2000).map(|i| (i * 20, 20)).chain([(0, 20)]).collect();
        let (r, ring) = run(&segs);
        assert_eq!(r.base, 40_000);
        assert_eq!(r.range_count(), 0);
        assert_eq!(ring.len(), 40_000);
    }

    #[test]
    fn sack_blocks_start_with_the_latest_segment() {
        let (r, _) = run(&[(100, 10), (300, 10), (500, 10), (310, 10)]);
        let mut out = [(0, 0); 3];
        assert_eq!(r.sack_ranges(&mut out), 3);
        assert_eq!(out, [(300, 320), (500, 510), (100, 110)]);
    }

    #[test]
    fn nothing_past_the_fin_is_held() {
        let (mut r, mut ring) = run(&[(100, 50), (300, 50)]);
        r.set_fin(320);
        let mut out = [(0, 0); 3];
        assert_eq!(r.sack_ranges(&mut out), 2);
        assert!(out[..2].contains(&(300, 320)), "trimmed at the FIN: {out:?}");
        assert_eq!(r.insert(&mut ring, LIMIT, 400, &[1; 10]), 0, "refused past the FIN");
        assert_eq!(r.insert(&mut ring, LIMIT, 315, &[1; 10]), 0, "clipped at the FIN");
        r.set_fin(999);
        assert_eq!(r.fin(), Some(320), "the first FIN stands");
    }

    #[test]
    fn a_hole_at_every_other_byte_is_bounded() {
        let mut r = Reassembly::default();
        let mut ring = RingBuf::default();
        for i in 1..(LIMIT as u64 / 2) {
            r.insert(&mut ring, LIMIT, 2 * i, &[0]);
        }
        assert!(r.range_count() <= (LIMIT / BUFFER_BYTES_PER_RANGE).max(MIN_RANGES));
        assert!(ring.capacity() <= LIMIT);
    }

    proptest! {
        /// Whatever the order, overlaps and duplicates, the readable bytes
        /// are the longest prefix the segments cover, each byte in place.
        #[test]
        fn delivers_the_covered_prefix_in_order(segs in proptest::collection::vec((0u64..3000, 1u64..400), 1..80)) {
            let (r, mut ring) = run(&segs);
            let mut covered = vec![false; 4000];
            let mut prefix = 0u64;
            // The model: bytes covered by segments that fit at their arrival.
            let mut model = RangeSet::default();
            let mut base = 0u64;
            for &(off, len) in &segs {
                let end = off + len;
                if end <= base { continue; }
                let start = off.max(base);
                if end - base > LIMIT as u64 { continue; }
                model.insert(start, end);
                while let Some((s, e)) = model.first() {
                    if s > base { break; }
                    model.pop_first();
                    base = base.max(e);
                }
                for b in start..end { covered[b as usize] = true; }
            }
            while prefix < 4000 && covered[prefix as usize] { prefix += 1; }
            prop_assert_eq!(r.base, base);
            prop_assert_eq!(base, prefix);
            let mut out = vec![0u8; ring.len()];
            ring.pop_into(&mut out);
            for (i, &b) in out.iter().enumerate() {
                prop_assert_eq!(b, i as u8);
            }
            prop_assert_eq!(out.len() as u64, base);
        }
    }
}
