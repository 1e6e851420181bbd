//! Validation of a [`Config`] where it enters (DESIGN.md, "Configuration is
//! validated where it enters"): every combination that could make the stack
//! panic later, or behave in a way no RFC allows, is a typed error here.

use crate::config::Config;
use core::time::Duration;

/// Largest receive buffer a window can express: 65535 << 14 (RFC 7323 §2.3).
pub const MAX_RECV_BUFFER: usize = 65_535 << 14;
/// Largest send buffer: unacknowledged data must stay well inside half the
/// sequence space, or comparisons mod 2^32 break (RFC 9293 §3.4).
pub const MAX_SEND_BUFFER: usize = 1 << 30;
/// Smallest MTU: every IPv4 host must take 68-byte datagrams (RFC 791).
pub const MIN_MTU: u16 = 68;
/// RFC 9293 §3.8.6.3 (MUST-40): an ACK is never delayed 0.5 s or more.
pub const MAX_DELAYED_ACK: Duration = Duration::from_millis(500);

/// What is wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The MTU is below what IPv4 requires of every host.
    #[error("mtu {0} is below the minimum of {MIN_MTU} (RFC 791)")]
    MtuTooSmall(u16),
    /// A buffer of zero bytes can carry nothing.
    #[error("{0} must be at least one byte")]
    EmptyBuffer(&'static str),
    /// A receive buffer larger than any window can advertise.
    #[error("recv_buffer {0} is above {MAX_RECV_BUFFER}, the largest window (RFC 7323 §2.3)")]
    RecvBufferTooLarge(usize),
    /// A send buffer so large that sequence comparisons would wrap.
    #[error("send_buffer {0} is above {MAX_SEND_BUFFER} (sequence numbers compare mod 2^32)")]
    SendBufferTooLarge(usize),
    /// An initial window of no segment never sends.
    #[error("initial_cwnd_segments must be at least 1")]
    ZeroInitialWindow,
    /// A timer of zero length would fire in a loop.
    #[error("{0} must be longer than zero")]
    ZeroDuration(&'static str),
    /// The RTO bounds are the wrong way round.
    #[error("min_rto {min:?} is above max_rto {max:?}")]
    RtoBoundsInverted {
        /// The lower bound given.
        min: Duration,
        /// The upper bound given.
        max: Duration,
    },
    /// The initial RTO lies outside the bounds.
    #[error("initial_rto {initial:?} is outside [min_rto {min:?}, max_rto {max:?}]")]
    InitialRtoOutOfBounds {
        /// The initial RTO given.
        initial: Duration,
        /// The lower bound.
        min: Duration,
        /// The upper bound.
        max: Duration,
    },
    /// The delayed-ACK timeout breaks RFC 9293 MUST-40.
    #[error("delayed_ack {0:?} is 500 ms or more (RFC 9293 §3.8.6.3, MUST-40)")]
    DelayedAckTooLong(Duration),
    /// A count that must be at least one is zero.
    #[error("{0} must be at least 1")]
    ZeroCount(&'static str),
    /// The ephemeral port range is empty or includes port 0.
    #[error("ephemeral_ports {0}-{1} is not a range of non-zero ports")]
    BadPortRange(u16, u16),
}

impl Config {
    /// Checks every setting and combination; `Endpoint::new` and
    /// `Endpoint::update_config` call it, so no configuration the endpoint
    /// holds can panic it later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError as E;
        if self.mtu < MIN_MTU {
            return Err(E::MtuTooSmall(self.mtu));
        }
        let sizes = [
            ("send_buffer", self.send_buffer),
            ("recv_buffer", self.recv_buffer),
            ("recv_buffer_initial", self.recv_buffer_initial),
        ];
        for (name, size) in sizes {
            if size == 0 {
                return Err(E::EmptyBuffer(name));
            }
        }
        if self.recv_buffer > MAX_RECV_BUFFER {
            return Err(E::RecvBufferTooLarge(self.recv_buffer));
        }
        if self.send_buffer > MAX_SEND_BUFFER {
            return Err(E::SendBufferTooLarge(self.send_buffer));
        }
        if self.initial_cwnd_segments == 0 {
            return Err(E::ZeroInitialWindow);
        }
        let durations = [
            ("initial_rto", self.initial_rto),
            ("min_rto", self.min_rto),
            ("max_rto", self.max_rto),
            ("keepalive_idle", self.keepalive_idle),
            ("keepalive_interval", self.keepalive_interval),
        ];
        for (name, d) in durations {
            if d.is_zero() {
                return Err(E::ZeroDuration(name));
            }
        }
        if self.user_timeout.is_some_and(|d| d.is_zero()) {
            return Err(E::ZeroDuration("user_timeout"));
        }
        if self.min_rto > self.max_rto {
            return Err(E::RtoBoundsInverted { min: self.min_rto, max: self.max_rto });
        }
        if self.initial_rto < self.min_rto || self.initial_rto > self.max_rto {
            return Err(E::InitialRtoOutOfBounds { initial: self.initial_rto, min: self.min_rto, max: self.max_rto });
        }
        if self.delayed_ack >= MAX_DELAYED_ACK {
            return Err(E::DelayedAckTooLong(self.delayed_ack));
        }
        let counts = [
            ("keepalive_count", self.keepalive_count as usize),
            ("syn_backlog", self.syn_backlog),
            ("max_backlog", self.max_backlog),
            ("max_connections", self.max_connections),
            ("hop_limit", usize::from(self.hop_limit)),
        ];
        for (name, n) in counts {
            if n == 0 {
                return Err(E::ZeroCount(name));
            }
        }
        let (lo, hi) = self.ephemeral_ports;
        if lo == 0 || hi < lo {
            return Err(E::BadPortRange(lo, hi));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut c = Config::default();
        f(&mut c);
        c.validate()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn every_impossible_setting_has_its_error() {
        use core::time::Duration as D;
        assert_eq!(check(|c| c.mtu = 40), Err(ConfigError::MtuTooSmall(40)));
        assert_eq!(check(|c| c.recv_buffer = 0), Err(ConfigError::EmptyBuffer("recv_buffer")));
        assert_eq!(check(|c| c.send_buffer = 0), Err(ConfigError::EmptyBuffer("send_buffer")));
        assert_eq!(check(|c| c.recv_buffer = 2 << 30), Err(ConfigError::RecvBufferTooLarge(2 << 30)));
        assert_eq!(check(|c| c.send_buffer = 3 << 30), Err(ConfigError::SendBufferTooLarge(3 << 30)));
        assert_eq!(check(|c| c.initial_cwnd_segments = 0), Err(ConfigError::ZeroInitialWindow));
        let inverted = check(|c| {
            c.min_rto = D::from_secs(5);
            c.max_rto = D::from_secs(1);
        });
        assert!(matches!(inverted, Err(ConfigError::RtoBoundsInverted { .. })), "{inverted:?}");
        assert!(matches!(check(|c| c.initial_rto = D::from_millis(1)), Err(ConfigError::InitialRtoOutOfBounds { .. })));
        assert_eq!(check(|c| c.min_rto = D::ZERO), Err(ConfigError::ZeroDuration("min_rto")));
        assert_eq!(check(|c| c.keepalive_interval = D::ZERO), Err(ConfigError::ZeroDuration("keepalive_interval")));
        assert_eq!(check(|c| c.user_timeout = Some(D::ZERO)), Err(ConfigError::ZeroDuration("user_timeout")));
        assert_eq!(
            check(|c| c.delayed_ack = D::from_millis(500)),
            Err(ConfigError::DelayedAckTooLong(D::from_millis(500)))
        );
        assert_eq!(check(|c| c.keepalive_count = 0), Err(ConfigError::ZeroCount("keepalive_count")));
        assert_eq!(check(|c| c.syn_backlog = 0), Err(ConfigError::ZeroCount("syn_backlog")));
        assert_eq!(check(|c| c.max_connections = 0), Err(ConfigError::ZeroCount("max_connections")));
        assert_eq!(check(|c| c.hop_limit = 0), Err(ConfigError::ZeroCount("hop_limit")));
        assert_eq!(check(|c| c.ephemeral_ports = (0, 10)), Err(ConfigError::BadPortRange(0, 10)));
        assert_eq!(check(|c| c.ephemeral_ports = (9, 8)), Err(ConfigError::BadPortRange(9, 8)));
        assert_eq!(check(|c| c.delayed_ack = D::ZERO), Ok(()), "no delay at all is allowed");
        assert_eq!(check(|c| c.time_wait = D::ZERO), Ok(()), "TIME-WAIT of zero is allowed (benchmarks)");
    }

    #[test]
    fn the_largest_valid_buffers_are_accepted() {
        assert_eq!(check(|c| c.recv_buffer = MAX_RECV_BUFFER), Ok(()));
        assert_eq!(check(|c| c.send_buffer = MAX_SEND_BUFFER), Ok(()));
    }
}
