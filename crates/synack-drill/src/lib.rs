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
mod expr;
pub mod packet;
pub mod parse;
mod runner;
pub mod settings;
mod sockets;

pub use parse::ParseError;

use core::time::Duration;
use std::path::{Path, PathBuf};

/// How to run scripts.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Default time tolerance for outbound packets (a script may override it).
    pub tolerance: Duration,
    /// Record a trace of every event and packet.
    pub verbose: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { tolerance: Duration::from_millis(4), verbose: false }
    }
}

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

/// Runs a script given as text.
pub fn run_script(text: &str, opts: &RunOptions) -> ScriptResult {
    run_with_base(text, opts, None)
}

fn run_with_base(text: &str, opts: &RunOptions, base: Option<&Path>) -> ScriptResult {
    match parse::parse(text) {
        Err(e) => ScriptResult { path: None, outcome: Outcome::ParseError(e), warnings: vec![], trace: vec![] },
        Ok(script) => {
            let (outcome, warnings, trace) = runner::run(&script, opts.tolerance, opts.verbose, base);
            ScriptResult { path: None, outcome, warnings, trace }
        }
    }
}

/// Runs a script file.
pub fn run_file(path: &Path, opts: &RunOptions) -> std::io::Result<ScriptResult> {
    let text = std::fs::read_to_string(path)?;
    let mut r = run_with_base(&text, opts, path.parent());
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
