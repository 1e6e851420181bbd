//! Data transfer behaviour: options in use (MSS, window scale, timestamps
//! with PAWS, SACK), loss recovery, Nagle, ICMP errors, TIME-WAIT reuse,
//! and the bounds that protect memory.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{CloseReason, Config, Error, State};
use synack_wire::{IcmpKind, IcmpMessage, IpRepr, TcpFlags, TcpOptions, PROTO_ICMP};

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;

fn syn_options(mss: Option<u16>, wscale: Option<u8>, sack: bool, ts: Option<(u32, u32)>) -> TcpOptions {
    let mut o = TcpOptions::default();
    o.mss = mss;
    o.window_scale = wscale;
    o.sack_permitted = sack;
    o.timestamps = ts;
    o
}

/// B established with a peer that offered `opts`; returns B's SYN-ACK options too.
fn passive_with(opts: TcpOptions) -> (Raw, TcpOptions) {
    let mut r = Raw::listening();
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN, 0, SYN, 65535, opts, &[]));
    let synack = r.take().remove(0);
    r.iss = synack.seq;
    let mut ack_opts = TcpOptions::default();
    if let (Some((val, _)), Some((their, _))) = (opts.timestamps, synack.options.timestamps) {
        ack_opts.timestamps = Some((val + 1, their));
    }
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN + 1, r.iss + 1, ACK, 65535, ack_opts, &[]));
    r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
    (r, synack.options)
}

#[test]
fn mss_defaults_to_536_without_the_option() {
    let (mut r, _) = passive_with(TcpOptions::default());
    r.send(&[0u8; 2000]);
    let out = r.take();
    assert!(out.iter().all(|s| s.len <= 536), "{:?}", out.iter().map(|s| s.len).collect::<Vec<_>>());
}

#[test]
fn mss_is_clamped_to_our_own_path() {
    let (mut r, _) = passive_with(syn_options(Some(9000), None, false, None));
    r.send(&[0u8; 4000]);
    let out = r.take();
    assert_eq!(out[0].len, 1460);
}

#[test]
fn window_scale_shifts_the_peers_window() {
    let (mut r, synack) = passive_with(syn_options(Some(1460), Some(2), false, None));
    assert_eq!(synack.window_scale, Some(8));
    // The peer's window field of 1000 means 4000 bytes (on a segment with
    // a later SEG.SEQ: a duplicate of the handshake's ACK may not shrink it).
    r.inject(PEER_ISN + 1, r.our_next(), ACK, b"x");
    r.inject_win(PEER_ISN + 2, r.our_next(), ACK, 1000, &[]);
    r.send(&[0u8; 10_000]);
    let sent: usize = r.take().iter().map(|s| s.len).sum();
    // Two full segments fit in 4000 bytes (unscaled, 1000 would allow none);
    // the 1080-byte rest waits for a larger window (sender SWS avoidance).
    assert_eq!(sent, 2920);
}

#[test]
fn a_duplicate_ack_does_not_shrink_the_window() {
    // As Linux's tcp_may_update_window: same SEG.SEQ, nothing new
    // acknowledged, a smaller window: an old duplicate, not an update.
    let (mut r, _) = passive_with(syn_options(Some(1460), Some(2), false, None));
    r.inject_win(PEER_ISN + 1, r.our_next(), ACK, 1000, &[]);
    r.send(&[0u8; 10_000]);
    let sent: usize = r.take().iter().map(|s| s.len).sum();
    assert_eq!(sent, 10_000, "all of it (within the initial window), not 4000 bytes");
}

