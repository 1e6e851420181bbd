//! RFC 9293 §3.10.7, SEGMENT ARRIVES, state by state. Each module is a
//! state; each test one row of the event processing, named for CONFORMANCE.md.

mod support;

use core::time::Duration;
use support::*;
use synack_core::{CloseReason, Error, Event, State};
use synack_wire::{TcpFlags, TcpOptions};

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const RST: TcpFlags = TcpFlags::RST;
const FIN: TcpFlags = TcpFlags::FIN;
const PSH: TcpFlags = TcpFlags::PSH;

/// §3.10.7.1: no connection and no listener.
mod closed {
    use super::*;

    fn closed_port() -> Raw {
        let mut p = Pair::new();
        p.hold_b = true;
        Raw { p, side: Side::B, peer_isn: PEER_ISN, iss: 0, h: None }
    }

    #[test]
    fn segment_with_ack_gets_rst_with_seq_of_its_ack() {
        let mut r = closed_port();
        r.inject(100, 777, ACK, b"data");
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].flags, out[0].seq), (RST, 777));
    }

    #[test]
    fn segment_without_ack_gets_rst_ack_for_its_end() {
        let mut r = closed_port();
        r.inject(100, 0, SYN, &[]);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].seq, out[0].ack), (RST | ACK, 0, 101));
        r.inject(200, 0, PSH, b"abc");
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (RST | ACK, 203));
    }

    #[test]
    fn incoming_rst_is_discarded() {
        let mut r = closed_port();
        r.inject(100, 0, RST, &[]);
        r.inject(100, 5, RST | ACK, &[]);
        assert!(r.take().is_empty());
    }

    #[test]
    fn bad_checksum_is_dropped_silently() {
        let mut r = closed_port();
        let mut pkt = r.p.craft(Side::A, 100, 0, SYN, 65535, &[]);
        let last = pkt.len() - 1;
        pkt[last] ^= 0xff;
        r.p.deliver(Side::B, &pkt);
        assert!(r.take().is_empty());
        assert_eq!(r.p.b.stats().bad_checksum, 1);
    }
}

/// §3.10.7.2: LISTEN.
mod listen {
    use super::*;

    #[test]
    fn rst_is_ignored() {
        let mut r = Raw::listening();
        r.inject(PEER_ISN, 0, RST, &[]);
        assert!(r.take().is_empty());
        assert_eq!(r.p.b.connection_count(), 0);
    }

    #[test]
    fn ack_gets_rst() {
        let mut r = Raw::listening();
        r.inject(PEER_ISN, 555, ACK, &[]);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].seq), (RST, 555));
    }

    #[test]
    fn syn_makes_syn_received_and_a_syn_ack() {
        let mut r = Raw::listening();
        r.inject(PEER_ISN, 0, SYN, &[]);
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flags, SYN | ACK);
        assert_eq!(out[0].ack, PEER_ISN + 1);
        // Only MSS: the peer offered no other option, so none is echoed.
        assert_eq!(out[0].options.mss, Some(1460));
        assert_eq!(out[0].options.window_scale, None);
        assert_eq!(out[0].options.timestamps, None);
        assert!(!out[0].options.sack_permitted);
        assert_eq!(r.p.b.connection_count(), 1);
    }

    #[test]
    fn syn_with_every_option_is_answered_with_every_option() {
        let mut r = Raw::listening();
        let mut opts = TcpOptions::default();
        opts.mss = Some(1000);
        opts.window_scale = Some(7);
        opts.sack_permitted = true;
        opts.timestamps = Some((12345, 0));
        let pkt = craft_with(Side::A, PEER_ISN, 0, SYN, 65535, opts, &[]);
        r.p.deliver(Side::B, &pkt);
        let out = r.take();
        let o = out[0].options;
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, Some(8));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps.map(|t| t.1), Some(12345));
        // Finish the handshake and check what was negotiated.
        let (val, _) = o.timestamps.unwrap();
        let mut ack_opts = TcpOptions::default();
        ack_opts.timestamps = Some((12346, val));
        let pkt = craft_with(Side::A, PEER_ISN + 1, out[0].seq + 1, ACK, 512, ack_opts, &[]);
        r.p.deliver(Side::B, &pkt);
        let h = r.p.b.accept(r.p.listener.unwrap()).unwrap();
        let info = r.p.b.info(h).unwrap();
        assert_eq!(info.snd_mss, 1000 - 12, "peer's MSS less the timestamp option");
        assert_eq!((info.snd_wscale, info.rcv_wscale), (7, 8));
        assert!(info.timestamps && info.sack);
        assert_eq!(info.snd_wnd, 512 << 7);
    }

    #[test]
    fn segment_with_neither_syn_nor_ack_nor_rst_is_dropped() {
        let mut r = Raw::listening();
        r.inject(PEER_ISN, 0, PSH, b"x");
        r.inject(PEER_ISN, 0, FIN, &[]);
        assert!(r.take().is_empty());
        assert_eq!(r.p.b.connection_count(), 0);
    }
}

