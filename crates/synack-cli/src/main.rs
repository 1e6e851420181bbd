//! The `synack` command.

mod capture;
mod conversation;
mod demo;
mod drill;
mod ladder;
mod net;
mod pcap_ladder;
mod units;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// synack: a userspace TCP/IP stack.
#[derive(Debug, Parser)]
#[command(name = "synack", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A client and a server on a simulated network: handshake, data, close,
    /// drawn as a ladder diagram.
    Demo(demo::DemoArgs),
    /// Run packetdrill-dialect scripts against synack-core in virtual time.
    Drill(drill::DrillArgs),
    /// Serve echo, discard or HTTP on synack over a TUN device.
    Serve(net::ServeArgs),
    /// Like nc: stdin to a TCP connection over a TUN device, the connection to stdout.
    Connect(net::ConnectArgs),
    /// Draw the TCP conversations of a capture (pcap or pcapng) as ladders,
    /// with the states of both ends inferred from the flags.
    Ladder(pcap_ladder::LadderArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                // One line that names the flag, never a wall of usage text.
                let text = e.render().to_string();
                eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
                return ExitCode::from(2);
            }
        },
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Drill(args) => return drill::run(&args),
        Command::Serve(args) => net::serve(&args),
        Command::Connect(args) => net::connect(&args),
        Command::Ladder(args) => pcap_ladder::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