#[test]
fn without_window_scaling_the_window_field_is_unscaled() {
    let (mut r, synack) = passive_with(syn_options(Some(1460), None, false, None));
    assert_eq!(synack.window_scale, None);
    r.inject(PEER_ISN + 1, r.our_next(), ACK, b"x");
    r.run_for(Duration::from_millis(100));
    let ack = r.take().remove(0);
    // Near the unscaled maximum: the SYN-ACK's 64240 (44 whole segments, as Linux) less the byte.
    assert_eq!(ack.window, 64239, "an 8 MB buffer advertised near the unscaled maximum");
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp() {
    let ts = Some((1_000_000, 0));
    let (mut r, synack) = passive_with(syn_options(Some(1460), Some(7), true, ts));
    let their = synack.timestamps.unwrap().0;
    let mut o = TcpOptions::default();
    o.timestamps = Some((1_000_010, their));
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN + 1, r.our_next(), ACK, 512, o, b"new"));
    assert_eq!(r.read(), b"new");
    r.run_for(Duration::from_millis(100));
    r.take();
    o.timestamps = Some((999_000, their)); // older than TS.Recent
    r.p.deliver(Side::B, &craft_with(Side::A, PEER_ISN + 4, r.our_next(), ACK, 512, o, b"old"));
    assert_eq!(r.read(), b"", "PAWS rejects it");
    let out = r.take();
    assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 4), "and ACKs");
    assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().paws_drops, 1);
}

#[test]
fn sack_blocks_describe_out_of_order_data() {
    let (mut r, _) = passive_with(syn_options(Some(1460), Some(7), true, None));
    r.inject(PEER_ISN + 11, r.our_next(), ACK, b"0123456789");
    let out = r.take();
    let blocks = out[0].options.sack_blocks();
    assert_eq!(blocks.len(), 1);
    assert_eq!((blocks[0].left, blocks[0].right), (PEER_ISN + 11, PEER_ISN + 21));
    r.inject(PEER_ISN + 31, r.our_next(), ACK, b"0123456789");
    let out = r.take();
    let b = out[0].options.sack_blocks();
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].left, b[0].right), (PEER_ISN + 31, PEER_ISN + 41), "the newest block first");
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit() {
    let mut r = Raw::passive();
    r.send(&[5u8; 536 * 6]); // the peer sent no MSS option: 536
    let sent = r.take();
    assert_eq!(sent.len(), 6);
    let first = sent[0].seq;
    // The first segment is lost; the next three produce duplicate ACKs.
    for _ in 0..3 {
        r.inject(PEER_ISN + 1, first, ACK, &[]);
    }
    let out = r.take();
    assert_eq!(out.first().map(|s| (s.seq, s.len)), Some((first, 536)), "retransmitted before any RTO");
    assert_eq!(r.p.b.info(r.h.unwrap()).unwrap().fast_retransmits, 1);
}

#[test]
fn nagle_holds_a_small_segment_while_data_is_unacknowledged() {
    let mut r = Raw::passive();
    r.send(b"a");
    assert_eq!(r.take().len(), 1);
    r.send(b"b");
    assert!(r.take().is_empty(), "Nagle: wait for the ACK");
    r.inject(PEER_ISN + 1, r.our_next() + 1, ACK, &[]);
    let out = r.take();
    assert_eq!((out[0].seq, out[0].len), (r.our_next() + 1, 1));
}

#[test]
fn nodelay_sends_small_segments_at_once() {
    let mut r = Raw::passive();
    let (now, h) = (r.now(), r.h.unwrap());
    r.ep().set_nodelay(now, h, true).unwrap();
    r.send(b"a");
    r.send(b"b");
    assert_eq!(r.take().len(), 2);
}

#[test]
fn receiver_window_never_shrinks_and_small_openings_are_not_advertised() {
    let cfg = Config { recv_buffer: 8192, window_scaling: false, ..Config::default() };
    let mut r = Raw::passive_with(cfg);
    r.inject(PEER_ISN + 1, r.our_next(), ACK, &[1u8; 1460]);
    r.inject(PEER_ISN + 1461, r.our_next(), ACK, &[1u8; 1460]);
    let ack = r.take().pop().expect("an ACK");
    // The SYN-ACK offered 7300 (whole segments of the 8192, as Linux):
    // 5272 free bytes would move the right edge by less than an MSS.
    assert_eq!(u32::from(ack.window) + 2920, 7300, "right edge kept");
    // The application reads 10 bytes: too small an opening to announce (receiver SWS).
    let (now, h) = (r.now(), r.h.unwrap());
    let mut buf = [0u8; 10];
    r.ep().recv(now, h, &mut buf).unwrap();
    r.p.flush();
    assert!(r.take().is_empty());
}