/// §3.10.7.3: SYN-SENT.
mod syn_sent {
    use super::*;

    #[test]
    fn unacceptable_ack_gets_rst_and_stays() {
        let mut r = Raw::syn_sent();
        let bad = r.iss; // SEG.ACK =< ISS
        r.inject(r.peer_isn, bad, ACK, &[]);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].seq), (RST, bad));
        assert_eq!(r.state(), State::SynSent);
        let bad = r.iss.wrapping_add(2); // SEG.ACK > SND.NXT
        r.inject(r.peer_isn, bad, SYN | ACK, &[]);
        assert_eq!(r.take()[0].flags, RST);
        assert_eq!(r.state(), State::SynSent);
    }

    #[test]
    fn rst_with_acceptable_ack_refuses_the_connection() {
        let mut r = Raw::syn_sent();
        r.inject(0, r.our_next(), RST | ACK, &[]);
        assert_eq!(r.state(), State::Closed);
        let h = r.h.unwrap();
        assert_eq!(r.p.a.close_reason(h).unwrap(), Some(CloseReason::Error(Error::ConnectionRefused)));
        assert!(r.events().contains(&Event::Closed(h, CloseReason::Error(Error::ConnectionRefused))));
        let now = r.now();
        let mut buf = [0u8; 8];
        assert_eq!(r.p.a.recv(now, h, &mut buf), Err(Error::ConnectionRefused));
    }

    #[test]
    fn rst_without_ack_is_dropped() {
        let mut r = Raw::syn_sent();
        r.inject(0, 0, RST, &[]);
        assert_eq!(r.state(), State::SynSent);
        assert!(r.take().is_empty());
    }

    #[test]
    fn syn_ack_establishes_and_reports_connected() {
        let r = Raw::active();
        assert!(r.events().iter().any(|e| matches!(e, Event::Connected(_))));
    }

    #[test]
    fn syn_alone_is_a_simultaneous_open() {
        let mut r = Raw::syn_sent();
        r.inject(r.peer_isn, 0, SYN, &[]);
        assert_eq!(r.state(), State::SynReceived);
        let out = r.take();
        assert_eq!(out[0].flags, SYN | ACK);
        assert_eq!((out[0].seq, out[0].ack), (r.iss, r.peer_isn + 1));
        // The peer's SYN-ACK (its answer to our SYN) completes it.
        r.inject(r.peer_isn, r.our_next(), SYN | ACK, &[]);
        r.inject(r.peer_next(), r.our_next(), ACK, &[]);
        assert_eq!(r.state(), State::Established);
    }

    #[test]
    fn segment_without_syn_or_rst_is_dropped() {
        let mut r = Raw::syn_sent();
        r.inject(r.peer_isn, 0, PSH, b"x");
        assert_eq!(r.state(), State::SynSent);
        assert!(r.take().is_empty());
    }
}

