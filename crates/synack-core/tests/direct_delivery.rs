//! Direct delivery (`Endpoint::handle_received_into`): in-order data goes
//! to the application's sink when nothing waits before it, and through the
//! receive buffer otherwise, without ever changing the byte stream's order
//! or the window the peer sees.

mod support;

use support::*;
use synack_core::{ConnHandle, Received, RecvSink};
use synack_wire::{TcpFlags, TcpOptions};

const ACK: TcpFlags = TcpFlags::ACK;

/// A sink that takes offers while `accept` is true and records them.
#[derive(Default)]
struct Recorder {
    accept: bool,
    taken: Vec<u8>,
    offers: usize,
    handle: Option<ConnHandle>,
}

impl RecvSink for Recorder {
    fn offer(&mut self, h: ConnHandle, data: &[u8]) -> bool {
        self.offers += 1;
        self.handle = Some(h);
        if self.accept {
            self.taken.extend_from_slice(data);
        }
        self.accept
    }
}

/// The peer's data segment at `offset` past its first data byte, given to
/// the endpoint with `sink`.
fn arrive(r: &mut Raw, offset: u32, data: &[u8], sink: &mut Recorder) {
    let pkt = craft_with(Side::A, r.peer_next() + offset, r.our_next(), ACK, 65535, TcpOptions::default(), data);
    let now = r.now();
    r.ep().handle_received_into(now, &pkt, Received::default(), sink);
}

fn bytes(from: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| from.wrapping_add(i as u8)).collect()
}

#[test]
fn in_order_data_goes_to_the_sink_and_counts_as_read() {
    let mut plain = Raw::passive();
    let mut direct = Raw::passive();
    let data = bytes(0, 1000);
    arrive(&mut plain, 0, &data, &mut Recorder::default());
    let mut sink = Recorder { accept: true, ..Default::default() };
    arrive(&mut direct, 0, &data, &mut sink);
    assert_eq!(sink.taken, data);
    assert_eq!(sink.handle, direct.h);
    let h = direct.h.unwrap();
    assert_eq!(direct.ep().readable_bytes(h).unwrap(), 0, "nothing went into the receive buffer");
    // The same ACK as a connection whose application read the data at once.
    assert_eq!(plain.read(), data);
    let (a, b) = (plain.take(), direct.take());
    assert_eq!(a.len(), 1);
    assert_eq!(b.len(), 1);
    assert_eq!((a[0].ack, a[0].window), (b[0].ack, b[0].window));
    assert_eq!(direct.ep().info(h).unwrap().bytes_received, 1000);
}

#[test]
fn a_refused_offer_leaves_the_data_in_the_buffer_and_later_data_behind_it() {
    let mut r = Raw::passive();
    let mut sink = Recorder::default();
    arrive(&mut r, 0, &bytes(0, 500), &mut sink);
    assert_eq!(sink.offers, 1);
    // Bytes wait in the buffer: the next ones must queue behind them, so
    // the sink is not even asked.
    sink.accept = true;
    arrive(&mut r, 500, &bytes(244, 500), &mut sink);
    assert_eq!(sink.offers, 1);
    assert!(sink.taken.is_empty());
    assert_eq!(r.read(), bytes(0, 1000));
    // Read empty: direct again.
    arrive(&mut r, 1000, &bytes(232, 10), &mut sink);
    assert_eq!(sink.taken, bytes(232, 10));
}

#[test]
fn data_that_fills_a_hole_joins_the_out_of_order_data_in_the_buffer() {
    let mut r = Raw::passive();
    let mut sink = Recorder { accept: true, ..Default::default() };
    arrive(&mut r, 1000, &bytes(232, 1000), &mut sink);
    assert_eq!(sink.offers, 0, "out-of-order data is never offered");
    arrive(&mut r, 0, &bytes(0, 1000), &mut sink);
    assert_eq!(sink.offers, 0, "the hole's data must join what waits past it");
    assert_eq!(r.read(), bytes(0, 2000));
    arrive(&mut r, 2000, &bytes(208, 100), &mut sink);
    assert_eq!(sink.taken, bytes(208, 100));
}

#[test]
fn data_with_an_urgent_mark_ahead_goes_through_the_buffer() {
    let mut r = Raw::passive();
    let mut sink = Recorder { accept: true, ..Default::default() };
    let tcp = synack_wire::TcpRepr {
        src_port: A_ADDR.port(),
        dst_port: B_ADDR.port(),
        seq: r.peer_next(),
        ack: r.our_next(),
        flags: ACK | TcpFlags::URG,
        window: 65535,
        urgent: 5,
        options: TcpOptions::default(),
    };
    let pkt = ipv4_segment(A_ADDR, B_ADDR, &tcp, b"0123456789");
    let now = r.now();
    r.ep().handle_received_into(now, &pkt, Received::default(), &mut sink);
    assert_eq!(sink.offers, 0, "a read must stop at the mark, so the data waits in the buffer");
    let h = r.h.unwrap();
    assert_eq!(r.ep().readable_bytes(h).unwrap(), 10);
}
