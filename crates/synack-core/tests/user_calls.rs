//! RFC 9293 §3.10.1-§3.10.6: OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS,
//! state by state, with the typed errors a user sees on misuse.

mod support;

use core::net::SocketAddr;
use core::time::Duration;
use support::*;
use synack_core::{CloseReason, Config, Error, Event, State};
use synack_wire::TcpFlags;

const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags::FIN;

mod configuration {
    use super::*;
    use synack_core::{ConfigError, Endpoint};

    #[test]
    fn an_invalid_configuration_is_refused_and_the_old_one_kept() {
        let bad = Config { min_rto: Duration::from_secs(9), ..Config::default() };
        assert!(matches!(Endpoint::new(bad, 1), Err(ConfigError::InitialRtoOutOfBounds { .. })));
        let mut ep = Endpoint::new(Config::default(), 1).unwrap();
        let e = ep.update_config(|c| c.keepalive_count = 0).unwrap_err();
        assert_eq!(e, ConfigError::ZeroCount("keepalive_count"));
        assert_eq!(ep.config().keepalive_count, Config::default().keepalive_count, "nothing changed");
        ep.update_config(|c| c.keepalive_count = 3).unwrap();
        assert_eq!(ep.config().keepalive_count, 3);
    }
}

mod open {
    use super::*;

    #[test]
    fn active_open_sends_syn_and_enters_syn_sent() {
        let r = Raw::syn_sent();
        assert_eq!(r.p.log[0].options.mss, Some(1460));
        assert_eq!(r.p.log[0].options.window_scale, Some(8));
        assert!(r.p.log[0].options.sack_permitted);
        assert!(r.p.log[0].options.timestamps.is_some());
    }

    #[test]
    fn open_on_a_tuple_in_use_is_addr_in_use() {
        let mut p = Pair::new();
        p.listen();
        p.connect();
        let now = p.now;
        assert_eq!(p.a.connect(now, A_ADDR, B_ADDR), Err(Error::AddrInUse));
    }

    #[test]
    fn listen_twice_on_one_address_is_addr_in_use() {
        let mut p = Pair::new();
        p.listen();
        assert_eq!(p.b.listen(B_ADDR, 8), Err(Error::AddrInUse));
    }

    #[test]
    fn ephemeral_ports_differ_and_lie_in_the_configured_range() {
        let mut p = Pair::new();
        let now = p.now;
        let local = SocketAddr::new(A_IP, 0);
        let mut ports = std::collections::HashSet::new();
        for _ in 0..100 {
            let h = p.a.connect(now, local, B_ADDR).unwrap();
            let port = p.a.tuple(h).unwrap().local.port();
            assert!((32768..=60999).contains(&port));
            assert!(ports.insert(port), "port {port} reused");
        }
    }

    #[test]
    fn ephemeral_ports_run_out_with_addr_not_available() {
        let cfg = Config { ephemeral_ports: (50000, 50003), ..Config::default() };
        let mut p = Pair::with_configs(cfg, Config::default());
        let now = p.now;
        let local = SocketAddr::new(A_IP, 0);
        for _ in 0..4 {
            p.a.connect(now, local, B_ADDR).unwrap();
        }
        assert_eq!(p.a.connect(now, local, B_ADDR), Err(Error::AddrNotAvailable));
    }

    #[test]
    fn mixed_address_families_are_addr_not_available() {
        let mut p = Pair::new();
        let now = p.now;
        let v6: SocketAddr = "[fd00::1]:80".parse().unwrap();
        assert_eq!(p.a.connect(now, A_ADDR, v6), Err(Error::AddrNotAvailable));
    }

    #[test]
    fn open_to_broadcast_or_multicast_is_refused() {
        let mut p = Pair::new();
        let now = p.now;
        for remote in ["255.255.255.255:80", "224.0.0.1:80", "[ff02::1]:80", "0.0.0.0:80"] {
            let remote: SocketAddr = remote.parse().unwrap();
            let local = if remote.is_ipv4() { A_ADDR } else { "[fd00::1]:0".parse().unwrap() };
            assert_eq!(p.a.connect(now, local, remote), Err(Error::AddrNotAvailable), "{remote}");
        }
    }

