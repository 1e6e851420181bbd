//! A socket's options applied to a live connection (setsockopt after
//! connect or accept): buffers, Nagle, cork, keepalive, user timeout, hop
//! limit, DSCP. The congestion control and the window scale are fixed once the
//! connection is open; linger matters only at close.

use super::Connection;
use crate::time::Instant;
use crate::{Config, SocketOptions};

impl Connection {
    /// Takes the options of `opts` that a live connection can change. A
    /// smaller send buffer keeps what is queued (writers wait until it
    /// drains below the limit); a smaller receive buffer never shrinks the
    /// window already offered (RFC 9293 §3.8.6.2.1), it only offers less later.
    pub(crate) fn set_options(&mut self, now: Instant, cfg: &Config, opts: &SocketOptions) {
        let had_room = self.send_capacity() > 0;
        self.send_limit = opts.send_buffer.max(1);
        if !had_room && self.send_capacity() > 0 && !self.fin_queued {
            self.pending.writable = true;
        }
        // With autotuning the socket's size is the ceiling; set by the
        // user (SO_RCVBUF), it is the size, and autotuning stops.
        self.recv_max = super::clamp_u32(opts.recv_buffer);
        let max = self.recv_max as usize;
        let recv_limit = if opts.recv_autotune { self.recv_limit.min(max) } else { max };
        if !opts.recv_autotune {
            self.recv_autotune = false;
            self.autotune = None;
        }
        if recv_limit > self.recv_limit && self.rcv_space() == 0 {
            // Room again after a zero window: say so (a window update).
            self.ack_now = true;
        }
        self.recv_limit = recv_limit;
        self.nodelay = opts.nodelay;
        self.hop_limit = opts.hop_limit.max(1);
        self.tos = opts.tos;
        if self.keepalive != opts.keepalive {
            self.set_keepalive(now, cfg, opts.keepalive);
        }
        if self.user_timeout_ms != super::timers::user_timeout_ms(opts.user_timeout) {
            self.set_user_timeout(now, cfg, opts.user_timeout);
        }
        // Last: uncorking (or a larger buffer) may let data go now.
        self.set_cork(now, cfg, opts.cork);
    }

    /// IP TTL / hop limit of this connection's datagrams.
    pub(crate) fn hop_limit(&self) -> u8 {
        self.hop_limit
    }

    /// IP_TOS / IPV6_TCLASS of this connection's datagrams.
    pub(crate) fn tos(&self) -> u8 {
        self.tos
    }
}
