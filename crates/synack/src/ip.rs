//! The IP layer around TCP: datagrams for the stack's addresses go to the
//! endpoint, ICMP echo requests are answered, ICMP errors are handed to the
//! core, everything else is counted and dropped.

use crate::socket::Socket;
use crate::stack::Core;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::Waker;
use synack_core::{ConnHandle, Received, RecvSink};
use synack_wire::{IcmpKind, IcmpMessage, IpPacket, IpRepr, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP};

/// Direct delivery into the sockets' receive queues.
struct SocketSink<'a> {
    sockets: &'a HashMap<ConnHandle, Arc<Socket>>,
    wakers: &'a mut Vec<Waker>,
    /// Bytes taken.
    taken: u64,
}

impl RecvSink for SocketSink<'_> {
    fn offer(&mut self, h: ConnHandle, data: &[u8]) -> bool {
        let taken = self.sockets.get(&h).is_some_and(|s| s.take_direct(data, self.wakers));
        self.taken += if taken { data.len() as u64 } else { 0 };
        taken
    }
}

impl Core {
    /// One datagram from the device (or looped back). In-order data goes
    /// straight to its socket's queue where that has room (direct
    /// delivery); the readers to wake go into `wakers`.
    pub fn input(&mut self, packet: &[u8], info: Received, wakers: &mut Vec<Waker>) {
        self.stats.packets_in += 1;
        let Ok(ip) = IpPacket::parse(packet) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let dst = ip.dst();
        let for_us = self.addresses.contains(&dst);
        match ip.protocol() {
            PROTO_TCP if for_us || self.any_destination => {
                let now = self.now();
                let before = self.ep.stats().bad_checksum;
                let mut sink = SocketSink { sockets: &self.sockets, wakers, taken: 0 };
                self.ep.handle_received_into(now, packet, info, &mut sink);
                self.stats.bytes_in_direct += sink.taken;
                self.stats.dropped_bad_checksum += self.ep.stats().bad_checksum - before;
                self.stats.segments_in += 1;
                self.stats.coalesced_in += u64::from(info.segment_size.is_some());
            }
            PROTO_ICMP | PROTO_ICMPV6 if for_us => self.icmp(&ip, packet),
            PROTO_TCP | PROTO_ICMP | PROTO_ICMPV6 => self.stats.dropped_not_for_us += 1,
            _ => self.stats.dropped_protocol += 1,
        }
    }

    /// True when a datagram is addressed to the stack itself (loopback).
    pub fn is_own(&self, packet: &[u8]) -> bool {
        IpPacket::parse(packet).is_ok_and(|ip| self.addresses.contains(&ip.dst()))
    }

    /// ICMP: answer echo requests; hand errors to the core.
    fn icmp(&mut self, ip: &IpPacket<'_>, packet: &[u8]) {
        let (src, dst) = (ip.src(), ip.dst());
        let msg = match (src, dst) {
            (IpAddr::V4(_), _) => IcmpMessage::parse_v4(ip.payload()),
            (IpAddr::V6(s), IpAddr::V6(d)) => IcmpMessage::parse_v6(ip.payload(), s, d),
            _ => return,
        };
        let Ok(msg) = msg else {
            self.stats.dropped_malformed += 1;
            return;
        };
        match msg.kind {
            IcmpKind::EchoRequest { ident, seq } => {
                let reply = IcmpMessage { kind: IcmpKind::EchoReply { ident, seq }, body: msg.body };
                let proto = if dst.is_ipv4() { PROTO_ICMP } else { PROTO_ICMPV6 };
                let hdr = IpRepr {
                    src: dst,
                    dst: src,
                    protocol: proto,
                    payload_len: 8 + msg.body.len(),
                    hop_limit: 64,
                    tos: 0,
                };
                let mut out = vec![0u8; hdr.header_len() + hdr.payload_len];
                let Ok(hl) = hdr.emit(&mut out) else { return };
                let n = match (dst, src) {
                    (IpAddr::V4(_), IpAddr::V4(_)) => reply.emit_v4(&mut out[hl..]),
                    (IpAddr::V6(s), IpAddr::V6(d)) => reply.emit_v6(&mut out[hl..], s, d),
                    _ => return,
                };
                if n.is_ok() {
                    self.replies.push(out);
                    self.stats.pings_answered += 1;
                }
            }
            kind if kind.is_error() => {
                let now = self.now();
                self.ep.handle_packet(now, packet);
            }
            _ => {}
        }
    }
}