    #[test]
    fn listener_on_the_unspecified_address_accepts_for_any_address() {
        let mut p = Pair::new();
        let l = p.b.listen("0.0.0.0:80".parse().unwrap(), 8).unwrap();
        p.connect();
        p.run_for(Duration::from_millis(100));
        let s = p.b.accept(l).unwrap();
        assert_eq!(p.b.tuple(s).unwrap().local, B_ADDR);
    }
}

mod send {
    use super::*;

    #[test]
    fn in_syn_sent_is_queued_and_sent_once_established() {
        let mut p = Pair::new();
        p.listen();
        let c = p.connect();
        let now = p.now;
        assert_eq!(p.a.send(now, c, b"early bird"), Ok(10));
        p.run_for(Duration::from_millis(100));
        let s = p.b.accept(p.listener.unwrap()).unwrap();
        assert_eq!(p.read_all(Side::B, s), b"early bird");
    }

    #[test]
    fn after_shutdown_is_broken_pipe() {
        let mut r = Raw::passive();
        r.shutdown();
        let (now, h) = (r.now(), r.h.unwrap());
        assert_eq!(r.p.b.send(now, h, b"x"), Err(Error::BrokenPipe));
    }

    #[test]
    fn in_close_wait_is_allowed() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, &[]);
        assert_eq!(r.state(), State::CloseWait);
        r.take();
        assert_eq!(r.send(b"reply"), 5);
        assert_eq!(r.take()[0].len, 5);
    }

    #[test]
    fn when_the_buffer_is_full_would_block() {
        let cfg = Config { send_buffer: 1000, ..Config::default() };
        let (mut p, c, _s) = Pair::established_with(cfg, Config::default());
        let now = p.now;
        assert_eq!(p.a.send(now, c, &[7u8; 1500]), Ok(1000));
        assert_eq!(p.a.send(now, c, b"x"), Err(Error::WouldBlock));
        assert_eq!(p.a.send_capacity(c), Ok(0));
        p.run_for(Duration::from_millis(100));
        assert!(p.events_a.contains(&Event::Writable(c)));
        assert_eq!(p.a.send_capacity(c), Ok(1000));
    }

    #[test]
    fn on_a_closed_handle_is_invalid_handle() {
        let (mut p, c, _s) = Pair::established();
        let now = p.now;
        p.a.close(now, c).unwrap();
        assert_eq!(p.a.send(now, c, b"x"), Err(Error::InvalidHandle));
    }
}

mod receive {
    use super::*;

    #[test]
    fn with_nothing_to_read_would_block() {
        let mut r = Raw::passive();
        let (now, h) = (r.now(), r.h.unwrap());
        let mut buf = [0u8; 8];
        assert_eq!(r.ep().recv(now, h, &mut buf), Err(Error::WouldBlock));
    }

    #[test]
    fn in_syn_sent_would_block() {
        let mut r = Raw::syn_sent();
        let (now, h) = (r.now(), r.h.unwrap());
        let mut buf = [0u8; 8];
        assert_eq!(r.ep().recv(now, h, &mut buf), Err(Error::WouldBlock));
    }

    #[test]
    fn after_fin_returns_remaining_data_then_end_of_stream() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, b"tail");
        let (now, h) = (r.now(), r.h.unwrap());
        let mut buf = [0u8; 2];
        assert_eq!(r.ep().recv(now, h, &mut buf), Ok(2));
        assert_eq!(r.ep().recv(now, h, &mut buf), Ok(2));
        assert_eq!(r.ep().recv(now, h, &mut buf), Ok(0));
        assert_eq!(r.ep().recv(now, h, &mut buf), Ok(0));
    }

    #[test]
    fn opens_the_window_as_the_application_reads() {
        let cfg = Config { recv_buffer: 4096, window_scaling: false, ..Config::default() };
        let (mut p, c, s) = Pair::established_with(Config::default(), cfg);
        let now = p.now;
        p.a.send(now, c, &[1u8; 10_000]).unwrap();
        p.run_for(Duration::from_millis(200));
        assert_eq!(p.b.readable_bytes(s), Ok(4096), "the receiver's buffer bounds what is accepted");
        let got = p.read_all(Side::B, s);
        assert_eq!(got.len(), 4096);
        p.run_for(Duration::from_secs(2));
        let rest = p.read_all(Side::B, s);
        p.run_for(Duration::from_secs(2));
        let rest2 = p.read_all(Side::B, s);
        assert_eq!(got.len() + rest.len() + rest2.len(), 10_000);
    }
}