/// §3.10.7.4 in SYN-RECEIVED.
mod syn_received {
    use super::*;

    #[test]
    fn acceptable_ack_establishes_and_queues_for_accept() {
        let r = Raw::passive();
        assert!(r.events().iter().any(|e| matches!(e, Event::Incoming(_))));
    }

    #[test]
    fn unacceptable_ack_gets_rst() {
        let mut r = Raw::syn_received();
        let bad = r.iss.wrapping_add(100);
        r.inject(PEER_ISN + 1, bad, ACK, &[]);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].seq), (RST, bad));
        assert_eq!(r.p.b.accept(r.p.listener.unwrap()), Err(Error::WouldBlock));
    }

    #[test]
    fn rst_returns_to_listen() {
        let mut r = Raw::syn_received();
        r.inject(PEER_ISN + 1, 0, RST, &[]);
        r.p.flush();
        assert_eq!(r.p.b.connection_count(), 0);
        assert!(r.p.events_b.is_empty());
        // The listener still works.
        r.inject(PEER_ISN + 7, 0, SYN, &[]);
        assert_eq!(r.take()[0].flags, SYN | ACK);
    }

    #[test]
    fn retransmitted_syn_gets_the_syn_ack_again() {
        let mut r = Raw::syn_received();
        r.inject(PEER_ISN, 0, SYN, &[]);
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].flags, out[0].seq), (SYN | ACK, r.iss));
    }

    #[test]
    fn data_on_the_third_segment_is_delivered() {
        let mut r = Raw::syn_received();
        r.inject(PEER_ISN + 1, r.iss + 1, ACK | PSH, b"early");
        r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
        assert_eq!(r.read(), b"early");
    }

    #[test]
    fn fin_on_the_third_segment_moves_to_close_wait() {
        let mut r = Raw::syn_received();
        r.inject(PEER_ISN + 1, r.iss + 1, ACK | FIN, &[]);
        r.h = Some(r.p.b.accept(r.p.listener.unwrap()).unwrap());
        assert_eq!(r.state(), State::CloseWait);
    }
}

/// §3.10.7.4 in ESTABLISHED (and the checks shared by every synchronized state).
mod established {
    use super::*;

