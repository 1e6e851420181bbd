//! Counters per connection and the info snapshot (the `tcpi_*` of DRILL.md).

use super::{Connection, State};
use core::time::Duration;

/// Counters kept by every connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Stats {
    // Rare events count in u32 (saturating) to keep a connection small.
    pub segs_in: u64,
    pub segs_out: u64,
    pub data_segs_in: u64,
    pub data_segs_out: u64,
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub retransmits: u64,
    pub fast_retransmits: u32,
    pub spurious_recoveries: u32,
    pub spurious_timeouts: u32,
    pub timeouts: u32,
    pub ooo_segments: u32,
    pub window_probes: u32,
    pub challenge_acks: u32,
    pub acks_rate_limited: u32,
    pub resets_in: u32,
    pub resets_out: u32,
    pub paws_drops: u32,
    pub zero_window_drops: u32,
    pub dsacks_out: u32,
    pub tail_loss_probes: u32,
}

/// A snapshot of a connection's state and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Current state.
    pub state: State,
    /// MSS we send with.
    pub snd_mss: u16,
    /// MSS we advertised.
    pub rcv_mss: u16,
    /// The current delayed-ACK timeout (Linux's `tcpi_ato`).
    pub ato: Duration,
    /// Whether received data is being ACKed at once (quick-ACK mode).
    pub quick_ack: bool,
    /// Peer's window scale shift.
    pub snd_wscale: u8,
    /// Our window scale shift.
    pub rcv_wscale: u8,
    /// Timestamps negotiated.
    pub timestamps: bool,
    /// SACK negotiated.
    pub sack: bool,
    /// Congestion window in bytes.
    pub cwnd: u32,
    /// Slow-start threshold in bytes.
    pub ssthresh: u32,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variance.
    pub rttvar: Duration,
    /// Smallest RTT seen.
    pub min_rtt: Option<Duration>,
    /// Current RTO.
    pub rto: Duration,
    /// Times the RTO has been backed off.
    pub backoff: u32,
    /// Bytes sent and not yet acknowledged.
    pub unacked: u32,
    /// Bytes queued but never sent.
    pub notsent_bytes: usize,
    /// Bytes allocated for the send and receive buffers.
    pub buffer_bytes: usize,
    /// What the receive buffer may hold now, grown by autotuning (Linux's
    /// sk_rcvbuf, less its per-packet overhead).
    pub recv_buffer: usize,
    /// Bytes the application read in the last receiver RTT measured, the
    /// measure autotuning sizes the buffer by (tcpi_rcv_space).
    pub rcv_space: u32,
    /// The receiver's RTT estimate, once measured (tcpi_rcv_rtt).
    pub rcv_rtt: Option<Duration>,
    /// Ranges of out-of-order data held (separated by holes).
    pub reassembly_ranges: usize,
    /// In NewReno fast recovery.
    pub in_recovery: bool,
    /// Consecutive retransmission timeouts without progress.
    pub retries: u32,
    /// Bytes readable by the application.
    pub readable: usize,
    /// Peer's window in bytes.
    pub snd_wnd: u32,
    /// Segments received.
    pub segs_in: u64,
    /// Segments sent (a passive open's SYN-ACKs not counted, as Linux's).
    pub segs_out: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Sequence space acknowledged by the peer: data and FIN, and the SYN
    /// of an active open (as Linux's tcpi_bytes_acked).
    pub bytes_acked: u64,
    /// Bytes received in order.
    pub bytes_received: u64,
    /// Segments received with data (Linux's tcpi_data_segs_in).
    pub data_segs_in: u64,
    /// Segments sent with data, retransmissions included (tcpi_data_segs_out).
    pub data_segs_out: u64,
    /// Payload bytes retransmitted (tcpi_bytes_retrans).
    pub bytes_retrans: u64,
    /// Segments retransmitted (SYN, data, FIN).
    pub total_retrans: u64,
    /// Fast retransmits.
    pub fast_retransmits: u64,
    /// Recoveries found spurious by their timestamps and undone (RFC 3522).
    pub spurious_recoveries: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Timeouts found spurious (F-RTO, RFC 5682, or Eifel, RFC 3522) and
    /// undone (Linux's TCPSpuriousRTOs).
    pub spurious_timeouts: u64,
    /// Out-of-order segments received.
    pub ooo_segments: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// ACKs for invalid segments and challenge ACKs held back by the
    /// per-connection limit (`Config::invalid_ack_ratelimit`).
    pub acks_rate_limited: u64,
    /// Resets received.
    pub resets_in: u64,
    /// Resets sent.
    pub resets_out: u64,
    /// Segments dropped by PAWS.
    pub paws_drops: u64,
    /// Data segments dropped because our window was zero (their ACKs were used).
    pub zero_window_drops: u64,
    /// Duplicates reported to the peer in D-SACK blocks (RFC 2883).
    pub dsacks_out: u64,
    /// Bytes above SND.UNA the peer has SACKed (Linux's sacked_out, in bytes).
    pub sacked: u32,
    /// DupThresh now: 3, raised after spurious recoveries (Linux's tcpi_reordering).
    pub reordering: u32,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tail_loss_probes: u64,
    /// Bytes RACK deems lost and not yet delivered, resent or not (Linux's lost_out, in bytes).
    pub lost: u32,
    /// Bytes retransmitted and not yet acknowledged or SACKed (retrans_out, in bytes).
    pub retrans: u32,
    /// Times RACK saw the path reorder (tcpi_reord_seen).
    pub reord_seen: u32,
    /// D-SACK blocks received (tcpi_dsack_dups).
    pub dsack_dups: u32,
    /// In HyStart++'s Conservative Slow Start (RFC 9406).
    pub conservative_slow_start: bool,
    /// The pacing rate in bytes per second, as Linux's tcpi_pacing_rate
    /// (computed whether or not `Config::pacing` uses it; none before an RTT sample).
    pub pacing_rate: Option<u64>,
    /// The delivery rate in bytes per second, as Linux's tcpi_delivery_rate
    /// (from the per-transmission log: with RACK on, SACK negotiated).
    pub delivery_rate: Option<u64>,
    /// That rate's sample was taken while the application sent less than
    /// it could (tcpi_delivery_rate_app_limited).
    pub delivery_rate_app_limited: bool,
    /// When data last went out, retransmissions included (Linux's
    /// lsndtime), on the millisecond clock [`Instant::millis_u32`](crate::Instant::millis_u32): so
    /// tcpi_last_data_sent is `now.millis_u32() - last_data_sent`, wrapping.
    pub last_data_sent: u32,
    /// When in-order data last arrived (Linux's icsk_ack.lrcvtime), same clock.
    pub last_data_recv: u32,
    /// When an acceptable segment, and with it an ACK, last arrived
    /// (Linux's rcv_tstamp), same clock.
    pub last_ack_recv: u32,
    /// The path MTU: the link's, or less if an ICMP Packet Too Big said so
    /// (Linux's icsk_pmtu_cookie, tcpi_pmtu).
    pub pmtu: u32,
    /// The ceiling on the window offered, grown as data arrives (Linux's
    /// rcv_ssthresh, tcpi_rcv_ssthresh).
    pub rcv_ssthresh: u32,
    /// The window the last ACK sent offered, from the RCV.NXT it
    /// acknowledged (Linux's rcv_wnd, tcpi_rcv_wnd).
    pub rcv_wnd: u32,
    /// Packets delivered, the handshake's SYN or SYN-ACK counted as one
    /// (Linux's tp->delivered, tcpi_delivered; from the transmission log:
    /// with RACK on, SACK negotiated).
    pub delivered: Option<u32>,
    /// How long sending was busy, and limited by the peer's window or the
    /// send buffer (tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited);
    /// `send_times.at(now)` counts the period still running.
    pub send_times: crate::SendTimes,
}

