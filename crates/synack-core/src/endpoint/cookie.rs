//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the
//! SYN-ACK's ISS encodes what the connection needs, so nothing is stored
//! until the ACK comes back with the cookie plus one.
//!
//! The ISS is laid out as Linux lays it out:
//! `H1(tuple) + peer ISN + (count << 24) + ((H2(tuple, count, peer ISN) + mss index) mod 2^24)`,
//! where `count` ticks every 64 seconds and a cookie is good for two ticks.
//! With timestamps, the low six bits of our SYN-ACK's TSval carry the peer's
//! window scale and SACK-permitted, and come back in the ACK's TSecr; without
//! them, a cookie connection has neither (the SYN-ACK does not offer them).

use super::keyed::KeyedHasher;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::FourTuple;

/// The MSS values a cookie can carry for IPv4; the peer's MSS is rounded
/// down to one of them. Linux's msstab_ipv4 (536, 1300, 1440, 1460), with
/// 64 below it: Linux rounds a smaller MSS up to 536, synack never sends
/// more than the peer asked for.
pub(crate) const MSS_TABLE_V4: [u16; 5] = [64, 536, 1300, 1440, 1460];
/// The same for IPv6: Linux's msstab_ipv6 (1280, 1480, 1500 and 9000 less
/// 60 bytes of headers), with 64 below it.
pub(crate) const MSS_TABLE_V6: [u16; 5] = [64, 1220, 1420, 1440, 8940];

/// The table for `tuple`'s family.
fn mss_table(tuple: &FourTuple) -> &'static [u16] {
    if tuple.local.is_ipv6() {
        &MSS_TABLE_V6
    } else {
        &MSS_TABLE_V4
    }
}

/// Seconds per tick of the cookie counter.
const TICK_SECS: u64 = 64;

/// Ticks a cookie stays valid.
const MAX_AGE_TICKS: u32 = 2;

/// How long after a listener last sent a cookie it still checks ACKs for one.
pub(super) const MAX_AGE: core::time::Duration =
    core::time::Duration::from_secs(TICK_SECS * (MAX_AGE_TICKS as u64 + 1));

/// TSval low bits: the peer's window scale (15 = none).
const TS_WSCALE_MASK: u32 = 0x0f;
/// TSval bit: the peer offered SACK.
const TS_SACK_BIT: u32 = 0x10;
/// TSval bits used for options.
const TS_OPTION_BITS: u32 = 0x3f;

/// What a valid cookie gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CookieOptions {
    /// The peer's MSS, rounded down to the family's table ([`MSS_TABLE_V4`], [`MSS_TABLE_V6`]).
    pub mss: u16,
    /// The peer's window scale, if it offered one (known only with timestamps).
    pub window_scale: Option<u8>,
    /// The peer offered SACK (known only with timestamps).
    pub sack_permitted: bool,
}

/// Makes and checks SYN cookies with the endpoint's secret.
#[derive(Debug, Clone, Copy)]
pub(super) struct CookieJar {
    /// Keys H1, the hash of the tuple alone.
    h1: KeyedHasher,
    /// Keys H2, the hash of the tuple and the counter.
    h2: KeyedHasher,
}

impl CookieJar {
    /// A jar keyed with a key of its own.
    pub fn new(key: KeyedHasher) -> Self {
        Self { h1: key.derive(1), h2: key.derive(2) }
    }

    fn tick(now: Instant) -> u32 {
        (now.as_micros() / (TICK_SECS * 1_000_000)) as u32
    }

    /// The ISS for a SYN from `tuple` with sequence number `peer_isn` and MSS `peer_mss`.
    pub fn make(&self, now: Instant, tuple: &FourTuple, peer_isn: SeqNum, peer_mss: u16) -> SeqNum {
        let count = Self::tick(now);
        let index = mss_table(tuple).iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32;
        let low = self.h2.tuple_hash(tuple, count ^ peer_isn.0.rotate_left(8)).wrapping_add(index) & 0x00ff_ffff;
        SeqNum(self.h1.tuple_hash(tuple, 0).wrapping_add(peer_isn.0).wrapping_add(count << 24).wrapping_add(low))
    }

    /// The MSS encoded in `iss` if it is a cookie this jar made for `tuple`
    /// and `peer_isn` less than two ticks ago.
    pub fn check(&self, now: Instant, tuple: &FourTuple, peer_isn: SeqNum, iss: SeqNum) -> Option<u16> {
        let cookie = iss.0.wrapping_sub(self.h1.tuple_hash(tuple, 0)).wrapping_sub(peer_isn.0);
        let now_count = Self::tick(now);
        let age = now_count.wrapping_sub(cookie >> 24) & 0xff;
        if age > MAX_AGE_TICKS {
            return None;
        }
        let count = now_count.wrapping_sub(age);
        let index = cookie.wrapping_sub(self.h2.tuple_hash(tuple, count ^ peer_isn.0.rotate_left(8))) & 0x00ff_ffff;
        mss_table(tuple).get(index as usize).copied()
    }
}