    #[test]
    fn data_is_delivered_and_acknowledged() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | PSH, b"hello");
        assert_eq!(r.read(), b"hello");
        r.run_for(Duration::from_millis(250));
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 6));
    }

    #[test]
    fn old_duplicate_gets_an_ack_and_is_not_delivered_twice() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK, b"abc");
        assert_eq!(r.read(), b"abc");
        r.take();
        r.inject(PEER_ISN + 1, r.our_next(), ACK, b"abc");
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 4));
        assert_eq!(r.read(), b"");
    }

    #[test]
    fn segment_beyond_the_window_gets_an_ack_and_is_dropped() {
        let mut r = Raw::passive();
        let far = PEER_ISN + 1 + 100_000_000;
        r.inject(far, r.our_next(), ACK, b"zzz");
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 1));
        assert_eq!(r.read(), b"");
    }

    #[test]
    fn rst_with_exact_sequence_number_resets() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, 0, RST, &[]);
        assert_eq!(r.state(), State::Closed);
        let (now, h) = (r.now(), r.h.unwrap());
        let mut buf = [0u8; 4];
        assert_eq!(r.p.b.recv(now, h, &mut buf), Err(Error::ConnectionReset));
        assert_eq!(r.p.b.send(now, h, b"x"), Err(Error::ConnectionReset));
    }

    #[test]
    fn rst_in_window_but_not_exact_gets_a_challenge_ack() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 100, 0, RST, &[]);
        assert_eq!(r.state(), State::Established);
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 1));
    }

    #[test]
    fn rst_outside_the_window_is_dropped() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN.wrapping_sub(50_000), 0, RST, &[]);
        assert_eq!(r.state(), State::Established);
        assert!(r.take().is_empty());
    }

    #[test]
    fn syn_gets_a_challenge_ack() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, 0, SYN, &[]);
        assert_eq!(r.state(), State::Established);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 1));
    }

    #[test]
    fn segment_without_ack_is_dropped() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, 0, PSH, b"noack");
        assert_eq!(r.read(), b"");
    }

    #[test]
    fn ack_of_unsent_data_gets_an_ack_and_is_dropped() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next().wrapping_add(1000), ACK, b"data");
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 1));
        assert_eq!(r.read(), b"");
    }

    #[test]
    fn ack_advances_snd_una_and_frees_the_buffer() {
        let mut r = Raw::passive();
        r.send(b"0123456789");
        let out = r.take();
        assert_eq!(out[0].len, 10);
        let h = r.h.unwrap();
        assert_eq!(r.p.b.send_queued(h).unwrap(), 10);
        r.inject(PEER_ISN + 1, r.our_next() + 10, ACK, &[]);
        assert_eq!(r.p.b.send_queued(h).unwrap(), 0);
    }

    #[test]
    fn urgent_data_is_delivered_inline_and_signalled() {
        let mut r = Raw::passive();
        // 7 bytes, the first 3 urgent: the pointer is the offset of the first non-urgent octet.
        let pkt = support::craft_urgent(Side::A, PEER_ISN + 1, r.our_next(), 3, b"URGrest");
        r.p.deliver(Side::B, &pkt);
        let h = r.h.unwrap();
        assert!(r.events().contains(&Event::Urgent(h)));
        assert_eq!(r.p.b.urgent_unread(h), Ok(3));
        let now = r.now();
        assert_eq!(r.p.b.at_urgent_mark(h), Ok(false));
        // A read stops before the mark, the last urgent byte (SIOCATMARK).
        let mut buf = [0u8; 100];
        assert_eq!(r.p.b.recv(now, h, &mut buf), Ok(2));
        assert_eq!(&buf[..2], b"UR");
        assert_eq!(r.p.b.urgent_unread(h), Ok(1));
        assert_eq!(r.p.b.at_urgent_mark(h), Ok(true));
        assert_eq!(r.read(), b"Grest", "inline, in order, from the mark on");
        assert_eq!(r.p.b.urgent_unread(h), Ok(0));
        assert_eq!(r.p.b.at_urgent_mark(h), Ok(false));
    }

    #[test]
    fn unread_urgent_data_stays_countable_after_a_graceful_close() {
        // Data with URG and a FIN, then our close: CLOSED gracefully with the
        // bytes still unread. (An overflow-checked build underflowed here.)
        let mut r = Raw::passive();
        let pkt = support::craft_urgent(Side::A, PEER_ISN + 1, r.our_next(), 2, b"UUdata");
        r.p.deliver(Side::B, &pkt);
        r.inject(PEER_ISN + 7, r.our_next(), ACK | FIN, &[]);
        r.shutdown();
        assert_eq!(r.state(), State::LastAck);
        r.inject(PEER_ISN + 8, r.our_next() + 1, ACK, &[]);
        assert_eq!(r.state(), State::Closed);
        let h = r.h.unwrap();
        assert_eq!(r.p.b.urgent_unread(h), Ok(2));
        assert_eq!(r.read(), b"UUdata");
        assert_eq!(r.p.b.urgent_unread(h), Ok(0));
    }

    #[test]
    fn fin_moves_to_close_wait_and_reads_end_of_stream() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, b"bye");
        assert_eq!(r.state(), State::CloseWait);
        // As Linux (tcp_fin enters interactive mode): the ACK of a FIN that
        // carries data waits the delayed-ACK timeout for a reply to ride on.
        assert!(r.take().is_empty(), "the ACK waits for a reply");
        r.run_for(Duration::from_millis(41));
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 5), "the FIN is acknowledged after 40 ms");
        assert_eq!(r.read(), b"bye");
        let (now, h) = (r.now(), r.h.unwrap());
        let mut buf = [0u8; 4];
        assert_eq!(r.p.b.recv(now, h, &mut buf), Ok(0));
    }

    #[test]
    fn out_of_order_data_is_acked_at_once_and_reassembled() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 4, r.our_next(), ACK, b"def");
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 1), "immediate duplicate ACK");
        assert_eq!(r.read(), b"");
        r.inject(PEER_ISN + 1, r.our_next(), ACK, b"abc");
        assert_eq!(r.read(), b"abcdef");
        let out = r.take();
        assert_eq!(out.last().unwrap().ack, PEER_ISN + 7, "the hole filled: immediate ACK");
    }
}

