//! `synack demo`: a client and a server on a simulated network do the
//! three-way handshake, exchange data both ways, and close; the ladder
//! diagram shows every segment and state change, then a summary.

use crate::ladder::{Entry, Ladder, Style};
use crate::units;
use clap::Args;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use synack_core::{Config, Direction, FourTuple, Instant, State, Tracer};
use synack_sim::transfer::{Outcome, Transfer, TransferSpec};
use synack_sim::{Fate, HostId, LinkConfig, Network, Observer};

/// Faults that `demo`, `serve` and `connect` inject.
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Probability that a packet is lost (0.01 or 1%).
    #[arg(long, allow_hyphen_values = true, value_name = "P", default_value = "0", value_parser = units::probability)]
    pub loss: f64,
    /// Probability that a packet is duplicated.
    #[arg(long, allow_hyphen_values = true, value_name = "P", default_value = "0", value_parser = units::probability)]
    pub duplicate: f64,
    /// Probability that a packet is delayed past later ones.
    #[arg(long, allow_hyphen_values = true, value_name = "P", default_value = "0", value_parser = units::probability)]
    pub reorder: f64,
    /// Probability that a bit of a packet is flipped (the checksum catches it).
    #[arg(long, allow_hyphen_values = true, value_name = "P", default_value = "0", value_parser = units::probability)]
    pub corrupt: f64,
    /// Random extra delay, up to this many milliseconds.
    #[arg(long, allow_hyphen_values = true, value_name = "MS", default_value = "0", value_parser = units::millis)]
    pub jitter: Duration,
    /// Link rate in bit/s (k, M, G suffixes: 10M); unlimited by default.
    #[arg(long, allow_hyphen_values = true, value_name = "RATE", value_parser = units::rate)]
    pub bandwidth: Option<u64>,
}

/// Options of `synack demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Bytes each side sends (k, M suffixes: 64k, 1M).
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value = "4k", value_parser = units::bytes)]
    pub bytes: u64,
    /// Loss, duplication, reordering, corruption, jitter, bandwidth.
    #[command(flatten)]
    pub faults: FaultArgs,
    /// One-way delay in milliseconds.
    #[arg(long, allow_hyphen_values = true, value_name = "MS", default_value = "10", value_parser = units::millis)]
    pub delay: Duration,
    /// Seed of the simulation (same seed, same run).
    #[arg(long, allow_hyphen_values = true, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Write every segment to a pcap file (LINKTYPE_RAW).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Raw sequence numbers instead of relative ones.
    #[arg(long)]
    pub absolute: bool,
    /// No ANSI colours (also when stdout is not a terminal or NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    /// Print only the summary.
    #[arg(long)]
    pub quiet: bool,
}

type Log = Arc<Mutex<Vec<Entry>>>;

/// Records what the links do, for the ladder.
struct LinkLog {
    log: Log,
    client: HostId,
}

impl Observer for LinkLog {
    fn on_send(&mut self, now: Instant, from: HostId, _to: Option<HostId>, bytes: &[u8], fate: Fate) {
        let e = Entry::Packet { at: now, from_client: from == self.client, bytes: bytes.to_vec(), fate };
        self.log.lock().expect("log lock").push(e);
    }
}

/// Records one end's state changes, for the ladder.
struct StateLog {
    log: Log,
    client: bool,
}

impl Tracer for StateLog {
    fn packet(&mut self, _now: Instant, _dir: Direction, _bytes: &[u8]) {}

    fn state_change(&mut self, now: Instant, _tuple: FourTuple, from: State, to: State) {
        self.log.lock().expect("log lock").push(Entry::State { at: now, client: self.client, from, to });
    }
}

/// Runs the demo and prints the ladder and summary.
pub fn run(args: &DemoArgs) -> Result<(), String> {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let mut net = Network::new(args.seed);
    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let server_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let client = net.add_host(client_ip, Config::default()).map_err(|e| e.to_string())?;
    let server = net.add_host(server_ip, Config::default()).map_err(|e| e.to_string())?;
    net.set_default_link(LinkConfig {
        delay: args.delay,
        jitter: args.faults.jitter,
        loss: args.faults.loss,
        duplicate: args.faults.duplicate,
        reorder: args.faults.reorder,
        corrupt: args.faults.corrupt,
        bandwidth: args.faults.bandwidth,
        queue_limit: 100,
    });
    net.set_observer(Box::new(LinkLog { log: log.clone(), client }));
    net.endpoint(client).set_tracer(Box::new(StateLog { log: log.clone(), client: true }));
    net.endpoint(server).set_tracer(Box::new(StateLog { log: log.clone(), client: false }));
    let start = net.now();
    let spec = TransferSpec {
        port: 80,
        client_bytes: args.bytes,
        server_bytes: args.bytes,
        seed: args.seed,
        client_iss: None,
    };
    let transfer = Transfer::start(&mut net, client, server, &spec).map_err(|e| e.to_string())?;
    // The listener exists before the SYN: show it.
    log.lock()
        .expect("log lock")
        .insert(0, Entry::State { at: start, client: false, from: State::Closed, to: State::Listen });
    let limit = start + Duration::from_secs(3600);
    let outcome = transfer.run(&mut net, limit);
    // Let TIME-WAIT run out so the ladder ends with both ends CLOSED.
    while net.step(limit) {}

    let entries = std::mem::take(&mut *log.lock().expect("log lock"));
    if let Some(path) = &args.pcap {
        write_pcap(path, start, &entries).map_err(|e| format!("--pcap {}: {e}", path.display()))?;
    }
    let color = !args.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match print_report(args, color, start, (client_ip, server_ip), &entries, &outcome) {
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e.to_string()),
        Ok(()) => {}
    }
    if outcome.is_clean() {
        Ok(())
    } else {
        Err("the transfer did not complete cleanly".into())
    }
}

