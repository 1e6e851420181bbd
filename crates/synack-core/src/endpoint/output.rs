//! Packets out: stateless replies (resets for closed ports, SYN-ACKs with
//! cookies) first, then each connection that has something to send, one IP
//! datagram per call.

use super::{Endpoint, Reply, StatelessReply};
use crate::connection::{Connection, Opening, Segment, TxLimits};
use crate::event::Direction;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::{FourTuple, Transmit};
use synack_wire::{IpRepr, TcpFlags, PROTO_TCP};

/// Largest IP datagram (the IPv4 total length field, the IPv6 payload length).
const MAX_DATAGRAM: usize = 65_535;

/// IP header length for a tuple's family (no options, no extension headers).
fn ip_header_len(tuple: &FourTuple) -> usize {
    if tuple.local.is_ipv4() {
        20
    } else {
        40
    }
}

impl Endpoint {
    /// Writes the next IP datagram to send into `buf` and returns its length,
    /// or `None` when nothing is waiting. Call until `None` after every
    /// `handle_packet`, `handle_timeout` and user call. `buf` should hold the
    /// configured MTU. Datagrams are at most the MTU, with full checksums,
    /// whatever [`crate::Config::offload`] says.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.transmit(now, buf, false).map(|t| t.len)
    }

    /// [`Endpoint::poll_transmit`] for a device with the offloads that
    /// [`crate::Config::offload`] names: with segmentation offload, a run of
    /// full-sized segments comes as one super-segment of up to 64 KiB
    /// (`buf` should hold 65,535 bytes) with the segment size to cut it at;
    /// with checksum offload, TCP checksums are left for the device.
    #[must_use]
    pub fn poll_transmit_offload(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.transmit(now, buf, true)
    }

    fn transmit(&mut self, now: Instant, buf: &mut [u8], offload: bool) -> Option<Transmit> {
        let gso = offload && self.cfg.offload.segmentation;
        let partial_checksum = offload && self.cfg.offload.checksum;
        let plain = |len| Transmit { len, segment_size: None, partial_checksum: false };
        while let Some(StatelessReply { tuple, kind }) = self.replies.pop_front() {
            let hl = ip_header_len(&tuple);
            let mtu = usize::from(self.cfg.mtu).min(buf.len());
            let body = buf.get_mut(hl..mtu)?;
            let (mut hop_limit, mut tos) = (self.cfg.hop_limit, 0);
            let n = match kind {
                Reply::Rst(repr) => repr.emit(body, &[], tuple.local.ip(), tuple.remote.ip()).ok(),
                Reply::CookieSynAck { cookie, syn, listener } => {
                    let seg = Segment {
                        seq: syn.seq,
                        ack: SeqNum(0),
                        flags: TcpFlags::SYN,
                        window: syn.window,
                        urgent: 0,
                        options: syn.options,
                        payload: &[],
                        segment_size: None,
                    };
                    let ts_offset = self.isn_key.ts_offset(&tuple);
                    let opts = match self.listeners.get(listener as usize) {
                        Some((_, Some(l))) => l.opts.clone(),
                        _ => self.socket_options(),
                    };
                    hop_limit = opts.hop_limit;
                    tos = opts.tos;
                    let o = Opening { tuple, iss: cookie, ts_offset, opts: &opts };
                    Connection::stateless_syn_ack(now, &self.cfg, &o, &seg, body)
                }
            };
            if let Some(len) = n.and_then(|n| self.finish_datagram(now, buf, &tuple, n, (hop_limit, tos))) {
                return Some(plain(len));
            }
        }
        while let Some(&idx) = self.ready.front() {
            let cfg = &self.cfg;
            let Some(e) = self.slots[idx as usize].entry.as_mut() else {
                self.ready.pop_front();
                continue;
            };
            let tuple = e.conn.tuple();
            let hl = ip_header_len(&tuple);
            let mtu = usize::from(cfg.mtu).min(buf.len());
            let limit = if gso { buf.len().min(MAX_DATAGRAM) } else { mtu };
            let tx = TxLimits { mtu_body: mtu.saturating_sub(hl), gso, partial_checksum };
            let sent = match buf.get_mut(hl..limit) {
                Some(body) => e.conn.poll_segment(now, cfg, body, tx),
                None => None,
            };
            match sent {
                Some((n, segment_size)) => {
                    let ip = (e.conn.hop_limit(), e.conn.tos());
                    self.settle(now, idx);
                    if let Some(len) = self.finish_datagram(now, buf, &tuple, n, ip) {
                        return Some(Transmit { len, segment_size, partial_checksum });
                    }
                }
                None => {
                    self.ready.pop_front();
                    e.queued = false;
                    self.settle(now, idx);
                    self.maybe_free(idx);
                }
            }
        }
        None
    }

    /// Writes the IP header (with this hop limit and the DSCP of this TOS byte) in front of a
    /// TCP segment of `tcp_len` bytes at `buf[header..]`, traces it, and
    /// returns the datagram's length.
    fn finish_datagram(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        tuple: &FourTuple,
        tcp_len: usize,
        (hop_limit, tos): (u8, u8),
    ) -> Option<usize> {
        let ip = IpRepr {
            src: tuple.local.ip(),
            dst: tuple.remote.ip(),
            protocol: PROTO_TCP,
            payload_len: tcp_len,
            hop_limit,
            // The DSCP is the socket's; the ECN field is TCP's, and Not-ECT
            // (RFC 3168: synack does not negotiate ECN).
            tos: tos & !crate::socket_options::ECN_MASK,
        };
        let hl = ip.emit(buf).ok()?;
        let len = hl + tcp_len;
        self.stats.packets_out += 1;
        if let Some(t) = self.tracer.as_mut() {
            t.packet(now, Direction::Out, &buf[..len]);
        }
        Some(len)
    }
}
