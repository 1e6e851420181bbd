//! `synack ladder FILE`: the demo's ladder drawn from any capture (pcap or
//! pcapng from tcpdump, Wireshark or synack; raw IP, Ethernet, Linux
//! cooked): one ladder per TCP conversation, client on the left, relative
//! sequence numbers, options, and the states of both ends inferred from
//! the flags.

use crate::capture::Capture;
use crate::conversation::{conversations, StateInference};
use crate::ladder::{Entry, Ladder, Style};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use synack_core::Instant;
use synack_sim::Fate;

/// Options of `synack ladder`.
#[derive(Debug, Args)]
pub struct LadderArgs {
    /// The capture (pcap or pcapng).
    pub file: PathBuf,
    /// Draw only this conversation (1 is the first to appear).
    #[arg(long, value_name = "N")]
    pub conn: Option<usize>,
    /// Raw sequence numbers instead of relative ones.
    #[arg(long)]
    pub absolute: bool,
    /// No ANSI colours (also when stdout is not a terminal or NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
}

/// Draws the capture's conversations on stdout.
pub fn run(args: &LadderArgs) -> Result<(), String> {
    draw(args).map_err(|e| e.to_string())
}

fn draw(args: &LadderArgs) -> Result<(), Box<dyn std::error::Error>> {
    let cap = Capture::open(&args.file)?;
    let (packets, skipped) = (cap.packets.len(), cap.skipped);
    let start = cap.packets.first().map_or(std::time::Duration::ZERO, |p| p.at);
    let convs = conversations(cap);
    if convs.is_empty() {
        return Err(format!("{}: no TCP segments in {packets} packets", args.file.display()).into());
    }
    let picked: Vec<usize> = match args.conn {
        Some(n) if n == 0 || n > convs.len() => {
            return Err(format!("--conn {n}: the capture has {} conversation(s), numbered from 1", convs.len()).into())
        }
        Some(n) => vec![n - 1],
        None => (0..convs.len()).collect(),
    };
    let color = !args.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let style = Style { color, absolute: args.absolute };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (k, &i) in picked.iter().enumerate() {
        let c = &convs[i];
        if k > 0 {
            writeln!(out)?;
        }
        let note = if c.mid_stream { ", capture starts mid-connection" } else { "" };
        writeln!(
            out,
            "conversation {} of {}: {} ⇄ {}, {} segments{note}",
            i + 1,
            convs.len(),
            c.client,
            c.server,
            c.segments.len()
        )?;
        let us = |d: std::time::Duration| Instant::from_micros(d.saturating_sub(start).as_micros() as u64);
        let mut ladder = Ladder::new(style, Instant::from_micros(0));
        writeln!(out, "{}", ladder.header(&c.client.to_string(), &c.server.to_string()))?;
        let mut states = StateInference::new(c.mid_stream);
        for (at, ip, from_client) in &c.segments {
            let at = us(*at);
            let entry = Entry::Packet { at, from_client: *from_client, bytes: ip.clone(), fate: Fate::Delivered(at) };
            writeln!(out, "{}", ladder.line(&entry))?;
            for (end, from, to) in states.segment(usize::from(!*from_client), ip) {
                writeln!(out, "{}", ladder.line(&Entry::State { at, client: end == 0, from, to }))?;
            }
        }
    }
    if skipped > 0 {
        writeln!(out, "\n({skipped} frames without IP skipped)")?;
    }
    out.flush()?;
    Ok(())
}