/// Prints the ladder (unless quiet) and the summary.
fn print_report(
    args: &DemoArgs,
    color: bool,
    start: Instant,
    (client_ip, server_ip): (IpAddr, IpAddr),
    entries: &[Entry],
    outcome: &Outcome,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut print = |s: &str| writeln!(out, "{s}");
    if !args.quiet {
        let mut ladder = Ladder::new(Style { color, absolute: args.absolute }, start);
        print(&ladder.header(&format!("{client_ip}"), &SocketAddr::new(server_ip, 80).to_string()))?;
        for e in entries {
            print(&ladder.line(e))?;
        }
        print("")?;
    }
    for line in summary(outcome, entries) {
        print(&line)?;
    }
    out.flush()
}

/// Writes every segment sent (lost ones too) as LINKTYPE_RAW.
fn write_pcap(path: &PathBuf, start: Instant, entries: &[Entry]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let header = PcapHeader { datalink: DataLink::RAW, ..PcapHeader::default() };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header).map_err(|e| e.to_string())?;
    for e in entries {
        if let Entry::Packet { at, bytes, .. } = e {
            // Timestamps from the Unix epoch plus simulated time since the start.
            let ts = Duration::from_micros(at.as_micros() - start.as_micros());
            w.write_packet(&PcapPacket::new(ts, bytes.len() as u32, bytes)).map_err(|e| e.to_string())?;
        }
    }
    w.into_writer().flush().map_err(|e| e.to_string())
}

/// The summary lines.
fn summary(o: &Outcome, entries: &[Entry]) -> Vec<String> {
    let count = |client: bool, want: fn(&Fate) -> bool| {
        entries
            .iter()
            .filter(|e| matches!(e, Entry::Packet { from_client, fate, .. } if *from_client == client && want(fate)))
            .count()
    };
    let intact = |ok: bool| if ok { "intact (SHA-256 matches)" } else { "DIFFERENT" };
    let info = |i: &Option<synack_core::ConnectionInfo>| match i {
        Some(i) => (
            i.total_retrans,
            i.srtt.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0)).unwrap_or_else(|| "-".into()),
        ),
        None => (0, "-".into()),
    };
    let (c_rtx, c_rtt) = info(&o.client_info);
    let (s_rtx, s_rtt) = info(&o.server_info);
    let state = |s: Option<State>| s.map(|s| s.name()).unwrap_or("unfinished");
    let all = |_: &Fate| true;
    let lost = |f: &Fate| matches!(f, Fate::Lost | Fate::QueueDrop);
    let corrupted = |f: &Fate| matches!(f, Fate::Corrupted(_));
    vec![
        "summary".to_string(),
        format!(
            "  client → server   {} bytes sent, {} received, {}",
            o.client_to_server.0,
            o.client_to_server.1,
            intact(o.client_data_intact)
        ),
        format!(
            "  server → client   {} bytes sent, {} received, {}",
            o.server_to_client.0,
            o.server_to_client.1,
            intact(o.server_data_intact)
        ),
        format!(
            "  segments          client {} (lost {}, corrupted {}), server {} (lost {}, corrupted {})",
            count(true, all),
            count(true, lost),
            count(true, corrupted),
            count(false, all),
            count(false, lost),
            count(false, corrupted)
        ),
        format!("  retransmissions   client {c_rtx}, server {s_rtx}"),
        format!(
            "  duration          {:.3} ms simulated, connect to both ends closed",
            o.duration.as_secs_f64() * 1000.0
        ),
        format!("  rtt estimate      client srtt {c_rtt}, server srtt {s_rtt}"),
        format!("  final states      client {}, server {}", state(o.final_states.0), state(o.final_states.1)),
    ]
}
