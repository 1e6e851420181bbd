//! The Internet checksum (RFC 1071) and the TCP/UDP pseudo-headers.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` to a running one's-complement sum (not yet folded).
pub fn sum(acc: u32, data: &[u8]) -> u32 {
    // RFC 1071 §2: the one's-complement sum is independent of byte order
    // (sum native-endian words, swap at the end) and can be taken over wider
    // words and folded later. Eight independent 64-bit lanes over 32-byte
    // blocks let the compiler vectorise; no lane can overflow below 2^32 bytes.
    let mut lanes = [0u64; 8];
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            *lane += u64::from(u32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]));
        }
    }
    let mut wide: u64 = lanes.iter().sum();
    let mut words = blocks.remainder().chunks_exact(4);
    for c in &mut words {
        wide += u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut pairs = words.remainder().chunks_exact(2);
    for c in &mut pairs {
        wide += u64::from(u16::from_ne_bytes([c[0], c[1]]));
    }
    if let [last] = pairs.remainder() {
        // An odd last byte is the high half of a zero-padded word.
        wide += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    let native = fold_wide(wide);
    // Back to network order, then add the caller's running sum.
    fold_wide(u64::from(u16::from_be(native)) + u64::from(acc)) as u32
}

/// Folds a 64-bit sum to 16 bits with end-around carry.
fn fold_wide(mut w: u64) -> u16 {
    while w > 0xffff {
        w = (w & 0xffff) + (w >> 16);
    }
    w as u16
}

/// Folds a running sum into the final 16-bit one's-complement checksum.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The checksum of `data` alone (used by the IPv4 header and ICMPv4).
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum(0, data))
}

/// The running sum of the IPv4 pseudo-header (RFC 9293 §3.1).
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let mut acc = sum(0, &src.octets());
    acc = sum(acc, &dst.octets());
    acc + u32::from(proto) + u32::from(len)
}

/// The running sum of the IPv6 pseudo-header (RFC 8200 §8.1).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, len: u32) -> u32 {
    let mut acc = sum(0, &src.octets());
    acc = sum(acc, &dst.octets());
    acc = acc.wrapping_add(len >> 16).wrapping_add(len & 0xffff);
    acc + u32::from(proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2, complement 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), 0x220d);
    }

    /// The textbook definition: 16-bit big-endian words, one at a time.
    fn reference(acc: u32, data: &[u8]) -> u16 {
        let mut s = u64::from(acc);
        for c in data.chunks(2) {
            s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        fold_wide(s)
    }

    #[test]
    fn fast_sum_matches_the_reference_for_every_length_and_start() {
        let mut x = 0x1234_5678u32;
        let data: std::vec::Vec<u8> = (0..2000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        for start in 0..9 {
            for len in 0..300 {
                let d = &data[start..start + len * 5];
                for acc in [0, 1, 0xffff, 0x1_2345] {
                    assert_eq!(fold(sum(acc, d)), !reference(acc, d), "start {start} len {}", d.len());
                }
            }
        }
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(checksum(&[0x12, 0x34, 0x56]), checksum(&[0x12, 0x34, 0x56, 0x00]));
    }
}
