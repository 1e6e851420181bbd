//! What a script runs against (DRILL.md, "Two engines"): synack-core in
//! virtual time ([`crate::synack_target::SynackTarget`]), or the Linux
//! kernel in real time (the `synack-drill-kernel` crate). The runner does
//! the rest the same way for both: times and tolerances, numbering,
//! aggregation, comparison, assertions.

use crate::ast::SyscallSpec;
use crate::settings::Applied;
use core::time::Duration;
use std::collections::BTreeMap;

/// The outcome of one try of a system call.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// Returned this value (with this errno when -1).
    Done(i64, Option<&'static str>),
    /// It blocks: it returns later ([`Target::take_returned`]).
    Block,
    /// Returned, but an output value differs from the script.
    Mismatch(String),
    /// The engine cannot do this: the script is skipped.
    Unsupported(String),
}

/// A segment the stack under test sent: one TCP segment (a super-segment is
/// cut at its segment size before the runner sees it), with when.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Script time it was sent.
    pub at: Duration,
    /// The IP datagram.
    pub bytes: Vec<u8>,
}

/// A snapshot of `struct tcp_info`: `tcpi_*` field names (without the
/// prefix) to values. A field the engine cannot report is absent.
pub type TcpInfo = BTreeMap<&'static str, i64>;

/// What the runner drives.
pub trait Target {
    /// Script time now.
    fn now(&self) -> Duration;

    /// Lets time pass until `until`. Returns early when the stack sent a
    /// segment (if `stop_on_packet`) or a blocked call returned. Segments
    /// sent meanwhile wait for [`Target::take_sent`].
    fn run_until(&mut self, until: Duration, stop_on_packet: bool) -> Result<(), String>;

    /// The oldest segment the stack sent that the runner has not taken.
    fn take_sent(&mut self) -> Option<Sent>;

    /// A datagram from the scripted peer, now. With `segment_size`, it is a
    /// super-segment the stack takes as segments of that size (`--mss`).
    fn inject(&mut self, datagram: &[u8], segment_size: Option<u16>) -> Result<(), String>;

    /// Starts a system call: it returns at once, or [`Attempt::Block`]s.
    fn call(&mut self, spec: &SyscallSpec) -> Attempt;

    /// The blocked call, once it has returned: its outcome and when.
    fn take_returned(&mut self) -> Option<(Duration, Attempt)>;

    /// A Linux sysctl from a backtick command (`net.ipv4.tcp_sack`, `1`).
    fn sysctl(&mut self, name: &str, value: &str) -> Applied;

    /// Another command of a backtick line (`tc`, `ip`, `ethtool`), as words.
    fn command(&mut self, words: &[String]) -> Applied;

    /// The `tcpi_*` fields of the connection under test (the socket most
    /// recently created by connect or accept), now.
    fn tcp_info(&mut self) -> Result<TcpInfo, String>;
}
