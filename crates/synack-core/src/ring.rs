//! A byte ring for the send and receive buffers: allocated on first use,
//! grown by doubling up to its limit, copied in and out with `memcpy`, and
//! freed by [`RingBuf::release`] when the connection no longer needs it.
//! Besides the FIFO bytes, the receive side writes out-of-order data at its
//! offset past them ([`RingBuf::write_at`]) and makes it readable once the
//! gap before it is filled ([`RingBuf::commit`]).

/// A FIFO of bytes in one contiguous allocation.
#[derive(Debug, Default)]
pub(crate) struct RingBuf {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
    /// Bytes past `len` that hold data written ahead (kept when growing).
    ahead: usize,
}

/// Smallest allocation, so small exchanges do not grow it step by step.
const MIN_CAPACITY: usize = 4096;

impl RingBuf {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends as much of `data` as fits under `limit` bytes in total; returns the count.
    pub fn push(&mut self, data: &[u8], limit: usize) -> usize {
        let n = data.len().min(limit.saturating_sub(self.len));
        if n == 0 {
            return 0;
        }
        self.write(self.len, &data[..n], limit);
        self.len += n;
        self.ahead = self.ahead.saturating_sub(n);
        n
    }

    /// Writes `data` at `offset` bytes from the front, which may lie past
    /// the readable bytes (out-of-order data); they become readable with
    /// [`RingBuf::commit`]. `offset + data.len()` must not exceed `limit`.
    pub fn write_at(&mut self, offset: usize, data: &[u8], limit: usize) {
        let end = offset + data.len();
        if data.is_empty() || end > limit {
            return;
        }
        self.write(offset, data, limit);
        self.ahead = self.ahead.max(end.saturating_sub(self.len));
    }

    /// Makes `n` bytes written ahead by [`RingBuf::write_at`] readable.
    pub fn commit(&mut self, n: usize) {
        let n = n.min(self.ahead);
        self.len += n;
        self.ahead -= n;
    }

    /// Forgets the bytes written ahead.
    pub fn discard_ahead(&mut self) {
        self.ahead = 0;
    }

    /// Copies `data` to logical position `offset`, growing the allocation.
    fn write(&mut self, offset: usize, data: &[u8], limit: usize) {
        let n = data.len();
        self.reserve(offset + n, limit);
        let cap = self.buf.len();
        let at = (self.head + offset) % cap;
        let first = n.min(cap - at);
        self.buf[at..at + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
    }

    /// Grows the allocation to hold `want` bytes (at most `limit`, at least
    /// `want`), keeping the readable bytes and those written ahead.
    fn reserve(&mut self, want: usize, limit: usize) {
        let cap = self.buf.len();
        if want <= cap {
            return;
        }
        let new_cap = want.next_power_of_two().max(MIN_CAPACITY).min(limit.max(want));
        let mut new = vec![0u8; new_cap].into_boxed_slice();
        let keep = self.len + self.ahead;
        if keep > 0 {
            let first = keep.min(cap - self.head);
            new[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
            new[first..keep].copy_from_slice(&self.buf[..keep - first]);
        }
        self.buf = new;
        self.head = 0;
    }

    /// The bytes in order, as two slices.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let cap = self.buf.len();
        if self.len == 0 {
            return (&[], &[]);
        }
        let first = self.len.min(cap - self.head);
        (&self.buf[self.head..self.head + first], &self.buf[..self.len - first])
    }

    /// Copies `dst.len()` bytes starting `offset` bytes from the front.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        let (a, b) = self.as_slices();
        let n = dst.len();
        if offset < a.len() {
            let from_a = (a.len() - offset).min(n);
            dst[..from_a].copy_from_slice(&a[offset..offset + from_a]);
            dst[from_a..].copy_from_slice(&b[..n - from_a]);
        } else {
            let off = offset - a.len();
            dst.copy_from_slice(&b[off..off + n]);
        }
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 && self.ahead == 0 { 0 } else { (self.head + n) % self.buf.len() };
    }

    /// Hands up to `max` bytes from the front to `f` (in one or two
    /// slices, in order) and drops them; returns the count.
    pub fn pop_with(&mut self, max: usize, f: &mut dyn FnMut(&[u8])) -> usize {
        let n = max.min(self.len);
        let (a, b) = self.as_slices();
        let from_a = n.min(a.len());
        if from_a > 0 {
            f(&a[..from_a]);
        }
        if n > from_a {
            f(&b[..n - from_a]);
        }
        self.consume(n);
        n
    }

    /// Moves up to `dst.len()` bytes from the front into `dst`.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn pop_into(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.len);
        self.copy_out(0, &mut dst[..n]);
        self.consume(n);
        n
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is held, readable or written ahead.
    pub fn is_unused(&self) -> bool {
        self.len == 0 && self.ahead == 0
    }

    /// Frees the allocation (the ring must be unused to keep its bytes).
    pub fn release(&mut self) {
        *self = RingBuf::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_grows_keeping_order() {
        let mut r = RingBuf::default();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u8;
        for step in 0..2000usize {
            let n = (step * 37) % 5000;
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            let pushed = r.push(&data, 20_000);
            model.extend(&data[..pushed]);
            let take = (step * 53) % 4000;
            let mut out = vec![0u8; take];
            let got = r.pop_into(&mut out);
            let want: Vec<u8> = model.drain(..got).collect();
            assert_eq!(&out[..got], &want[..]);
            assert_eq!(r.len(), model.len());
            assert!(r.len() <= 20_000);
        }
    }

    #[test]
    fn bytes_written_ahead_survive_growth_and_wrap() {
        let mut r = RingBuf::default();
        let limit = 1 << 16;
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        for step in 0..500usize {
            // Write a later chunk first, then the one before it, then commit.
            let a: Vec<u8> = (0..300).map(|i| next_in.wrapping_add(i as u8)).collect();
            let b: Vec<u8> = (0..700).map(|i| next_in.wrapping_add((300 + i) as u8)).collect();
            next_in = next_in.wrapping_add((1000 % 256) as u8);
            if r.len() + 1000 > limit {
                break;
            }
            let base = r.len();
            r.write_at(base + 300, &b, limit);
            assert_eq!(r.push(&a, limit), 300);
            r.commit(700);
            let mut out = vec![0u8; (step * 131) % 1500];
            let n = r.pop_into(&mut out);
            for &byte in &out[..n] {
                assert_eq!(byte, next_out);
                next_out = next_out.wrapping_add(1);
            }
        }
    }
}
