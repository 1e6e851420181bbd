//! Per-socket options: what a BSD socket keeps for one connection or
//! listener (SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_LINGER, SO_OOBINLINE,
//! TCP_NODELAY, TCP_CORK, TCP_USER_TIMEOUT, IP_TTL / IPV6_UNICAST_HOPS,
//! IP_TOS / IPV6_TCLASS, TCP_CONGESTION).
//! The endpoint's [`Config`] gives the defaults; a socket layer (the tokio
//! runtime's `TcpSocket`, drill's system calls) keeps one of these per
//! socket, opens connections and listeners with it
//! ([`crate::Endpoint::connect_with`], [`crate::Endpoint::listen_with`]),
//! changes a live connection with [`crate::Endpoint::set_options`] and closes
//! with [`crate::Endpoint::close_with`]. Accepted connections inherit the
//! listener's options, as on Linux.

use crate::{Config, CongestionControl, Error};

/// The ECN field, the two low bits of the TOS byte (RFC 3168 §5).
pub(crate) const ECN_MASK: u8 = 0b11;
use core::time::Duration;

/// The options of one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    /// Bytes of data the send buffer holds (written, not yet acknowledged).
    pub send_buffer: usize,
    /// Bytes the receive buffer holds; it bounds the window offered and,
    /// when set before the SYN, the window scale (RFC 7323 §2.2).
    pub recv_buffer: usize,
    /// The receive buffer starts at `Config::recv_buffer_initial` and grows
    /// with the path up to `recv_buffer` (autotuning, Linux's
    /// tcp_moderate_rcvbuf); setting SO_RCVBUF turns it off (SOCK_RCVBUF_LOCK).
    pub recv_autotune: bool,
    /// TCP_NODELAY: Nagle's algorithm (RFC 9293 §3.7.4) off.
    pub nodelay: bool,
    /// TCP_CORK: only full-sized segments (and a FIN) go out.
    pub cork: bool,
    /// SO_KEEPALIVE (RFC 9293 §3.8.4), with the endpoint's idle, interval and count.
    pub keepalive: bool,
    /// TCP_USER_TIMEOUT (RFC 9293 §3.8.3); `None` for the retransmission count alone.
    pub user_timeout: Option<Duration>,
    /// IP_TTL / IPV6_UNICAST_HOPS of the connection's datagrams (1-255).
    pub hop_limit: u8,
    /// IP_TOS / IPV6_TCLASS: the DSCP of the connection's datagrams, in the
    /// upper six bits of the TOS byte or Traffic Class (RFC 2474). The two
    /// ECN bits are not the socket's: TCP owns them (RFC 3168; Linux masks
    /// them off for TCP sockets, as [`SocketOptions::set_tos`] does), and
    /// synack sends them as 0 (Not-ECT).
    pub tos: u8,
    /// TCP_CONGESTION: taken when the connection opens.
    pub congestion_control: CongestionControl,
    /// SO_LINGER: `Some(0)` makes a close an abort (RST, RFC 9293 §3.10.5);
    /// another value is kept and reported (a close never blocks here; the
    /// connection finishes sending in the background, as Linux's does once
    /// the linger time is over).
    pub linger: Option<Duration>,
    /// SO_OOBINLINE, kept and reported. synack always delivers urgent data
    /// in the stream (RFC 9293 MUST-31: urgent data of any length), as
    /// Linux does with this option on; without it Linux takes the last
    /// urgent byte out of the stream for MSG_OOB, which synack does not.
    pub oob_inline: bool,
}

impl SocketOptions {
    /// The options a new socket has on an endpoint with this configuration.
    pub fn from_config(cfg: &Config) -> Self {
        SocketOptions {
            send_buffer: cfg.send_buffer,
            recv_buffer: cfg.recv_buffer,
            recv_autotune: cfg.recv_autotuning,
            nodelay: cfg.nodelay,
            cork: false,
            keepalive: cfg.keepalive,
            user_timeout: cfg.user_timeout,
            hop_limit: cfg.hop_limit,
            tos: 0,
            congestion_control: cfg.congestion_control,
            linger: None,
            oob_inline: false,
        }
    }

    /// Refuses options no socket can have (`InvalidArgument`, EINVAL): an
    /// empty buffer or a hop limit of 0.
    pub fn validate(&self) -> Result<(), Error> {
        if self.send_buffer == 0 || self.recv_buffer == 0 || self.hop_limit == 0 {
            return Err(Error::InvalidArgument);
        }
        Ok(())
    }

    /// Sets IP_TOS / IPV6_TCLASS as Linux does for a TCP socket: the DSCP
    /// is kept, the ECN bits are TCP's and dropped (__ip_sock_set_tos).
    pub fn set_tos(&mut self, tos: u8) {
        self.tos = tos & !ECN_MASK;
    }

    /// True when a close is to be an abort (SO_LINGER with a zero timeout).
    pub fn close_aborts(&self) -> bool {
        self.linger == Some(Duration::ZERO)
    }
}

/// The window scale shift to advertise for a receive buffer: the smallest
/// that lets the buffer be expressed in 16 bits (at most 14, RFC 7323 §2.3).
pub(crate) fn wscale_for(recv_buffer: usize) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (recv_buffer >> shift) > 65535 {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_configuration_and_bad_values_are_refused() {
        let cfg = Config { nodelay: true, hop_limit: 9, ..Config::default() };
        let o = SocketOptions::from_config(&cfg);
        assert!(o.nodelay && !o.cork && o.linger.is_none());
        assert_eq!((o.hop_limit, o.send_buffer, o.recv_buffer), (9, cfg.send_buffer, cfg.recv_buffer));
        assert_eq!(o.validate(), Ok(()));
        assert_eq!(SocketOptions { hop_limit: 0, ..o.clone() }.validate(), Err(Error::InvalidArgument));
        assert_eq!(SocketOptions { send_buffer: 0, ..o.clone() }.validate(), Err(Error::InvalidArgument));
        assert!(SocketOptions { linger: Some(Duration::ZERO), ..o.clone() }.close_aborts());
        assert!(!SocketOptions { linger: Some(Duration::from_secs(1)), ..o }.close_aborts());
    }

    #[test]
    fn window_scale_follows_the_buffer() {
        assert_eq!(wscale_for(8 << 20), 8);
        assert_eq!(wscale_for(65535), 0);
        assert_eq!(wscale_for(65536), 1);
        assert_eq!(wscale_for(usize::MAX), 14);
    }
}
