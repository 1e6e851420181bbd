//! ICMP errors about this connection's segments (RFC 1122 §4.2.3.9,
//! RFC 5927, RFC 1191 / RFC 8201 packet-too-big).

use super::{Connection, State};
use crate::error::{CloseReason, Error};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::Config;

/// What an ICMP error says, reduced to what TCP acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpError {
    /// The path MTU is `mtu` bytes.
    PacketTooBig(u32),
    /// Destination unreachable: `hard` for protocol/port unreachable, which
    /// RFC 1122 §4.2.3.9 lets TCP treat as fatal.
    Unreachable {
        /// Protocol or port unreachable.
        hard: bool,
    },
    /// Other errors (time exceeded, net/host unreachable): soft.
    Soft,
}

/// Smallest MSS a packet-too-big can push us to (RFC 9293 §3.7.1 default send MSS).
const MIN_MSS: u16 = 536;

impl Connection {
    /// Acts on an ICMP error quoting a segment with sequence number `seq`.
    /// Returns false when the quote fails validation and the error is ignored.
    pub(crate) fn on_icmp(&mut self, now: Instant, cfg: &Config, seq: SeqNum, err: IcmpError) -> bool {
        // RFC 5927 §4.1: the quoted sequence number must be in flight.
        let valid = if self.state == State::SynSent || self.state == State::SynReceived {
            seq == self.iss
        } else {
            seq >= self.snd_una && seq < self.snd_max
        };
        if !valid || matches!(self.state, State::Closed | State::Listen | State::TimeWait) {
            return false;
        }
        match err {
            IcmpError::PacketTooBig(mtu) => {
                let reported = core::num::NonZeroU16::new(mtu.min(u32::from(u16::MAX)) as u16);
                if reported.is_some_and(|m| self.ptb_mtu.is_none_or(|old| m < old)) {
                    self.ptb_mtu = reported;
                }
                let ip_tcp = if self.tuple.local.is_ipv6() { 60 } else { 40 };
                let opts = if self.ts_ok { 12 } else { 0 };
                let mss = mtu.saturating_sub(ip_tcp + opts).clamp(u32::from(MIN_MSS), u32::from(u16::MAX)) as u16;
                if mss < self.path_mss {
                    self.path_mss = mss;
                    self.bound_snd_mss();
                    // Resend what was lost at the old size right away (RFC 8201 §5.4).
                    if self.state.is_synchronized() && self.snd_max > self.snd_una {
                        self.go_back();
                    }
                }
            }
            IcmpError::Unreachable { hard: true } if matches!(self.state, State::SynSent | State::SynReceived) => {
                // An unreachable port or protocol during the handshake ends it
                // (RFC 1122 §4.2.3.9 allows it; Linux does so).
                self.enter_closed(CloseReason::Error(Error::ConnectionRefused));
            }
            IcmpError::Unreachable { .. } | IcmpError::Soft => {
                // Soft error: remembered, reported if the connection later times out.
                self.soft_error = Some(Error::HostUnreachable);
            }
        }
        self.after_event(now, cfg);
        true
    }
}
