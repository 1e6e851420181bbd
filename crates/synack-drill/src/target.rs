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

/// The fields of Linux's `struct tcp_info` (include/uapi/linux/tcp.h), with
/// their offsets and sizes, in order.
const LINUX_TCP_INFO: &[(&str, usize, usize)] = &[
    ("state", 0, 1),
    ("ca_state", 1, 1),
    ("retransmits", 2, 1),
    ("probes", 3, 1),
    ("backoff", 4, 1),
    ("options", 5, 1),
    ("rto", 8, 4),
    ("ato", 12, 4),
    ("snd_mss", 16, 4),
    ("rcv_mss", 20, 4),
    ("unacked", 24, 4),
    ("sacked", 28, 4),
    ("lost", 32, 4),
    ("retrans", 36, 4),
    ("fackets", 40, 4),
    ("last_data_sent", 44, 4),
    ("last_ack_sent", 48, 4),
    ("last_data_recv", 52, 4),
    ("last_ack_recv", 56, 4),
    ("pmtu", 60, 4),
    ("rcv_ssthresh", 64, 4),
    ("rtt", 68, 4),
    ("rttvar", 72, 4),
    ("snd_ssthresh", 76, 4),
    ("snd_cwnd", 80, 4),
    ("advmss", 84, 4),
    ("reordering", 88, 4),
    ("rcv_rtt", 92, 4),
    ("rcv_space", 96, 4),
    ("total_retrans", 100, 4),
    ("pacing_rate", 104, 8),
    ("max_pacing_rate", 112, 8),
    ("bytes_acked", 120, 8),
    ("bytes_received", 128, 8),
    ("segs_out", 136, 4),
    ("segs_in", 140, 4),
    ("notsent_bytes", 144, 4),
    ("min_rtt", 148, 4),
    ("data_segs_in", 152, 4),
    ("data_segs_out", 156, 4),
    ("delivery_rate", 160, 8),
    ("busy_time", 168, 8),
    ("rwnd_limited", 176, 8),
    ("sndbuf_limited", 184, 8),
    ("delivered", 192, 4),
    ("delivered_ce", 196, 4),
    ("bytes_sent", 200, 8),
    ("bytes_retrans", 208, 8),
    ("dsack_dups", 216, 4),
    ("reord_seen", 220, 4),
    ("rcv_ooopack", 224, 4),
    ("snd_wnd", 228, 4),
    ("rcv_wnd", 232, 4),
];

/// Decodes the bytes of a Linux `struct tcp_info` (native endian, as
/// `getsockopt(TCP_INFO)` fills them); fields past `bytes.len()` (an older
/// kernel) are absent.
pub fn linux_tcp_info(bytes: &[u8]) -> TcpInfo {
    let mut m = TcpInfo::new();
    for &(name, off, size) in LINUX_TCP_INFO {
        let Some(b) = bytes.get(off..off + size) else { continue };
        let v = match size {
            1 => i64::from(b[0]),
            4 => i64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
            _ => u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as i64,
        };
        m.insert(name, v);
    }
    if let Some(&w) = bytes.get(6) {
        m.insert("snd_wscale", i64::from(w & 0x0f));
        m.insert("rcv_wscale", i64::from(w >> 4));
    }
    m
}
