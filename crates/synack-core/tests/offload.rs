//! Segmentation offload (DESIGN.md): super-segments out, sized as Linux
//! sizes TSO bursts and never past the windows; retransmissions of one MSS;
//! coalesced segments in, counted as segments of their size.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{Config, Offload, Received};
use synack_wire::TcpFlags;

fn offload() -> Config {
    Config { offload: Offload { segmentation: true, checksum: true }, ..Config::default() }
}

/// A pair where A sends with offload over a link of one-way `delay`; the
/// link cuts super-segments.
fn offloading_pair(delay: Duration) -> (Pair, synack_core::ConnHandle, synack_core::ConnHandle) {
    let mut p = Pair::with_configs(offload(), Config::default());
    p.delay = delay;
    let l = p.listen();
    let c = p.connect();
    p.run_for(Duration::from_millis(100));
    let s = p.b.accept(l).expect("accepted");
    p.offload = true;
    p.transmits.clear();
    (p, c, s)
}

fn data_transmits(p: &Pair, side: Side) -> Vec<(usize, Option<u16>)> {
    p.transmits.iter().filter(|t| t.0 == side && t.1 > 100).map(|t| (t.1, t.2)).collect()
}

#[test]
fn on_a_short_path_the_initial_window_goes_out_as_two_super_segments() {
    // Linux's tcp_tso_autosize adds a whole 64 KiB below 512 µs of RTT;
    // its tcp_cwnd_test keeps a burst to half of cwnd (two in flight).
    let (mut p, c, s) = offloading_pair(Duration::from_micros(50));
    let now = p.now;
    p.a.send(now, c, &vec![7u8; 100_000]).unwrap();
    p.flush();
    let mss = p.a.info(c).unwrap().snd_mss as usize;
    let first = data_transmits(&p, Side::A);
    assert_eq!(first.len(), 2, "two datagrams for the initial window: {first:?}");
    for t in &first {
        assert_eq!(t.1, Some(mss as u16));
        assert_eq!(t.0, 20 + 32 + 5 * mss, "five segments (half of cwnd), one IP+TCP header");
    }
    // The peer sees ten segments, and everything arrives.
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.read_all(Side::B, s).len(), 100_000);
    let sizes = data_transmits(&p, Side::A);
    assert!(sizes.iter().all(|&(len, _)| len <= 65_535), "{sizes:?}");
    assert!(sizes.len() < 100_000 / mss / 2, "far fewer datagrams than segments: {}", sizes.len());
    let info = p.a.info(c).unwrap();
    assert!(info.segs_out as usize >= 100_000 / mss, "segments are counted as the peer sees them");
}

#[test]
fn on_a_slow_path_bursts_carry_about_a_millisecond_of_data() {
    // 20 ms RTT, cwnd 10: the pacing rate (200 % of cwnd/srtt) is 1.4 MB/s,
    // a millisecond of it is less than a segment: Linux's minimum of two.
    let (mut p, c, _) = offloading_pair(Duration::from_millis(10));
    let now = p.now;
    p.a.send(now, c, &vec![7u8; 100_000]).unwrap();
    p.flush();
    let mss = p.a.info(c).unwrap().snd_mss;
    // Pacing spreads them (tests/pacing.rs); within the first RTT all five
    // have gone, each of two segments.
    p.run_for(Duration::from_millis(15));
    let first = data_transmits(&p, Side::A);
    assert_eq!(first[..5], vec![(20 + 32 + 2 * usize::from(mss), Some(mss)); 5]);
}

#[test]
fn a_super_segment_stays_within_the_peer_window() {
    let (mut p, c, _) = Pair::established_with(offload(), Config { recv_buffer: 5000, ..Config::default() });
    p.offload = true;
    p.hold_a = true;
    p.transmits.clear();
    let now = p.now;
    p.a.send(now, c, &vec![1u8; 50_000]).unwrap();
    p.flush();
    let sent: usize = p.held.iter().map(|s| s.len).sum();
    assert!(sent <= 5000, "no more than the peer's window: {sent}");
    assert!(p.held.iter().all(|s| s.len <= p.a.info(c).unwrap().snd_mss as usize));
}

#[test]
fn a_lost_segment_is_retransmitted_alone() {
    let (mut p, c, s) = offloading_pair(Duration::from_micros(50));
    p.hold_a = true;
    let now = p.now;
    p.a.send(now, c, &vec![3u8; 14_480]).unwrap();
    p.flush();
    let mut pieces = std::mem::take(&mut p.held);
    assert_eq!(pieces.len(), 10);
    pieces.remove(0);
    p.hold_a = false;
    for seg in &pieces {
        p.deliver(Side::B, &seg.bytes);
    }
    p.transmits.clear();
    p.run_for(Duration::from_millis(100));
    let rexmit = data_transmits(&p, Side::A);
    assert_eq!(rexmit.first().map(|t| t.1), Some(None), "the fast retransmit is one plain segment: {rexmit:?}");
    let mss = p.a.info(c).unwrap().snd_mss as usize;
    assert!(rexmit[0].0 <= 20 + 60 + mss);
    assert_eq!(p.read_all(Side::B, s).len(), 14_480);
}

#[test]
fn a_coalesced_segment_counts_as_segments_of_its_size() {
    // Without a hint, 1000 bytes are one segment: the ACK is delayed.
    let mut r = Raw::passive_interactive();
    let pkt = craft_with(Side::A, r.peer_next(), r.our_next(), TcpFlags::ACK, 65535, Default::default(), &[0; 1000]);
    let now = r.now();
    r.p.b.handle_received(now, &pkt, Received { checksum_verified: false, segment_size: None });
    assert!(r.take().is_empty(), "one segment: the ACK waits");
    // The same bytes as two 500-byte segments coalesced: more than one full
    // segment is unacknowledged, so it is acknowledged at once (RFC 9293 §3.8.6.3).
    let mut r = Raw::passive_interactive();
    let now = r.now();
    r.p.b.handle_received(now, &pkt, Received { checksum_verified: false, segment_size: Some(500) });
    let out = r.take();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].ack, r.peer_next().wrapping_add(1000));
}

#[test]
fn a_verified_checksum_is_not_checked_again() {
    let mut r = Raw::passive();
    let mut pkt = craft_with(Side::A, r.peer_next(), r.our_next(), TcpFlags::ACK, 65535, Default::default(), b"x");
    let last = pkt.len() - 1;
    pkt[last] ^= 0xff;
    let now = r.now();
    r.p.b.handle_packet(now, &pkt);
    assert_eq!(r.p.b.stats().bad_checksum, 1);
    r.p.b.handle_received(now, &pkt, Received { checksum_verified: true, segment_size: None });
    assert_eq!(r.p.b.stats().bad_checksum, 1);
    assert_eq!(r.read().len(), 1, "the device vouched for it");
}