#[test]
fn at_zero_window_a_data_segment_still_opens_our_send_window() {
    // Both windows closed: our buffer is full, and the peer has said 0. The
    // peer's next segment carries data we cannot take and a window update;
    // RFC 9293 §3.10.7.4 asks us to accept its ACK anyway, or neither side
    // would ever send again (the deadlock a lossy echo run once showed).
    let cfg = Config { recv_buffer: 2920, window_scaling: false, ..Config::default() };
    let mut r = Raw::passive_with(cfg);
    let p = r.peer_next();
    r.inject_win(p, r.our_next(), ACK, 0, &[1u8; 1460]);
    r.inject_win(p + 1460, r.our_next(), ACK, 0, &[2u8; 1460]);
    let acks = r.take();
    assert_eq!(acks.last().map(|a| (a.ack, a.window)), Some((p + 2920, 0)), "{acks:?}");
    r.send(b"reply");
    assert!(r.take().iter().all(|s| s.len == 0), "the peer's window is zero");
    r.inject_win(p + 2920, r.our_next(), ACK, 65535, &[3u8; 100]);
    let out = r.take();
    assert!(out.iter().any(|s| s.len == 5), "the window update was taken: {out:?}");
    assert!(out.iter().all(|s| s.ack == p + 2920), "the data itself was not");
    let h = r.h.unwrap();
    assert_eq!(r.ep().info(h).unwrap().zero_window_drops, 1);
}

#[test]
fn an_ack_at_the_right_edge_of_our_window_is_taken() {
    // The peer filled our window and its first segment was lost; its later
    // ACKs of our data carry SEQ = RCV.NXT + RCV.WND. Linux takes them
    // (tcp_sequence); refusing them stalled a lossy echo run for minutes.
    let cfg = Config { recv_buffer: 2920, window_scaling: false, ..Config::default() };
    let mut r = Raw::passive_with(cfg);
    let p = r.peer_next();
    r.send(b"reply");
    assert!(r.take().iter().any(|s| s.len == 5));
    r.inject(p + 1460, r.our_next(), ACK, &[2u8; 1460]);
    let acks = r.take();
    assert_eq!(acks.last().map(|a| (a.ack, a.window)), Some((p, 2920)), "{acks:?}");
    let h = r.h.unwrap();
    let before = r.ep().info(h).unwrap().bytes_acked;
    r.inject(p + 2920, r.our_next() + 5, ACK, &[]);
    assert_eq!(r.ep().info(h).unwrap().bytes_acked - before, 5, "the ACK at the window's edge was processed");
}

fn icmp_about(p: &Pair, quoted: &[u8], kind: IcmpKind) -> Vec<u8> {
    let body = &quoted[..28];
    let msg = IcmpMessage { kind, body };
    let mut icmp = vec![0u8; 8 + body.len()];
    let n = msg.emit_v4(&mut icmp).unwrap();
    let ip = IpRepr { src: B_IP, dst: A_IP, protocol: PROTO_ICMP, payload_len: n, hop_limit: 64, tos: 0 };
    let mut pkt = vec![0u8; 20 + n];
    ip.emit(&mut pkt).unwrap();
    pkt[20..].copy_from_slice(&icmp[..n]);
    let _ = p;
    pkt
}

#[test]
fn icmp_port_unreachable_during_syn_sent_refuses_the_connection() {
    let mut r = Raw::syn_sent();
    let syn = r.p.log[0].bytes.clone();
    let pkt = icmp_about(&r.p, &syn, IcmpKind::DestUnreachable { code: 3 });
    r.p.deliver(Side::A, &pkt);
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.p.a.close_reason(r.h.unwrap()).unwrap(), Some(CloseReason::Error(Error::ConnectionRefused)));
}

#[test]
fn icmp_with_a_sequence_number_not_in_flight_is_ignored() {
    let mut r = Raw::syn_sent();
    let mut syn = r.p.log[0].bytes.clone();
    syn[24] ^= 0x80; // quoted sequence number changed
    let pkt = icmp_about(&r.p, &syn, IcmpKind::DestUnreachable { code: 3 });
    r.p.deliver(Side::A, &pkt);
    assert_eq!(r.state(), State::SynSent);
    assert_eq!(r.p.a.stats().icmp_ignored, 1);
}

