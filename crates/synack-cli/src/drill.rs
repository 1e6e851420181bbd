//! `synack drill`: runs scripts and reports each, then a summary line.
//! Exit status: 0 all passed, 1 a script failed, 2 a script cannot be parsed.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use synack_drill::{collect_scripts, run_file, Outcome, RunOptions};

/// println! to stdout, except that a reader that stopped reading (`| head`)
/// ends the run quietly, with the status a shell gives a process that
/// SIGPIPE ended (141), instead of a panic. (SIGPIPE itself stays ignored:
/// the kernel engine writes to sockets the peer may have reset.)
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(141);
            }
        }
    }};
}

/// Options of `synack drill`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Time tolerance for packets and returns, in milliseconds (default 4,
    /// or 14 with --kernel, as the kernel's own runner uses in CI).
    #[arg(long, value_name = "N")]
    pub tolerance_ms: Option<u64>,
    /// Print every event and packet of each script.
    #[arg(long)]
    pub verbose: bool,
    /// Run against the Linux kernel instead of synack (root; a fresh network
    /// namespace and TUN device per script, real time).
    #[arg(long)]
    pub kernel: bool,
    /// With --kernel, skip scripts whose timeline is longer than this many
    /// seconds of real time (default 120; 0 for no limit).
    #[arg(long, value_name = "S")]
    pub max_real_time: Option<u64>,
    /// Address family for scripts that do not say: ipv4, ipv6, ipv4-mapped-ipv6.
    #[arg(long, value_name = "V", value_parser = parse_ip_version)]
    pub ip_version: Option<synack_drill::settings::IpVersion>,
    /// Script files, or directories searched for *.pkt.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
}

fn parse_ip_version(s: &str) -> Result<synack_drill::settings::IpVersion, String> {
    use synack_drill::settings::IpVersion;
    match s {
        "ipv4" | "4" => Ok(IpVersion::V4),
        "ipv6" | "6" => Ok(IpVersion::V6),
        "ipv4-mapped-ipv6" => Ok(IpVersion::Mapped),
        _ => Err(format!("'{s}' is not ipv4, ipv6 or ipv4-mapped-ipv6")),
    }
}

/// Runs the scripts and prints the report.
pub fn run(args: &DrillArgs) -> ExitCode {
    let default_ms = if args.kernel { synack_drill_kernel::TOLERANCE_MS } else { 4 };
    let opts = RunOptions {
        tolerance: core::time::Duration::from_millis(args.tolerance_ms.unwrap_or(default_ms)),
        verbose: args.verbose,
        ip_version: args.ip_version,
        engine: "synack",
        max_duration: match (args.kernel, args.max_real_time.unwrap_or(120)) {
            (false, _) | (true, 0) => None,
            (true, s) => Some(core::time::Duration::from_secs(s)),
        },
    };
    let mut files = Vec::new();
    for p in &args.paths {
        match collect_scripts(p) {
            Ok(f) => files.extend(f),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        }
    }
    if args.kernel {
        if let Err(why) = synack_drill_kernel::available() {
            eprintln!("error: --kernel: {why}");
            return ExitCode::from(1);
        }
    }
    let (mut passed, mut failed, mut unparsable) = (0, 0, 0);
    let mut skipped = Vec::new();
    for f in &files {
        let r = if args.kernel { synack_drill_kernel::run_file(f, &opts) } else { run_file(f, &opts) };
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                out!("{}: cannot read: {e}", f.display());
                unparsable += 1;
                continue;
            }
        };
        let name = f.display();
        for w in &r.warnings {
            out!("{name}: warning: {w}");
        }
        if args.verbose {
            for t in &r.trace {
                out!("{name}:   {t}");
            }
        }
        match &r.outcome {
            Outcome::Passed => {
                passed += 1;
                out!("{name}: pass");
            }
            Outcome::Failed { line, message } => {
                failed += 1;
                out!("{name}:{line}: FAIL: {message}");
            }
            Outcome::Skipped { line, reason } => {
                out!("{name}:{line}: skipped: {reason}");
                skipped.push(format!("{name}:{line}: {reason}"));
            }
            Outcome::ParseError(e) => {
                unparsable += 1;
                out!("{name}:{}:{}: parse error: {}", e.line, e.col, e.message);
            }
        }
    }
    out!("{passed} passed, {} failed, {} skipped", failed + unparsable, skipped.len());
    if unparsable > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