/// §3.10.7.4 in the closing states.
mod closing_states {
    use super::*;

    /// B in FIN-WAIT-1: it sent FIN at our_next().
    fn fin_wait_1() -> Raw {
        let mut r = Raw::passive();
        r.shutdown();
        let out = r.take();
        assert_eq!(out[0].flags, FIN | ACK);
        assert_eq!(r.state(), State::FinWait1);
        r
    }

    #[test]
    fn fin_wait_1_ack_of_fin_moves_to_fin_wait_2() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK, &[]);
        assert_eq!(r.state(), State::FinWait2);
    }

    #[test]
    fn fin_wait_1_fin_without_ack_of_ours_moves_to_closing() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, &[]);
        assert_eq!(r.state(), State::Closing);
        assert_eq!(r.take()[0].ack, PEER_ISN + 2);
        // CLOSING: the ACK of our FIN moves to TIME-WAIT.
        r.inject(PEER_ISN + 2, r.our_next() + 1, ACK, &[]);
        assert_eq!(r.state(), State::TimeWait);
    }

    #[test]
    fn fin_wait_1_fin_with_ack_of_ours_moves_to_time_wait() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | FIN, &[]);
        assert_eq!(r.state(), State::TimeWait);
    }

    #[test]
    fn fin_wait_1_and_2_still_receive_data() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next(), ACK, b"more");
        assert_eq!(r.read(), b"more");
        r.inject(PEER_ISN + 5, r.our_next() + 1, ACK, b"and more");
        assert_eq!(r.state(), State::FinWait2);
        assert_eq!(r.read(), b"and more");
    }

    #[test]
    fn fin_wait_2_fin_moves_to_time_wait_and_is_acked() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK, &[]);
        r.take();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | FIN, &[]);
        assert_eq!(r.state(), State::TimeWait);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 2));
    }

    #[test]
    fn close_wait_ignores_segment_text() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, &[]);
        r.inject(PEER_ISN + 2, r.our_next(), ACK, b"late");
        assert_eq!(r.read(), b"");
        assert_eq!(r.state(), State::CloseWait);
    }

    #[test]
    fn last_ack_ack_of_fin_closes() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, &[]);
        r.shutdown();
        assert_eq!(r.state(), State::LastAck);
        r.inject(PEER_ISN + 2, r.our_next() + 1, ACK, &[]);
        assert_eq!(r.state(), State::Closed);
        let h = r.h.unwrap();
        assert!(r.events().contains(&Event::Closed(h, CloseReason::Graceful)));
    }

    #[test]
    fn time_wait_acks_a_retransmitted_fin_and_restarts_the_timer() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | FIN, &[]);
        assert_eq!(r.state(), State::TimeWait);
        r.run_for(Duration::from_secs(50));
        r.take();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | FIN, &[]);
        let out = r.take();
        assert_eq!((out[0].flags, out[0].ack), (ACK, PEER_ISN + 2));
        r.run_for(Duration::from_secs(50));
        assert_eq!(r.state(), State::TimeWait, "2*MSL restarted at the retransmitted FIN");
        r.run_for(Duration::from_secs(11));
        assert_eq!(r.state(), State::Closed);
    }

    #[test]
    fn time_wait_rst_closes() {
        let mut r = fin_wait_1();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | FIN, &[]);
        r.inject(PEER_ISN + 2, 0, RST, &[]);
        assert_eq!(r.state(), State::Closed);
    }
}
