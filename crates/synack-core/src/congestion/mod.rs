//! Congestion control: the interface a connection drives, and NewReno.

mod new_reno;

pub use new_reno::NewReno;

/// What a congestion controller is told and what it decides: the
/// congestion window and slow-start threshold, in bytes.
pub trait CongestionController {
    /// The congestion window.
    fn cwnd(&self) -> u32;
    /// The slow-start threshold.
    fn ssthresh(&self) -> u32;
    /// New data was cumulatively acknowledged outside recovery.
    fn on_ack(&mut self, acked: u32, mss: u32);
    /// Three duplicate ACKs: enter fast recovery (RFC 5681 §3.2 step 2).
    fn on_fast_retransmit(&mut self, flight: u32, mss: u32);
    /// Loss detected with SACK: enter recovery with cwnd = ssthresh (RFC 6675 §5 (4.2)).
    fn on_sack_recovery(&mut self, flight: u32, mss: u32);
    /// A further duplicate ACK during fast recovery (window inflation).
    fn on_dup_ack_in_recovery(&mut self, mss: u32);
    /// A partial ACK during recovery (RFC 6582 §3.2 step 5).
    fn on_partial_ack(&mut self, acked: u32, mss: u32);
    /// The ACK that ends recovery (RFC 6582 §3.2 step 6).
    fn on_recovery_end(&mut self, flight: u32, mss: u32);
    /// A retransmission timeout (RFC 5681 §3.1, eq. 4).
    fn on_rto(&mut self, flight: u32, mss: u32);
    /// Restart after idle (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, restart_window: u32);
}
