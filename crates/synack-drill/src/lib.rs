//! synack-drill: runs packetdrill-dialect scripts (see `../shared/DRILL.md`)
//! against a fresh synack-core endpoint in virtual time.
//!
//! ```
//! let script = "
//! 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//! +0 bind(3, ..., ...) = 0
//! +0 listen(3, 1) = 0
//! +0 < S 0:0(0) win 32792 <mss 1000,nop,nop,sackOK,nop,wscale 7>
//! +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
//! +.1 < . 1:1(0) ack 1 win 257
//! +0 accept(3, ..., ...) = 4
//! ";
//! let r = synack_drill::run_script(script, &synack_drill::RunOptions::default());
//! assert!(r.outcome.is_pass(), "{:?}", r.outcome);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod commands;
mod epoll;
pub mod expr;
pub mod packet;
pub mod parse;
mod runner;
pub mod settings;
mod sockets;
pub mod synack_target;
pub mod syscall_args;
pub mod target;

pub use parse::ParseError;
pub use runner::{PORT, REMOTE_EPHEMERAL_PORT, REMOTE_ISN};

use core::time::Duration;
use std::path::{Path, PathBuf};

/// How to run scripts.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Default time tolerance (`--tolerance_usecs` of a script overrides it).
    pub tolerance: Duration,
    /// Record a trace of every event and packet.
    pub verbose: bool,
    /// The address family for scripts that do not say (`--ip_version`):
    /// suites run once with IPv4 and once with IPv6, as the kernel's do.
    pub ip_version: Option<settings::IpVersion>,
    /// Scripts whose scripted timeline is longer are skipped (the kernel
    /// engine runs in real time: a three-hour keepalive script stays
    /// synack-only by default).
    pub max_duration: Option<Duration>,
    /// The engine's name, matched against a script's `// engines:` header
    /// ("synack" or "linux"): a script meant for others is skipped.
    pub engine: &'static str,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            tolerance: Duration::from_millis(4),
            verbose: false,
            ip_version: None,
            max_duration: None,
            engine: "synack",
        }
    }
}

/// Makes the target a script runs against, from the script's settings.
pub type MakeTarget<'a> = dyn FnMut(&settings::Settings) -> Result<Box<dyn target::Target>, String> + 'a;

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every event happened as scripted.
    Passed,
    /// The first mismatch: the line and what differed.
    Failed {
        /// Script line.
        line: usize,
        /// Expected and actual.
        message: String,
    },
    /// The script uses something the runner does not support.
    Skipped {
        /// Script line.
        line: usize,
        /// What is unsupported.
        reason: String,
    },
    /// The script cannot be parsed.
    ParseError(ParseError),
}

impl Outcome {
    /// True for [`Outcome::Passed`].
    pub fn is_pass(&self) -> bool {
        *self == Outcome::Passed
    }
}

/// The result of one script.
#[derive(Debug, Clone)]
pub struct ScriptResult {
    /// The script's path, when it came from a file.
    pub path: Option<PathBuf>,
    /// How it ended.
    pub outcome: Outcome,
    /// Warnings (ignored options and commands).
    pub warnings: Vec<String>,
    /// With `verbose`: every event and packet, with its time.
    pub trace: Vec<String>,
}

/// The synack engine: a fresh synack-core endpoint in virtual time.
fn synack_engine(s: &settings::Settings) -> Result<Box<dyn target::Target>, String> {
    Ok(Box::new(synack_target::SynackTarget::new(s)?))
}

/// Runs a script given as text against synack.
pub fn run_script(text: &str, opts: &RunOptions) -> ScriptResult {
    run_script_with(text, opts, None, &mut synack_engine)
}

/// Runs a script given as text against the target `make` builds. `base` is
/// the script's folder (files named in backtick commands are found there).
pub fn run_script_with(text: &str, opts: &RunOptions, base: Option<&Path>, make: &mut MakeTarget<'_>) -> ScriptResult {
    let done = |outcome, warnings| ScriptResult { path: None, outcome, warnings, trace: vec![] };
    let script = match parse::parse(text) {
        Err(e) => return done(Outcome::ParseError(e), vec![]),
        Ok(s) => s,
    };
    if let Some((names, why)) = &script.engines {
        if !names.iter().any(|n| n == opts.engine) {
            let reason = format!("{} only: {why}", names.join(", "));
            return done(Outcome::Skipped { line: 1, reason }, vec![]);
        }
    }
    if let Some(max) = opts.max_duration {
        let secs = script.duration();
        if secs > max.as_secs_f64() {
            let reason = format!("takes {secs:.0} s of real time, over the limit of {} s", max.as_secs());
            return done(Outcome::Skipped { line: 1, reason }, vec![]);
        }
    }
    let mut s = settings::Settings::new(opts.tolerance);
    if let Some(v) = opts.ip_version {
        s.set_ip_version(v);
    }
    let mut warnings = Vec::new();
    let mut applied = Vec::new();
    for (k, v, line) in &script.options {
        applied.push((settings::apply_option(&mut s, k, v), *line));
    }
    for (k, v, line) in &script.config {
        applied.push((settings::apply_config(&mut s.config, k, v), *line));
    }
    for (a, line) in applied {
        match a {
            settings::Applied::Ok => {}
            settings::Applied::Warn(w) => warnings.push(format!("line {line}: {w}")),
            settings::Applied::Unsupported(reason) => return done(Outcome::Skipped { line, reason }, warnings),
            settings::Applied::Invalid(message) => return done(Outcome::Failed { line, message }, warnings),
        }
    }
    let mut target = match make(&s) {
        Ok(t) => t,
        Err(message) => return done(Outcome::Failed { line: 1, message }, warnings),
    };
    let (outcome, more, trace) = runner::run(&script, target.as_mut(), &s, opts.verbose, base);
    warnings.extend(more);
    ScriptResult { path: None, outcome, warnings, trace }
}

/// Runs a script file against synack.
pub fn run_file(path: &Path, opts: &RunOptions) -> std::io::Result<ScriptResult> {
    run_file_with(path, opts, &mut synack_engine)
}

/// Runs a script file against the target `make` builds.
pub fn run_file_with(path: &Path, opts: &RunOptions, make: &mut MakeTarget<'_>) -> std::io::Result<ScriptResult> {
    let text = std::fs::read_to_string(path)?;
    let mut r = run_script_with(&text, opts, path.parent(), make);
    r.path = Some(path.to_path_buf());
    Ok(r)
}

/// The script files under `path` (a file, or a directory searched recursively
/// for `*.pkt`), sorted.
pub fn collect_scripts(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let p = entry?.path();
            if p.is_dir() {
                out.extend(collect_scripts(&p)?);
            } else if p.extension().is_some_and(|e| e == "pkt") {
                out.push(p);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    out.sort();
    Ok(out)
}
