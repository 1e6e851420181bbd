//! TCP conversations in a capture, and the state of both ends inferred
//! from the flags each one sends and receives (RFC 9293 §3.3.2's diagram,
//! as an observer between the two sees it: a segment is taken as sent and
//! received at the moment it was captured).

use crate::capture::Capture;
use core::net::SocketAddr;
use std::collections::HashMap;
use std::time::Duration;
use synack_core::State;
use synack_wire::{IpPacket, TcpFlags, TcpPacket, PROTO_TCP};

/// One TCP connection seen in a capture.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The end that opened it (sent the first SYN), or that spoke first.
    pub client: SocketAddr,
    /// The other end.
    pub server: SocketAddr,
    /// Its segments in capture order: time, IP datagram, sent by the client.
    pub segments: Vec<(Duration, Vec<u8>, bool)>,
    /// The capture began after the handshake.
    pub mid_stream: bool,
}

/// The fields of a segment the inference needs.
#[derive(Debug, Clone, Copy)]
struct Seen {
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
}

fn parse(ip: &[u8]) -> Option<Seen> {
    let p = IpPacket::parse(ip).ok()?;
    if p.protocol() != PROTO_TCP || p.is_fragment() {
        return None;
    }
    let t = TcpPacket::parse(p.payload()).ok()?;
    Some(Seen {
        src: SocketAddr::new(p.src(), t.src_port()),
        dst: SocketAddr::new(p.dst(), t.dst_port()),
        flags: t.flags(),
    })
}

/// The TCP conversations of a capture, in order of first appearance.
pub fn conversations(cap: Capture) -> Vec<Conversation> {
    let mut index: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut out: Vec<Conversation> = Vec::new();
    for pkt in cap.packets {
        let Some(s) = parse(&pkt.ip) else { continue };
        let key = if s.src <= s.dst { (s.src, s.dst) } else { (s.dst, s.src) };
        let i = *index.entry(key).or_insert_with(|| {
            // A SYN-ACK first: its receiver opened the connection.
            let (client, server) = if s.flags.syn() && s.flags.ack() { (s.dst, s.src) } else { (s.src, s.dst) };
            let mid_stream = !s.flags.syn();
            out.push(Conversation { client, server, segments: Vec::new(), mid_stream });
            out.len() - 1
        });
        let c = &mut out[i];
        c.segments.push((pkt.at, pkt.ip, s.src == c.client));
    }
    out
}

/// One end as the observer infers it.
#[derive(Debug, Clone, Copy)]
struct End {
    state: State,
    /// Sequence number just past this end's FIN, once sent.
    fin_end: Option<u32>,
}

/// Infers the states of both ends (0 = client, 1 = server) from the segments between them.
#[derive(Debug)]
pub struct StateInference {
    ends: [End; 2],
}

impl StateInference {
    /// Both ends before the first segment: client CLOSED and server
    /// LISTEN, or both ESTABLISHED for a capture that starts mid-stream.
    pub fn new(mid_stream: bool) -> Self {
        let (c, s) = if mid_stream { (State::Established, State::Established) } else { (State::Closed, State::Listen) };
        StateInference { ends: [End { state: c, fin_end: None }, End { state: s, fin_end: None }] }
    }

    /// A segment sent by end `from`: the transitions it causes, as (end, from, to).
    pub fn segment(&mut self, from: usize, ip: &[u8]) -> Vec<(usize, State, State)> {
        let Ok(p) = IpPacket::parse(ip) else { return Vec::new() };
        let Ok(t) = TcpPacket::parse(p.payload()) else { return Vec::new() };
        let (f, seq, ack, len) = (t.flags(), t.seq(), t.ack(), t.payload().len() as u32);
        let to = 1 - from;
        let mut changes = Vec::new();
        let mut set = |ends: &mut [End; 2], who: usize, st: State| {
            if ends[who].state != st {
                changes.push((who, ends[who].state, st));
                ends[who].state = st;
            }
        };
        use State::*;
        if f.rst() {
            for who in [from, to] {
                if !matches!(self.ends[who].state, Closed | Listen | TimeWait) {
                    set(&mut self.ends, who, Closed);
                }
            }
            return changes;
        }
        if f.syn() {
            let s = self.ends[from].state;
            if !f.ack() && s == Closed {
                set(&mut self.ends, from, SynSent);
            } else if f.ack() && matches!(s, Listen | Closed) {
                set(&mut self.ends, from, SynReceived);
            }
            let r = self.ends[to].state;
            if !f.ack() && matches!(r, Listen | SynSent) {
                set(&mut self.ends, to, SynReceived);
            } else if f.ack() && r == SynSent {
                set(&mut self.ends, to, Established);
            }
        } else if f.ack() && self.ends[to].state == SynReceived {
            // The ACK of the receiver's SYN (or SYN-ACK).
            set(&mut self.ends, to, Established);
        }
        // The ACK of the receiver's FIN.
        if f.ack() && self.ends[to].fin_end.is_some_and(|e| (ack.wrapping_sub(e) as i32) >= 0) {
            match self.ends[to].state {
                FinWait1 => set(&mut self.ends, to, FinWait2),
                Closing => set(&mut self.ends, to, TimeWait),
                LastAck => set(&mut self.ends, to, Closed),
                _ => {}
            }
        }
        if f.fin() {
            self.ends[from].fin_end = Some(seq.wrapping_add(len).wrapping_add(u32::from(f.syn())).wrapping_add(1));
            match self.ends[from].state {
                Established | SynReceived => set(&mut self.ends, from, FinWait1),
                CloseWait => set(&mut self.ends, from, LastAck),
                _ => {}
            }
            match self.ends[to].state {
                Established | SynReceived => set(&mut self.ends, to, CloseWait),
                FinWait1 => set(&mut self.ends, to, Closing),
                FinWait2 => set(&mut self.ends, to, TimeWait),
                _ => {}
            }
        }
        changes
    }
}