mod close {
    use super::*;

    #[test]
    fn in_syn_sent_deletes_the_connection_without_a_segment() {
        let mut r = Raw::syn_sent();
        let (now, h) = (r.now(), r.h.unwrap());
        r.ep().close(now, h).unwrap();
        assert!(r.take().is_empty());
        assert_eq!(r.p.a.connection_count(), 0);
    }

    #[test]
    fn in_syn_received_sends_fin_once_established() {
        let mut p = Pair::new();
        p.listen();
        p.connect();
        p.hold_a = true;
        p.run_for(Duration::from_millis(15)); // B got the SYN and is in SYN-RECEIVED
        p.hold_a = false;
        assert_eq!(p.b.connection_count(), 1);
        p.held.clear();
        p.run_for(Duration::from_millis(100));
        let s = p.b.accept(p.listener.unwrap()).unwrap();
        let now = p.now;
        p.b.shutdown(now, s).unwrap();
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.b.state(s).unwrap(), State::FinWait2);
    }

    #[test]
    fn in_established_sends_fin_after_the_data() {
        let mut r = Raw::passive();
        r.send(b"last words");
        r.shutdown();
        let out = r.take();
        let fin = out.iter().find(|s| s.flags.fin()).expect("FIN");
        assert_eq!(fin.seq.wrapping_add(fin.len as u32), r.our_next() + 10);
        assert_eq!(r.state(), State::FinWait1);
    }

    #[test]
    fn in_close_wait_moves_to_last_ack() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK | FIN, &[]);
        r.shutdown();
        assert_eq!(r.state(), State::LastAck);
        assert!(r.take().iter().any(|s| s.flags.fin()));
    }

    #[test]
    fn with_unread_data_sends_rst() {
        let mut r = Raw::passive();
        r.inject(PEER_ISN + 1, r.our_next(), ACK, b"unread");
        r.take();
        let (now, h) = (r.now(), r.h.unwrap());
        r.ep().close(now, h).unwrap();
        let out = r.take();
        assert_eq!(out[0].flags, TcpFlags::RST | ACK);
    }

    #[test]
    fn frees_the_connection_after_time_wait() {
        let (mut p, c, s) = Pair::established();
        let now = p.now;
        p.a.close(now, c).unwrap();
        p.run_for(Duration::from_millis(100));
        let now = p.now;
        p.b.close(now, s).unwrap();
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.b.connection_count(), 0, "LAST-ACK side freed at CLOSED");
        assert_eq!(p.a.connection_count(), 1, "TIME-WAIT holds the tuple");
        p.run_for(Duration::from_secs(61));
        assert_eq!(p.a.connection_count(), 0);
    }

    #[test]
    fn closing_a_listener_resets_connections_not_yet_accepted() {
        let mut p = Pair::new();
        let l = p.listen();
        let c = p.connect();
        p.run_for(Duration::from_millis(100));
        let now = p.now;
        p.b.close_listener(now, l).unwrap();
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.a.state(c).unwrap(), State::Closed);
        assert_eq!(p.a.close_reason(c).unwrap(), Some(CloseReason::Error(Error::ConnectionReset)));
        assert_eq!(p.b.accept(l), Err(Error::InvalidHandle));
    }

    #[test]
    fn twice_is_invalid_handle() {
        let (mut p, c, _s) = Pair::established();
        let now = p.now;
        p.a.close(now, c).unwrap();
        assert_eq!(p.a.close(now, c), Err(Error::InvalidHandle));
    }
}

mod abort {
    use super::*;

    #[test]
    fn in_established_sends_rst_and_closes() {
        let mut r = Raw::passive();
        let (now, h) = (r.now(), r.h.unwrap());
        r.ep().abort(now, h).unwrap();
        let out = r.take();
        assert_eq!(out[0].flags, TcpFlags::RST | ACK);
        assert_eq!(out[0].seq, r.our_next());
        assert_eq!(r.state(), State::Closed);
        assert_eq!(r.p.b.close_reason(h).unwrap(), Some(CloseReason::Error(Error::ConnectionAborted)));
    }

