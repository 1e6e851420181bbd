//! A set of disjoint, coalesced half-open ranges of `u64` (stream offsets),
//! after quinn's `RangeSet`: one ordered map from start to end, so that
//! inserting, finding the range holding an offset and taking the lowest
//! range are O(log k) in the number of ranges k. Adjacent and overlapping
//! ranges are merged on insert, so k counts holes, not segments.

use std::collections::BTreeMap;

/// Disjoint, non-adjacent half-open ranges `[start, end)`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RangeSet {
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Adds `[start, end)`, merging with ranges it overlaps or touches.
    /// Returns how many of its bytes were not in the set before.
    pub fn insert(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        // The range at or left of `start` that reaches it (overlap or adjacency).
        let left = self.map.range(..=start).next_back().map(|(&s, &e)| (s, e)).filter(|&(_, e)| e >= start);
        if let Some((_, e)) = left {
            if e >= end {
                return 0;
            }
        }
        let mut covered = left.map_or(0, |(_, e)| e - start);
        let mut new_end = end;
        // Ranges starting inside (start, end] are swallowed.
        while let Some((&s, &e)) = self.map.range(start.saturating_add(1)..=end).next() {
            self.map.remove(&s);
            covered += e.min(end) - s;
            new_end = new_end.max(e);
        }
        match left {
            Some((s, _)) => {
                self.map.insert(s, new_end);
            }
            None => {
                self.map.insert(start, new_end);
            }
        }
        (end - start) - covered
    }

    /// The range holding `at`, if any.
    pub fn containing(&self, at: u64) -> Option<(u64, u64)> {
        let (&s, &e) = self.map.range(..=at).next_back()?;
        (at < e).then_some((s, e))
    }

    /// The intersection of `[start, end)` with the lowest range it meets.
    pub fn first_overlap(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        let (s, e) = match self.map.range(..=start).next_back() {
            Some((&s, &e)) if e > start => (s, e),
            _ => self.map.range(start..end).next().map(|(&s, &e)| (s, e))?,
        };
        let (a, b) = (s.max(start), e.min(end));
        (a < b).then_some((a, b))
    }

    /// The lowest range.
    pub fn first(&self) -> Option<(u64, u64)> {
        self.map.first_key_value().map(|(&s, &e)| (s, e))
    }

    /// Removes and returns the lowest range.
    pub fn pop_first(&mut self) -> Option<(u64, u64)> {
        self.map.pop_first()
    }

    /// Removes and returns the highest range.
    pub fn pop_last(&mut self) -> Option<(u64, u64)> {
        self.map.pop_last()
    }

    /// The ranges in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&s, &e)| (s, e))
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Removes everything at or past `end`.
    pub fn truncate(&mut self, end: u64) {
        self.map.split_off(&end);
        if let Some((_, e)) = self.map.iter_mut().next_back() {
            *e = (*e).min(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_overlap_finds_the_held_part() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        assert_eq!(r.first_overlap(0, 10), None);
        assert_eq!(r.first_overlap(15, 35), Some((15, 20)));
        assert_eq!(r.first_overlap(20, 35), Some((30, 35)));
        assert_eq!(r.first_overlap(22, 28), None);
        assert_eq!(r.first_overlap(5, 50), Some((10, 20)));
    }
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn merges_overlapping_and_adjacent_ranges() {
        let mut s = RangeSet::default();
        assert_eq!(s.insert(10, 20), 10);
        assert_eq!(s.insert(30, 40), 10);
        assert_eq!(s.insert(20, 30), 10, "adjacent on both sides: one range");
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(10, 40)]);
        assert_eq!(s.insert(15, 35), 0, "wholly inside");
        assert_eq!(s.insert(5, 50), 15);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(5, 50)]);
        assert_eq!(s.containing(49), Some((5, 50)));
        assert_eq!(s.containing(50), None);
        assert_eq!(s.insert(7, 7), 0, "empty ranges add nothing");
    }

    #[test]
    fn truncating_drops_and_trims_what_lies_past_the_end() {
        let mut s = RangeSet::default();
        s.insert(0, 10);
        s.insert(20, 30);
        s.insert(40, 50);
        s.truncate(25);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 10), (20, 25)]);
        s.truncate(20);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 10)]);
    }

    proptest! {
        /// Against a model that keeps every byte.
        #[test]
        fn behaves_like_a_set_of_bytes(ops in proptest::collection::vec((0u64..300, 0u64..40), 1..60)) {
            let mut s = RangeSet::default();
            let mut model = BTreeSet::new();
            for (start, len) in ops {
                let fresh = (start..start + len).filter(|b| !model.contains(b)).count() as u64;
                prop_assert_eq!(s.insert(start, start + len), fresh);
                model.extend(start..start + len);
                // The ranges are exactly the model's maximal runs.
                let mut runs = Vec::new();
                for &b in &model {
                    match runs.last_mut() {
                        Some((_, e)) if *e == b => *e += 1,
                        _ => runs.push((b, b + 1)),
                    }
                }
                prop_assert_eq!(s.iter().collect::<Vec<_>>(), runs);
                for b in 0..350 {
                    prop_assert_eq!(s.containing(b).is_some(), model.contains(&b));
                }
            }
        }
    }
}
