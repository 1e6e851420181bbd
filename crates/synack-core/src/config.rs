//! Every tunable of the stack. The defaults are those `DRILL.md` assumes
//! (and Linux uses): MSS 1460, timestamps, SACK and window scaling on,
//! initial window 10 segments, RTO 1 s initial and 200 ms minimum.

use core::time::Duration;

/// Which congestion control a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionControl {
    /// NewReno (RFC 5681, RFC 6582).
    NewReno,
    /// CUBIC (RFC 9438): the default, as in Linux.
    #[default]
    Cubic,
}

impl CongestionControl {
    /// The algorithm Linux names `name` (`tcp_congestion_control`,
    /// TCP_CONGESTION): `reno` (or `newreno`) and `cubic`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "reno" | "newreno" => Some(Self::NewReno),
            "cubic" => Some(Self::Cubic),
            _ => None,
        }
    }
}

/// When a listener answers SYNs with SYN cookies (RFC 4987 §3.6), as Linux's
/// `net.ipv4.tcp_syncookies` 0, 1, 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynCookies {
    /// Never: SYNs beyond the SYN queue are dropped.
    Off,
    /// When the listener's SYN queue is full (the default).
    #[default]
    WhenQueueFull,
    /// For every SYN: no state is kept for half-open connections.
    Always,
}

impl SynCookies {
    /// Whether cookies are in use for a listener whose SYN queue is full
    /// (or, for a returning ACK, was lately), as `under_pressure` says.
    pub fn in_use(self, under_pressure: bool) -> bool {
        match self {
            Self::Off => false,
            Self::WhenQueueFull => under_pressure,
            Self::Always => true,
        }
    }
}

/// What the device under an endpoint does for it: segmentation and checksum
/// offload (on Linux TUN: `IFF_VNET_HDR` with `TUNSETOFFLOAD`). Both off by
/// default; a runtime turns on what its device offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offload {
    /// The device splits TCP super-segments at the MSS (TSO/GSO): where the
    /// endpoint would send a run of full-sized segments, it sends one
    /// datagram of up to 64 KiB ([`crate::Endpoint::poll_transmit_offload`]
    /// says the segment size).
    pub segmentation: bool,
    /// The device completes TCP checksums: the endpoint writes only the
    /// pseudo-header sum into the checksum field.
    pub checksum: bool,
}