    #[test]
    fn in_syn_sent_sends_nothing() {
        let mut r = Raw::syn_sent();
        let (now, h) = (r.now(), r.h.unwrap());
        r.ep().abort(now, h).unwrap();
        assert!(r.take().is_empty());
        assert_eq!(r.state(), State::Closed);
    }

    #[test]
    fn in_time_wait_sends_nothing() {
        let mut r = Raw::passive();
        r.shutdown();
        r.inject(PEER_ISN + 1, r.our_next() + 1, ACK | FIN, &[]);
        assert_eq!(r.state(), State::TimeWait);
        r.take();
        let (now, h) = (r.now(), r.h.unwrap());
        r.ep().abort(now, h).unwrap();
        assert!(r.take().is_empty());
        assert_eq!(r.state(), State::Closed);
    }

    #[test]
    fn the_peer_sees_connection_reset() {
        let (mut p, c, s) = Pair::established();
        let now = p.now;
        p.a.abort(now, c).unwrap();
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.b.state(s).unwrap(), State::Closed);
        let mut buf = [0u8; 4];
        assert_eq!(p.b.recv(p.now, s, &mut buf), Err(Error::ConnectionReset));
        assert!(p.events_b.contains(&Event::Closed(s, CloseReason::Error(Error::ConnectionReset))));
    }
}

mod status {
    use super::*;

    #[test]
    fn info_reports_state_options_and_rtt() {
        let (mut p, c, _s) = Pair::established();
        let now = p.now;
        p.a.send(now, c, &[0u8; 5000]).unwrap();
        p.run_for(Duration::from_millis(200));
        let i = p.a.info(c).unwrap();
        assert_eq!(i.state, State::Established);
        assert_eq!(i.snd_mss, 1448);
        assert!(i.timestamps && i.sack);
        assert_eq!((i.snd_wscale, i.rcv_wscale), (8, 8));
        let srtt = i.srtt.expect("an RTT sample");
        assert!(srtt >= Duration::from_millis(19) && srtt <= Duration::from_millis(25), "{srtt:?}");
        assert_eq!(i.bytes_acked, 5001, "the data and, on an active open, the SYN (as Linux)");
    }
}

mod transparent {
    use super::*;

    #[test]
    fn listen_any_accepts_connections_to_any_destination() {
        let mut p = Pair::new();
        let l = p.b.listen_any(16).unwrap();
        let now = p.now;
        let c = p.a.connect(now, A_ADDR, "203.0.113.9:443".parse().unwrap()).unwrap();
        p.flush();
        // The pair routes by side, not by address: B sees the SYN to 203.0.113.9.
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.a.state(c).unwrap(), State::Established);
        let s = p.b.accept(l).unwrap();
        assert_eq!(p.b.tuple(s).unwrap().local, "203.0.113.9:443".parse().unwrap());
    }
}

#[test]
fn send_more_holds_the_runt_only_until_the_next_ack_and_never_pushes_it() {
    // MSS 536 (no option in the peer's SYN).
    let mut r = Raw::passive();
    let (now, h) = (r.now(), r.h.unwrap());
    assert_eq!(r.ep().send_more(now, h, &[1u8; 1000], true), Ok(1000));
    let out = r.take();
    assert_eq!(out.iter().map(|s| s.len).collect::<Vec<_>>(), vec![536], "the 464-byte runt waits");
    assert!(!out[0].flags.contains(TcpFlags::PSH));
    r.inject(r.peer_next(), r.our_next().wrapping_add(536), TcpFlags::ACK, &[]);
    let out = r.take();
    assert_eq!(out.iter().map(|s| s.len).collect::<Vec<_>>(), vec![464], "the ACK sends it");
    assert!(!out[0].flags.contains(TcpFlags::PSH), "MSG_MORE data is not pushed");
    // A write without it pushes.
    r.inject(r.peer_next(), r.our_next().wrapping_add(1000), TcpFlags::ACK, &[]);
    r.send(&[2u8; 10]);
    let out = r.take();
    assert_eq!(out.iter().map(|s| s.len).collect::<Vec<_>>(), vec![10]);
    assert!(out[0].flags.contains(TcpFlags::PSH));
}