/// Our SYN-ACK's TSval with the peer's options in its low bits: never
/// later than `ts_now`, so our timestamps stay monotonic.
pub(crate) fn encode_ts(ts_now: u32, window_scale: Option<u8>, sack_permitted: bool) -> u32 {
    let bits = u32::from(window_scale.map_or(15, |s| s.min(14))) | if sack_permitted { TS_SACK_BIT } else { 0 };
    let ts = (ts_now & !TS_OPTION_BITS) | bits;
    if (ts.wrapping_sub(ts_now) as i32) > 0 {
        ts.wrapping_sub(TS_OPTION_BITS + 1)
    } else {
        ts
    }
}

/// The peer's options from the TSecr of the ACK that returned a cookie.
pub(crate) fn decode_ts(mss: u16, tsecr: Option<u32>) -> CookieOptions {
    match tsecr {
        Some(ecr) => {
            let ws = ecr & TS_WSCALE_MASK;
            CookieOptions { mss, window_scale: (ws != 15).then_some(ws as u8), sack_permitted: ecr & TS_SACK_BIT != 0 }
        }
        None => CookieOptions { mss, window_scale: None, sack_permitted: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::SocketAddr;

    fn tuple(port: u16) -> FourTuple {
        FourTuple { local: SocketAddr::from(([10, 0, 0, 2], 80)), remote: SocketAddr::from(([10, 0, 0, 1], port)) }
    }

    fn jar() -> CookieJar {
        CookieJar::new(KeyedHasher::new(0x1234_5678_9abc_def0))
    }

    #[test]
    fn a_cookie_round_trips_its_mss() {
        let t0 = Instant::from_micros(1_000_000_000);
        for (mss, expect) in [(1460, 1460), (1400, 1300), (536, 536), (100, 64), (9000, 1460), (40, 64)] {
            let iss = jar().make(t0, &tuple(5000), SeqNum(77), mss);
            assert_eq!(jar().check(t0, &tuple(5000), SeqNum(77), iss), Some(expect));
        }
    }

    #[test]
    fn an_ipv6_cookie_uses_the_ipv6_table() {
        let t0 = Instant::from_micros(1_000_000_000);
        let v6 = FourTuple {
            local: SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, 2], 80)),
            remote: SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, 1], 5000)),
        };
        for (mss, expect) in [(1440, 1440), (1430, 1420), (1400, 1220), (9000, 8940), (1000, 64)] {
            let iss = jar().make(t0, &v6, SeqNum(77), mss);
            assert_eq!(jar().check(t0, &v6, SeqNum(77), iss), Some(expect), "mss {mss}");
        }
    }

    #[test]
    fn a_cookie_fails_for_another_tuple_isn_or_value() {
        let t0 = Instant::from_micros(1_000_000_000);
        let iss = jar().make(t0, &tuple(5000), SeqNum(77), 1460);
        assert_eq!(jar().check(t0, &tuple(5001), SeqNum(77), iss), None);
        assert_eq!(jar().check(t0, &tuple(5000), SeqNum(78), iss), None);
        assert_eq!(jar().check(t0, &tuple(5000), SeqNum(77), iss + 8), None);
        let other = CookieJar::new(KeyedHasher::new(99));
        assert_eq!(other.check(t0, &tuple(5000), SeqNum(77), iss), None);
    }

    #[test]
    fn a_cookie_expires_after_two_ticks() {
        let t0 = Instant::from_micros(1_000_000_000);
        let iss = jar().make(t0, &tuple(5000), SeqNum(77), 1460);
        let later = |s: u64| Instant::from_micros(1_000_000_000 + s * 1_000_000);
        assert_eq!(jar().check(later(100), &tuple(5000), SeqNum(77), iss), Some(1460));
        assert_eq!(jar().check(later(3 * 64), &tuple(5000), SeqNum(77), iss), None);
    }

    #[test]
    fn guessing_a_cookie_rarely_works() {
        let t0 = Instant::from_micros(1_000_000_000);
        let hits = (0..100_000u32).filter(|&i| jar().check(t0, &tuple(5000), SeqNum(77), SeqNum(i * 40_000)).is_some());
        assert!(hits.count() <= 1);
    }

    #[test]
    fn options_ride_in_the_timestamp() {
        for ts_now in [0u32, 5, 63, 64, 1_000_000, u32::MAX] {
            for ws in [None, Some(0), Some(7), Some(14)] {
                for sack in [false, true] {
                    let ts = encode_ts(ts_now, ws, sack);
                    assert!((ts_now.wrapping_sub(ts) as i32) >= 0, "not after now");
                    assert!(ts_now.wrapping_sub(ts) < 64);
                    let o = decode_ts(1460, Some(ts));
                    assert_eq!((o.window_scale, o.sack_permitted), (ws, sack));
                }
            }
        }
        assert_eq!(decode_ts(536, None), CookieOptions { mss: 536, window_scale: None, sack_permitted: false });
    }
}
