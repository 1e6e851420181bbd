//! Undo on D-SACK (RFC 2883 §5): a fast retransmission that reordering
//! caused is reported back as a duplicate, and the reduction is undone,
//! without timestamps (Eifel needs them) and after the recovery ended.

mod support;

use core::time::Duration;
use support::*;
use synack_core::Config;
use synack_wire::{SackBlock, TcpFlags, TcpOptions};

const MSS: u32 = 1460;

fn ack_with_sack(r: &mut Raw, ack: u32, blocks: &[(u32, u32)]) {
    let mut o = TcpOptions::default();
    let blocks: Vec<SackBlock> = blocks.iter().map(|&(left, right)| SackBlock { left, right }).collect();
    o.set_sack_blocks(&blocks);
    let pkt = craft_with(Side::A, r.peer_next(), ack, TcpFlags::ACK, 65535, o, &[]);
    r.p.deliver(Side::B, &pkt);
}

/// Segment 0 of 10 arrives after segments 1-4 (SACKed): a fast
/// retransmission; then the original's ACK ends the recovery. Returns
/// the connection, the first data byte, and cwnd/ssthresh before the loss was presumed.
fn spurious_fast_retransmit(cfg: Config) -> (Raw, u32, u32, u32) {
    let mut r = Raw::passive_sack(Config { initial_cwnd_segments: 10, tail_loss_probe: false, ..cfg });
    r.send(&vec![3u8; 10 * MSS as usize]);
    let base = r.our_next();
    r.take();
    let before = r.p.b.info(r.h.unwrap()).unwrap();
    r.run_for(Duration::from_millis(50));
    for k in 2..=5 {
        ack_with_sack(&mut r, base, &[(base + MSS, base + k * MSS)]);
    }
    let resent = r.take().into_iter().filter(|s| s.seq == base && s.len > 0).count();
    assert_eq!(resent, 1, "a fast retransmission");
    let during = r.p.b.info(r.h.unwrap()).unwrap();
    assert!(during.ssthresh < before.ssthresh, "the window was reduced");
    // The original arrives: everything is acknowledged, the recovery ends.
    r.run_for(Duration::from_millis(1));
    ack_with_sack(&mut r, base + 10 * MSS, &[]);
    assert!(!r.p.b.info(r.h.unwrap()).unwrap().in_recovery);
    (r, base, before.cwnd, before.ssthresh)
}

#[test]
fn a_dsack_for_the_retransmission_undoes_the_reduction() {
    let (mut r, base, cwnd, ssthresh) = spurious_fast_retransmit(Config { timestamps: false, ..Config::default() });
    // A round trip later the retransmission arrives too: the peer reports
    // it as a duplicate (a D-SACK below the cumulative ACK).
    r.run_for(Duration::from_millis(50));
    ack_with_sack(&mut r, base + 10 * MSS, &[(base, base + MSS)]);
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.spurious_recoveries, 1);
    assert_eq!(info.ssthresh, ssthresh, "ssthresh restored");
    assert!(info.cwnd >= cwnd, "cwnd restored: {} < {cwnd}", info.cwnd);
    assert_eq!(info.dsack_dups, 1);
}

#[test]
fn a_dsack_outside_the_recovery_undoes_nothing() {
    let (mut r, base, _, ssthresh) = spurious_fast_retransmit(Config { timestamps: false, ..Config::default() });
    // A duplicate of data sent before the recovery began is not ours to count.
    r.run_for(Duration::from_millis(50));
    ack_with_sack(&mut r, base + 10 * MSS, &[(base - 500, base - 100)]);
    let info = r.p.b.info(r.h.unwrap()).unwrap();
    assert_eq!(info.spurious_recoveries, 0);
    assert!(info.ssthresh < ssthresh);
}