#[test]
fn icmp_packet_too_big_lowers_the_mss_and_resends() {
    let (mut p, c, _s) = Pair::established();
    p.hold_a = true;
    let now = p.now;
    p.a.send(now, c, &[9u8; 3000]).unwrap();
    p.flush();
    let sent = std::mem::take(&mut p.held);
    assert_eq!(sent[0].len, 1448);
    assert_eq!(p.a.info(c).unwrap().pmtu, 1500, "tcpi_pmtu: the link's MTU");
    let pkt = icmp_about(&p, &sent[0].bytes, IcmpKind::PacketTooBig { mtu: 1000 });
    p.deliver(Side::A, &pkt);
    assert_eq!(p.a.info(c).unwrap().pmtu, 1000, "tcpi_pmtu: what the ICMP error reported");
    let out = std::mem::take(&mut p.held);
    assert_eq!(out[0].seq, sent[0].seq);
    assert_eq!(out[0].len, 948, "1000 - 40 bytes of headers - 12 of timestamps");
    assert_eq!(p.a.info(c).unwrap().snd_mss, 948);
}

#[test]
fn icmp_soft_errors_do_not_abort_an_established_connection() {
    let mut r = Raw::active();
    r.send(b"hello");
    let sent = r.take();
    let pkt = icmp_about(&r.p, &sent[0].bytes, IcmpKind::DestUnreachable { code: 1 });
    r.p.deliver(Side::A, &pkt);
    assert_eq!(r.state(), State::Established);
}

#[test]
fn a_new_syn_reopens_a_connection_in_time_wait() {
    let mut r = Raw::passive();
    r.shutdown();
    r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | TcpFlags::FIN, &[]);
    assert_eq!(r.state(), State::TimeWait);
    r.take();
    // Same 4-tuple, a sequence number beyond the old connection's.
    r.inject(PEER_ISN + 100_000, 0, SYN, &[]);
    let out = r.take();
    assert_eq!(out[0].flags, SYN | ACK);
    assert_eq!(out[0].ack, PEER_ISN + 100_001);
}

#[test]
fn out_of_order_data_beyond_the_window_is_not_stored() {
    let cfg = Config { recv_buffer: 4096, window_scaling: false, ..Config::default() };
    let mut r = Raw::passive_with(cfg);
    // 100 segments far beyond the 4 KiB window: none is kept.
    for i in 0..100u32 {
        r.inject(PEER_ISN + 5000 + i * 1000, r.our_next(), ACK, &[1u8; 1000]);
    }
    r.inject(PEER_ISN + 1, r.our_next(), ACK, &[2u8; 100]);
    assert_eq!(r.read(), vec![2u8; 100]);
}

#[test]
fn urgent_send_sets_urg_and_the_pointer_past_the_urgent_data() {
    let mut r = Raw::passive();
    r.send(b"normal ");
    let (now, h) = (r.now(), r.h.unwrap());
    r.inject(PEER_ISN + 1, r.our_next() + 7, ACK, &[]);
    r.take();
    r.ep().send_urgent(now, h, b"!!").unwrap();
    r.p.flush();
    let out = r.take();
    assert_eq!(out.len(), 1);
    assert!(out[0].flags.urg());
    let ip = synack_wire::IpPacket::parse(&out[0].bytes).unwrap();
    let tcp = synack_wire::TcpPacket::parse(ip.payload()).unwrap();
    assert_eq!(tcp.urgent(), 2, "points to the octet after the urgent data");
}

#[test]
fn buffers_are_allocated_on_demand_and_freed_when_idle() {
    let (mut p, c, s) = Pair::established();
    assert_eq!(p.a.info(c).unwrap().buffer_bytes, 0, "no data yet, no buffers");
    let now = p.now;
    p.a.send(now, c, &[3u8; 100_000]).unwrap();
    assert!(p.a.info(c).unwrap().buffer_bytes >= 100_000);
    p.run_for(Duration::from_millis(300));
    assert_eq!(p.read_all(Side::B, s).len(), 100_000);
    assert!(p.b.info(s).unwrap().buffer_bytes > 0, "still allocated right after use");
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.a.info(c).unwrap().buffer_bytes, 0);
    assert_eq!(p.b.info(s).unwrap().buffer_bytes, 0);
    // And they come back when needed.
    let now = p.now;
    p.a.send(now, c, b"again").unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.read_all(Side::B, s), b"again");
}