/// Configuration of an [`crate::Endpoint`] and of every connection it makes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Link MTU; the MSS advertised is `mtu - 40` (IPv4) or `mtu - 60` (IPv6).
    pub mtu: u16,
    /// Send buffer limit in bytes (memory is taken only as data is queued).
    pub send_buffer: usize,
    /// Receive buffer limit in bytes (with autotuning, the most a buffer
    /// grows to); sets the window scale we advertise.
    pub recv_buffer: usize,
    /// The receive buffer a connection starts with when autotuning (Linux's
    /// tcp_rmem[1]); `recv_buffer` is then the most it grows to (tcp_rmem[2]).
    pub recv_buffer_initial: usize,
    /// Receive-buffer autotuning (Linux's tcp_moderate_rcvbuf, on): the
    /// buffer grows to twice what the application reads per RTT.
    pub recv_autotuning: bool,
    /// Offer and accept window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer and accept timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Offer and accept SACK (RFC 2018).
    pub sack: bool,
    /// Report duplicate segments in the first SACK block (D-SACK, RFC 2883;
    /// Linux's tcp_dsack).
    pub dsack: bool,
    /// Initial congestion window in segments (RFC 6928).
    pub initial_cwnd_segments: u32,
    /// Initial retransmission timeout (RFC 6298 §2.1).
    pub initial_rto: Duration,
    /// Lower bound on the RTO.
    pub min_rto: Duration,
    /// Upper bound on the RTO.
    pub max_rto: Duration,
    /// Delayed-ACK timeout (RFC 9293 §3.8.6.3: at most 500 ms; synack caps it at 200 ms).
    pub delayed_ack: Duration,
    /// Tail Loss Probe (RFC 8985 §7) with SACK: probe a lost tail after two
    /// RTTs instead of waiting for the RTO (Linux's tcp_early_retrans 3, on).
    pub tail_loss_probe: bool,
    /// RACK (RFC 8985 §6) with SACK: time-based loss detection, lost
    /// retransmissions found too (Linux's tcp_recovery bit 0, on). Off, the
    /// RFC 6675 DupThresh rules decide.
    pub rack: bool,
    /// F-RTO (RFC 5682): after a timeout, send new data before going back,
    /// and undo the timeout if the originals were only delayed (Linux's
    /// tcp_frto, on). Eifel detection with timestamps (RFC 3522) undoes
    /// spurious timeouts either way.
    pub frto: bool,
    /// HyStart++ (RFC 9406) in the initial slow start: leave it when the RTT
    /// shows the queue building, before it overflows (Linux's CUBIC runs
    /// HyStart, on by default).
    pub hystart: bool,
    /// With CUBIC, also end slow start when a round's ACKs arrive as one
    /// closely spaced train longer than the minimum RTT: the pipe is full
    /// (Linux's HyStart ACK-train detection, on by default).
    pub hystart_ack_train: bool,
    /// Pace data at Linux's rates (200 % of cwnd/SRTT in slow start, 120 %
    /// after) so a window does not reach the bottleneck as one burst
    /// (Linux paces with the fq qdisc or BBR; on by default here).
    pub pacing: bool,
    /// TSO deferral (Linux's tcp_tso_should_defer and tcp_tso_win_divisor,
    /// default 3): with less than this fraction of cwnd open and an ACK due
    /// within a millisecond, new data waits for that ACK so that it goes in
    /// one larger burst. 0 keeps Linux's other rule (defer at most 3 MSS).
    pub tso_win_divisor: u32,
    /// Restart from the initial window after an idle period longer than the
    /// RTO (RFC 5681 §4.1; Linux's tcp_slow_start_after_idle, on by default).
    pub slow_start_after_idle: bool,
    /// Disable Nagle's algorithm by default (TCP_NODELAY).
    pub nodelay: bool,
    /// SYN retransmissions before an active open fails with a time-out
    /// (this and the two counts below are honoured up to 65535).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped.
    pub synack_retries: u32,
    /// Data retransmissions before the connection is aborted (R2, RFC 9293 §3.8.3).
    pub retries2: u32,
    /// Time spent in TIME-WAIT (2*MSL).
    pub time_wait: Duration,
    /// How long an orphaned connection may stay in FIN-WAIT-2.
    pub fin_timeout: Duration,
    /// Keepalive on new connections (RFC 9293 §3.8.4; off by default).
    pub keepalive: bool,
    /// Idle time before the first keepalive probe.
    pub keepalive_idle: Duration,
    /// Interval between keepalive probes.
    pub keepalive_interval: Duration,
    /// Unanswered keepalive probes before the connection is dropped (up to 65535).
    pub keepalive_count: u32,
    /// User timeout: abort when sent data stays unacknowledged this long.
    pub user_timeout: Option<Duration>,
    /// The largest listen backlog (Linux's `net.core.somaxconn`): a
    /// listener's SYN queue and its accept queue each hold at most
    /// min(backlog, this) connections, as Linux sizes them.
    pub max_backlog: usize,
    /// Linux's `tcp_max_syn_backlog`: with SYN cookies off, a listener stops
    /// taking SYNs once its SYN queue is within a quarter of this
    /// (tcp_conn_request), whatever its backlog.
    pub syn_backlog: usize,
    /// When SYNs are answered with SYN cookies instead of queued.
    pub syn_cookies: SynCookies,
    /// Most connections the endpoint holds in any state.
    pub max_connections: usize,
    /// Ephemeral port range for active opens.
    pub ephemeral_ports: (u16, u16),
    /// TTL / hop limit of emitted packets.
    pub hop_limit: u8,
    /// Challenge ACKs per second, endpoint-wide (RFC 5961 §7).
    pub challenge_ack_limit: u32,
    /// Per connection, at most one ACK per this interval for segments that
    /// fail PAWS or the sequence or ACK checks (pure ACKs and SYNs; data
    /// always gets its ACK), and for challenge ACKs: Linux's
    /// `tcp_invalid_ratelimit`, 500 ms. Zero turns the limit off.
    pub invalid_ack_ratelimit: Duration,
    /// The congestion control algorithm (CUBIC by default, as Linux).
    pub congestion_control: CongestionControl,
    /// Segmentation and checksum offload of the device (see [`Offload`]).
    pub offload: Offload,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mtu: 1500,
            send_buffer: 4 << 20,
            recv_buffer: 8 << 20,
            recv_buffer_initial: 128 << 10,
            recv_autotuning: true,
            window_scaling: true,
            timestamps: true,
            sack: true,
            dsack: true,
            initial_cwnd_segments: 10,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            delayed_ack: Duration::from_millis(40),
            slow_start_after_idle: true,
            tail_loss_probe: true,
            rack: true,
            frto: true,
            hystart: true,
            hystart_ack_train: true,
            pacing: true,
            tso_win_divisor: 3,
            nodelay: false,
            syn_retries: 5,
            synack_retries: 5,
            retries2: 15,
            time_wait: Duration::from_secs(60),
            fin_timeout: Duration::from_secs(60),
            keepalive: false,
            keepalive_idle: Duration::from_secs(7200),
            keepalive_interval: Duration::from_secs(75),
            keepalive_count: 9,
            user_timeout: None,
            max_backlog: 4096,
            syn_backlog: 2048,
            syn_cookies: SynCookies::WhenQueueFull,
            max_connections: 1 << 20,
            ephemeral_ports: (32768, 60999),
            hop_limit: 64,
            challenge_ack_limit: 1000,
            invalid_ack_ratelimit: Duration::from_millis(500),
            congestion_control: CongestionControl::Cubic,
            offload: Offload::default(),
        }
    }
}

impl Config {
    /// The window scale shift we advertise: the smallest that lets the
    /// receive buffer be expressed in 16 bits (at most 14, RFC 7323 §2.3).
    pub fn rcv_wscale(&self) -> u8 {
        crate::socket_options::wscale_for(self.recv_buffer)
    }

    /// The MSS to advertise for an address family (RFC 9293 §3.7.1, RFC 6691).
    pub fn advertised_mss(&self, ipv6: bool) -> u16 {
        let overhead = if ipv6 { 60 } else { 40 };
        self.mtu.saturating_sub(overhead).max(88)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_window_scale_is_eight() {
        assert_eq!(Config::default().rcv_wscale(), 8);
        assert_eq!(Config { recv_buffer: 65535, ..Config::default() }.rcv_wscale(), 0);
        assert_eq!(Config { recv_buffer: usize::MAX, ..Config::default() }.rcv_wscale(), 14);
    }
}
