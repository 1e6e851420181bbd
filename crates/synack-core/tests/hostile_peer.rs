//! A peer that opens the window and then sends patterns meant to exhaust
//! memory or time: 1-byte segments at every other byte, overlapping and
//! duplicate segments, a hundred thousand holes. Memory stays within the
//! receive buffer plus the capped range bookkeeping (DESIGN.md: bounded
//! memory under attack), and the data that can be delivered is, intact.

mod support;

use support::*;
use synack_core::Config;
use synack_wire::TcpFlags;

const BUFFER: usize = 1 << 20;

/// B established with a scripted peer that offers window scaling, so that
/// B's window can open to the whole buffer.
fn peer() -> Raw {
    // A fixed buffer (no autotuning): the window opens to all of it at once.
    let cfg = Config { recv_buffer: BUFFER, recv_autotuning: false, ..Config::default() };
    let mut p = Pair::with_configs(Config::default(), cfg);
    p.hold_b = true;
    p.listen();
    let mut r = Raw { p, side: Side::B, peer_isn: PEER_ISN, iss: 0, h: None };
    let mut syn = synack_wire::TcpOptions::default();
    syn.window_scale = Some(7);
    syn.mss = Some(1460);
    let pkt = craft_with(Side::A, PEER_ISN, 0, TcpFlags::SYN, 65535, syn, &[]);
    r.p.deliver(Side::B, &pkt);
    let out = r.take();
    r.iss = out[0].seq;
    r.inject(PEER_ISN + 1, r.iss.wrapping_add(1), TcpFlags::ACK, &[]);
    r.h = Some(r.p.b.accept(r.p.listener.unwrap()).expect("accept"));
    r
}

/// Sends `data` at stream offset `off` (window field 65535, no options).
fn send_at(r: &mut Raw, off: u32, data: &[u8]) {
    let pkt = craft_with(
        Side::A,
        r.peer_next().wrapping_add(off),
        r.our_next(),
        TcpFlags::ACK,
        65535,
        Default::default(),
        data,
    );
    let now = r.now();
    r.p.b.handle_packet(now, &pkt);
}

/// Opens the receive window to the whole buffer: in-order data, read as it comes.
fn open_window(r: &mut Raw) -> u32 {
    let mut off = 0u32;
    while off < 4 * BUFFER as u32 {
        send_at(r, off, &[7u8; 1000]);
        off += 1000;
        r.read();
        let _ = r.take();
    }
    off
}

#[test]
fn a_hole_at_every_other_byte_is_held_within_the_buffer() {
    let mut r = peer();
    let base = open_window(&mut r);
    let h = r.h.unwrap();
    // One byte at every other offset across the whole window: half a million segments.
    for i in 1..(BUFFER as u32 / 2) {
        send_at(&mut r, base + 2 * i, &[1]);
        if i % 4096 == 0 {
            let _ = r.take();
        }
    }
    let info = r.p.b.info(h).unwrap();
    println!("held {} ranges, {} buffer bytes", info.reassembly_ranges, info.buffer_bytes);
    assert!(info.buffer_bytes > BUFFER / 2, "the window really was open: {}", info.buffer_bytes);
    assert!(info.buffer_bytes <= BUFFER + 64 * 1024, "buffers within the receive buffer: {}", info.buffer_bytes);
    assert!(info.reassembly_ranges <= BUFFER / 1024, "range bookkeeping capped: {}", info.reassembly_ranges);
    // The connection still works: the hole fills and data flows in order.
    send_at(&mut r, base, &[9u8; 1000]);
    let got = r.read();
    assert!(got.len() >= 1000 && got[..1000].iter().all(|&b| b == 9), "{}", got.len());
}

#[test]
fn overlapping_and_duplicate_segments_deliver_each_byte_once() {
    let mut r = peer();
    let base = open_window(&mut r);
    // The same 64 KiB sent as overlapping pieces, backwards, each several times.
    let data: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    for round in 0..3 {
        for start in (1..64u32).rev() {
            let from = start * 1024 - round * 300;
            let to = (from + 2500).min(65_536);
            send_at(&mut r, base + from, &data[from as usize..to as usize]);
        }
    }
    let _ = r.take();
    send_at(&mut r, base, &data[..2000]);
    let got = r.read();
    assert_eq!(got, data, "every byte once, in order");
}

#[test]
fn a_hundred_thousand_holes_cost_no_more_than_the_cap() {
    let mut r = peer();
    let base = open_window(&mut r);
    let h = r.h.unwrap();
    // Ten-byte segments ten bytes apart, then a pass offset by five.
    for pass in [0u32, 5] {
        for i in 1..50_000u32 {
            let off = i * 20 + pass;
            if off + 5 < BUFFER as u32 {
                send_at(&mut r, base + off, &[3u8; 5]);
            }
        }
        let _ = r.take();
    }
    let info = r.p.b.info(h).unwrap();
    assert!(info.buffer_bytes <= BUFFER + 64 * 1024, "{}", info.buffer_bytes);
    assert!(info.reassembly_ranges <= BUFFER / 1024, "{}", info.reassembly_ranges);
}
