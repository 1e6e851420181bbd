//! Keyed hashing: the connection table's hasher (an attacker picks the
//! 4-tuples, so the hash is keyed), initial sequence numbers per RFC 6528,
//! timestamp offsets, and ephemeral port offsets per RFC 6056 §3.3.3.

use crate::time::Instant;
use crate::FourTuple;
use core::hash::{BuildHasher, Hash, Hasher};
use core::net::{IpAddr, SocketAddr};
use siphasher::sip::SipHasher13;

/// A `BuildHasher` with a secret key: one SipHash-1-3 probe per lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyedHasher {
    k0: u64,
    k1: u64,
}

impl KeyedHasher {
    /// A hasher keyed by a 128-bit secret.
    pub fn new(secret: u128) -> Self {
        Self { k0: secret as u64, k1: (secret >> 64) as u64 }
    }

    /// The same key, tweaked for another purpose so outputs are independent.
    pub fn derive(&self, purpose: u64) -> Self {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        purpose.hash(&mut h);
        let a = h.finish();
        purpose.wrapping_add(0x9e37_79b9_7f4a_7c15).hash(&mut h);
        Self { k0: a, k1: h.finish() }
    }

    fn hash_of<T: Hash>(&self, value: &T) -> u64 {
        self.hash_one(value)
    }

    /// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
    /// where M is a timer ticking every 4 microseconds.
    pub fn isn(&self, now: Instant, tuple: &FourTuple) -> u32 {
        let m = (now.as_micros() / 4) as u32;
        m.wrapping_add(self.hash_of(tuple) as u32)
    }

    /// A per-connection timestamp offset (RFC 7323 §5.4 allows randomising TSval).
    pub fn ts_offset(&self, tuple: &FourTuple) -> u32 {
        (self.hash_of(tuple) >> 32) as u32
    }

    /// A 32-bit keyed hash of a tuple and a counter (SYN cookies).
    pub fn tuple_hash(&self, tuple: &FourTuple, counter: u32) -> u32 {
        self.hash_of(&(tuple, counter)) as u32
    }

    /// RFC 6056 §3.3.3: where the search for a free ephemeral port begins
    /// for connections from `local` to `remote`.
    pub fn port_offset(&self, local: IpAddr, remote: SocketAddr) -> u32 {
        self.hash_of(&(local, remote)) as u32
    }
}

impl BuildHasher for KeyedHasher {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}