impl Connection {
    /// A snapshot of this connection's state and counters, on a link of
    /// `link_mtu` bytes.
    pub fn info(&self, max_rto: Duration, link_mtu: u16) -> ConnectionInfo {
        use crate::congestion::CongestionController;
        let s = &self.stats;
        let delivery = self.rack.as_ref().and_then(|r| r.rate.rate());
        ConnectionInfo {
            state: self.state,
            snd_mss: self.snd_mss,
            rcv_mss: self.rcv_mss,
            ato: self.ack.ato(),
            quick_ack: self.ack.in_quickack(),
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            timestamps: self.ts_ok,
            sack: self.sack_ok,
            cwnd: self.effective_cwnd(),
            sacked: self.sacked_bytes(),
            lost: self.rack.as_ref().map_or(0, |r| r.log.lost_out()),
            retrans: self.rack.as_ref().map_or(0, |r| r.log.retransmitted_bytes()),
            reord_seen: self.rack.as_ref().map_or(0, |r| r.reord_seen()),
            dsack_dups: self.rack.as_ref().map_or(0, |r| r.dsacks_in),
            conservative_slow_start: self.hystart.phase() == crate::congestion::hystart::Phase::Css,
            pacing_rate: self.pacing_rate(),
            delivery_rate: delivery.map(|(rate, _)| rate),
            delivery_rate_app_limited: delivery.is_some_and(|(_, a)| a),
            last_data_sent: self.last_data_sent_ms,
            last_data_recv: self.last_data_recv_ms,
            last_ack_recv: self.last_recv.millis_u32(),
            pmtu: u32::from(self.ptb_mtu.map_or(link_mtu, |m| m.get().min(link_mtu))),
            rcv_ssthresh: self.rcv_wnd_ceiling,
            rcv_wnd: self.window_last_advertised(),
            send_times: self.send_times(),
            delivered: match &self.rack {
                Some(r) => Some(r.delivered_segments.wrapping_add(1)),
                // Before the first transmission that turns RACK on only the
                // SYN can have been delivered.
                None if self.state.is_synchronized() && self.snd_max == self.iss + 1 => Some(1),
                None => None,
            },
            reordering: self.scoreboard.dup_thresh(),
            tail_loss_probes: u64::from(s.tail_loss_probes),
            ssthresh: self.cc.ssthresh(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            min_rtt: self.rtt.min_rtt(),
            rto: self.rtt.rto(max_rto),
            backoff: self.rtt.backoff(),
            unacked: self.snd_max.since(self.snd_una),
            notsent_bytes: self.send_buf.len().saturating_sub(self.snd_max.since(self.snd_buf_seq) as usize),
            buffer_bytes: self.send_buf.capacity() + self.rcv_buf.capacity(),
            recv_buffer: self.recv_limit,
            rcv_space: self.autotune_space(),
            rcv_rtt: self.autotune_rtt(),
            reassembly_ranges: self.ooo.range_count(),
            in_recovery: self.in_recovery,
            retries: u32::from(self.retries),
            readable: self.rcv_buf.len(),
            snd_wnd: self.snd_wnd,
            segs_in: s.segs_in,
            segs_out: s.segs_out,
            bytes_sent: s.bytes_sent,
            bytes_acked: s.bytes_acked,
            bytes_received: s.bytes_received,
            data_segs_in: s.data_segs_in,
            data_segs_out: s.data_segs_out,
            bytes_retrans: s.bytes_retrans,
            total_retrans: s.retransmits,
            fast_retransmits: u64::from(s.fast_retransmits),
            spurious_recoveries: u64::from(s.spurious_recoveries),
            timeouts: u64::from(s.timeouts),
            spurious_timeouts: u64::from(s.spurious_timeouts),
            ooo_segments: u64::from(s.ooo_segments),
            window_probes: u64::from(s.window_probes),
            challenge_acks: u64::from(s.challenge_acks),
            acks_rate_limited: u64::from(s.acks_rate_limited),
            resets_in: u64::from(s.resets_in),
            resets_out: u64::from(s.resets_out),
            paws_drops: u64::from(s.paws_drops),
            zero_window_drops: u64::from(s.zero_window_drops),
            dsacks_out: u64::from(s.dsacks_out),
        }
    }
}
