//! Proportional Rate Reduction (RFC 6937) in SACK recovery: after the fast
//! retransmission the sender sends about one segment for every two the
//! peer reports delivered (ssthresh / RecoverFS = 1/2), spread over the
//! ACKs instead of waiting until `pipe` falls below cwnd and then bursting.

mod support;

use support::*;
use synack_core::{Config, CongestionControl};
use synack_wire::{SackBlock, TcpFlags, TcpOptions};

const MSS: u32 = 1460;

/// A duplicate ACK of the first byte SACKing `[first+1461*k ..)` up to `upto` segments.
fn sack_upto(r: &mut Raw, segments: u32) {
    let base = r.our_next();
    let mut o = TcpOptions::default();
    o.set_sack_blocks(&[SackBlock { left: base.wrapping_add(MSS), right: base.wrapping_add(MSS * (segments + 1)) }]);
    let pkt = craft_with(Side::A, PEER_ISN + 1, base, TcpFlags::ACK, 65535, o, &[]);
    r.p.deliver(Side::B, &pkt);
}

#[test]
fn recovery_sends_in_proportion_to_what_is_delivered() {
    // RFC 6675's DupThresh starts the recovery here (RACK, with no time
    // passing in this test, would see the loss on the first SACK); the
    // window leaves at once (no pacing) so that all of it is in flight;
    // NewReno halves (CUBIC would keep 70 %).
    let mut r = Raw::passive_sack(Config {
        initial_cwnd_segments: 20,
        rack: false,
        pacing: false,
        congestion_control: CongestionControl::NewReno,
        ..Config::default()
    });
    r.send(&vec![7u8; 40 * MSS as usize]);
    let first = r.take();
    let flight: usize = first.iter().map(|s| s.len).sum();
    assert_eq!(flight, 20 * MSS as usize, "the initial window");
    // Segment 1 is lost; the peer SACKs segments 2, 3, ... one ACK each.
    let mut per_ack = Vec::new();
    for k in 1..=9 {
        sack_upto(&mut r, k);
        per_ack.push(r.take().iter().filter(|s| s.len > 0).count());
    }
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.ssthresh, 10 * MSS, "half the flight");
    // Before recovery, each SACK takes a segment out of pipe and a new one
    // goes (as Linux's tcp_packets_in_flight; RFC 3042's Limited Transmit).
    // Recovery starts on the third SACK (DupThresh): the retransmission.
    // pipe is then 16 segments, above ssthresh: PRR sends one segment for
    // every two delivered (ceil(d * 10 / 20) - prr_out), where RFC 6675's
    // cwnd = ssthresh alone would send nothing until pipe fell below 10.
    assert_eq!(per_ack, [1, 1, 1, 0, 1, 0, 1, 0, 1], "segments sent per ACK");
    assert_eq!(info.cwnd, 16 * MSS, "PRR's cwnd: pipe 15 + sndcnt 1");
}
