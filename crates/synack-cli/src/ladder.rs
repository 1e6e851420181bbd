//! The ladder diagram: one line per segment (time, direction, flags,
//! sequence and acknowledgment numbers, window, length, options, and what the
//! link did to it) and one line per state change of either end.

use core::fmt::Write as _;
use synack_core::{Instant, State};
use synack_sim::Fate;
use synack_wire::{IpPacket, TcpFlags, TcpPacket};

/// Something that happened, in the order it happened.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A segment left one end.
    Packet {
        /// When it was sent.
        at: Instant,
        /// Sent by the client (else by the server).
        from_client: bool,
        /// The IP datagram.
        bytes: Vec<u8>,
        /// What the link did with it.
        fate: Fate,
    },
    /// An end changed state.
    State {
        /// When.
        at: Instant,
        /// The client (else the server).
        client: bool,
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
}

/// How to draw.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// Raw sequence numbers instead of relative ones.
    pub absolute: bool,
}

/// Width of the space between the two ends.
const WIDTH: usize = 92;

/// Draws entries as lines of text.
pub struct Ladder {
    style: Style,
    start: Instant,
    /// Initial sequence numbers of the client and the server, once seen.
    isn: [Option<u32>; 2],
}

impl Ladder {
    /// A ladder whose time axis starts at `start`.
    pub fn new(style: Style, start: Instant) -> Self {
        Ladder { style, start, isn: [None, None] }
    }

    /// The header line.
    pub fn header(&self, client: &str, server: &str) -> String {
        let left = format!("{:>10}  client {client}", "time (ms)");
        let right = format!("server {server}");
        format!("{left}{}{right}", " ".repeat((WIDTH + 12).saturating_sub(left.len() + right.len())))
    }

    /// One entry as a line.
    pub fn line(&mut self, e: &Entry) -> String {
        match e {
            Entry::State { at, client, from, to } => {
                let text = format!("{} → {}", from.name(), to.name());
                let text = self.paint(&text, "1;36");
                let pad = if *client { 0 } else { WIDTH.saturating_sub(from.name().len() + to.name().len() + 3) };
                format!("{}  {}{}", self.time(*at), " ".repeat(pad), text)
            }
            Entry::Packet { at, from_client, bytes, fate } => {
                let body = self.describe(*from_client, bytes);
                let plain_len = body.1;
                let arrow_len = WIDTH.saturating_sub(plain_len + 2).max(3);
                let shaft = "─".repeat(arrow_len);
                let text =
                    if *from_client { format!("{} {shaft}▶", body.0) } else { format!("◀{shaft} {}", body.0) };
                let fate = match fate {
                    Fate::Delivered(_) => String::new(),
                    Fate::Corrupted(_) => self.paint("  ✗ corrupted", "31"),
                    Fate::Lost => self.paint("  ✗ lost", "31"),
                    Fate::QueueDrop => self.paint("  ✗ dropped (queue full)", "31"),
                };
                format!("{}  {text}{fate}", self.time(*at))
            }
        }
    }

    fn time(&self, at: Instant) -> String {
        let us = at.as_micros().saturating_sub(self.start.as_micros());
        format!("{:>10.3}", us as f64 / 1000.0)
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.style.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// The segment's description, and its length in characters without colour codes.
    fn describe(&mut self, from_client: bool, bytes: &[u8]) -> (String, usize) {
        let Ok(ip) = IpPacket::parse(bytes) else { return ("(not IP)".into(), 8) };
        let Ok(tcp) = TcpPacket::parse(ip.payload()) else { return ("(not TCP)".into(), 9) };
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };
        let flags = tcp.flags();
        if flags.syn() && self.isn[me].is_none() {
            self.isn[me] = Some(tcp.seq());
        }
        let rel = |isn: Option<u32>, v: u32, absolute: bool| match isn {
            Some(base) if !absolute => v.wrapping_sub(base),
            _ => v,
        };
        let mut s = String::new();
        let _ = write!(s, "{:<7} seq {}", flags.to_string(), rel(self.isn[me], tcp.seq(), self.style.absolute));
        if flags.ack() {
            let _ = write!(s, " ack {}", rel(self.isn[peer], tcp.ack(), self.style.absolute));
        }
        let _ = write!(s, " win {} len {}", tcp.window(), tcp.payload().len());
        let o = tcp.options();
        let mut opts: Vec<String> = Vec::new();
        if let Some(m) = o.mss {
            opts.push(format!("mss {m}"));
        }
        if o.sack_permitted {
            opts.push("sackOK".into());
        }
        if let Some((val, ecr)) = o.timestamps {
            opts.push(format!("TS val {val} ecr {ecr}"));
        }
        if let Some(w) = o.window_scale {
            opts.push(format!("wscale {w}"));
        }
        if !o.sack_blocks().is_empty() {
            let blocks: Vec<String> = o
                .sack_blocks()
                .iter()
                .map(|b| {
                    let l = rel(self.isn[peer], b.left, self.style.absolute);
                    let r = rel(self.isn[peer], b.right, self.style.absolute);
                    format!("{l}:{r}")
                })
                .collect();
            opts.push(format!("sack {}", blocks.join(" ")));
        }
        if !opts.is_empty() {
            let _ = write!(s, " <{}>", opts.join(","));
        }
        let len = s.chars().count();
        let code = if flags.rst() {
            "1;31"
        } else if flags.syn() {
            "1;32"
        } else if flags.fin() {
            "1;33"
        } else {
            "0"
        };
        let painted = if flags.contains(TcpFlags::ACK) && !flags.syn() && !flags.fin() && !flags.rst() {
            s
        } else {
            self.paint(&s, code)
        };
        (painted, len)
    }
}
