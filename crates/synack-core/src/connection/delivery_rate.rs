//! Delivery rate estimation, as Linux's tcp_rate.c (the IETF draft
//! draft-cheng-iccrg-delivery-rate-estimation; not in `../shared/rfc/`,
//! Linux's code is the model). Each transmission records how much had been
//! delivered, and when, at the moment it was sent; when it is delivered
//! (cumulatively or by SACK), the bytes delivered since over the longer of
//! the send and the ACK intervals are one rate sample, which reordering or
//! ACK compression cannot inflate. Samples taken while the application had
//! nothing to send are marked application-limited and replace a better
//! sample only if they are higher. The result is `tcpi_delivery_rate`.
//!
//! It rides on the sender's per-transmission log, so it runs where the log
//! does: on connections with RACK (SACK negotiated, the default).

use super::sent_log::Sent;
use crate::time::Instant;
use core::time::Duration;

/// What a transmission records of the connection's delivery state when it
/// leaves (Linux's `tcp_skb_cb.tx`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TxState {
    /// When the delivery counted in `delivered` happened (delivered_mstamp).
    delivered_time: Instant,
    /// When the first transmission of the current flight went out (first_tx_mstamp).
    first_sent: Instant,
    /// Bytes delivered so far (wrapping).
    delivered: u32,
    /// Sent while the application had nothing more to send.
    app_limited: bool,
}

/// The sample being built from one ACK (Linux's `rate_sample`).
#[derive(Debug, Clone, Copy, Default)]
struct AckSample {
    /// The delivered count at the send of the most recently sent segment delivered.
    prior_delivered: Option<u32>,
    send_elapsed: Duration,
    ack_elapsed: Duration,
    app_limited: bool,
}

/// The connection's delivery counters and its last rate sample.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeliveryRate {
    /// Bytes delivered (SACKed or cumulatively acknowledged), wrapping.
    delivered: u32,
    delivered_time: Instant,
    first_sent: Instant,
    /// Non-zero: the flight is application-limited until `delivered` passes this.
    app_limited: u32,
    ack: AckSample,
    /// The rate reported: bytes over an interval, and whether app-limited.
    rate_delivered: u32,
    rate_interval: Duration,
    rate_app_limited: bool,
}

impl DeliveryRate {
    /// A transmission leaves at `now` (`idle`: nothing was in flight);
    /// returns what it records (Linux's tcp_rate_skb_sent).
    pub fn on_sent(&mut self, now: Instant, idle: bool) -> TxState {
        if idle {
            self.first_sent = now;
            self.delivered_time = now;
        }
        TxState {
            delivered_time: self.delivered_time,
            first_sent: self.first_sent,
            delivered: self.delivered,
            app_limited: self.app_limited != 0,
        }
    }

    /// `e` was delivered at `now` (Linux's tcp_rate_skb_delivered).
    pub fn on_delivered(&mut self, e: &Sent, now: Instant) {
        self.delivered = self.delivered.wrapping_add(e.end.since(e.start));
        self.delivered_time = now;
        let tx = e.tx;
        let newer = self.ack.prior_delivered.is_none_or(|p| tx.delivered.wrapping_sub(p) as i32 >= 0);
        if newer {
            self.ack = AckSample {
                prior_delivered: Some(tx.delivered),
                send_elapsed: e.xmit.saturating_since(tx.first_sent),
                ack_elapsed: now.saturating_since(tx.delivered_time),
                app_limited: tx.app_limited,
            };
            // The next interval starts at this segment's send.
            self.first_sent = e.xmit;
        }
    }

    /// The ACK is processed: its sample, if valid (an interval at least
    /// `min_rtt`), becomes the rate unless it is application-limited and
    /// lower (Linux's tcp_rate_gen).
    pub fn on_ack_done(&mut self, min_rtt: Option<Duration>) {
        if self.app_limited != 0 && self.delivered.wrapping_sub(self.app_limited) as i32 > 0 {
            self.app_limited = 0;
        }
        let ack = core::mem::take(&mut self.ack);
        let Some(prior) = ack.prior_delivered else { return };
        let delivered = self.delivered.wrapping_sub(prior);
        let interval = ack.send_elapsed.max(ack.ack_elapsed);
        if delivered == 0 || interval.is_zero() || min_rtt.is_some_and(|m| interval < m) {
            return;
        }
        let higher = u128::from(delivered) * self.rate_interval.as_micros()
            >= u128::from(self.rate_delivered) * interval.as_micros();
        if !ack.app_limited || higher || self.rate_interval.is_zero() {
            self.rate_delivered = delivered;
            self.rate_interval = interval;
            self.rate_app_limited = ack.app_limited;
        }
    }

    /// The application has nothing more to send and cwnd is not the limit:
    /// what is sent until `in_flight` more bytes are delivered is
    /// application-limited (Linux's tcp_rate_check_app_limited).
    pub fn on_app_limited(&mut self, in_flight: u32) {
        self.app_limited = self.delivered.wrapping_add(in_flight).max(1);
    }

    /// The delivery rate in bytes per second and whether its sample was
    /// application-limited (tcpi_delivery_rate, tcpi_delivery_rate_app_limited).
    pub fn rate(&self) -> Option<(u64, bool)> {
        let us = self.rate_interval.as_micros();
        (us > 0).then(|| ((u128::from(self.rate_delivered) * 1_000_000 / us) as u64, self.rate_app_limited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seq::SeqNum;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn sent(start: u32, end: u32, xmit: Instant, tx: TxState) -> Sent {
        Sent { start: SeqNum(start), end: SeqNum(end), xmit, flags: 0, tx }
    }

    #[test]
    fn a_window_acknowledged_an_rtt_later_is_its_size_over_the_rtt() {
        let mut r = DeliveryRate::default();
        // 10 segments of 1000 bytes, 1 ms apart, from idle; each ACKed 100 ms after it left.
        let segs: Vec<Sent> = (0..10u32)
            .map(|i| {
                let tx = r.on_sent(t(u64::from(i)), i == 0);
                sent(i * 1000, (i + 1) * 1000, t(u64::from(i)), tx)
            })
            .collect();
        for (i, s) in segs.iter().enumerate() {
            r.on_delivered(s, t(100 + i as u64));
            r.on_ack_done(Some(Duration::from_millis(100)));
        }
        // The last ACK: 10,000 bytes over max(send 9 ms, ack 109 ms).
        let (rate, app_limited) = r.rate().unwrap();
        assert_eq!(rate, 10_000 * 1000 / 109);
        assert!(!app_limited);
    }

    #[test]
    fn an_interval_below_the_minimum_rtt_is_no_sample() {
        let mut r = DeliveryRate::default();
        let tx = r.on_sent(t(0), true);
        r.on_delivered(&sent(0, 1000, t(0), tx), t(5));
        r.on_ack_done(Some(Duration::from_millis(10)));
        assert_eq!(r.rate(), None);
    }

    #[test]
    fn an_application_limited_sample_replaces_only_a_lower_rate() {
        let mut r = DeliveryRate::default();
        let tx = r.on_sent(t(0), true);
        r.on_delivered(&sent(0, 10_000, t(0), tx), t(100));
        r.on_ack_done(None);
        assert_eq!(r.rate(), Some((100_000, false)));
        // Nothing more to send: the next, slower flight is app-limited.
        r.on_app_limited(0);
        let tx = r.on_sent(t(200), true);
        r.on_delivered(&sent(10_000, 11_000, t(200), tx), t(300));
        r.on_ack_done(None);
        assert_eq!(r.rate(), Some((100_000, false)), "a lower app-limited sample is ignored");
        r.on_app_limited(0);
        let tx = r.on_sent(t(400), true);
        r.on_delivered(&sent(11_000, 31_000, t(400), tx), t(500));
        r.on_ack_done(None);
        assert_eq!(r.rate(), Some((200_000, true)), "a higher one is taken");
    }
}
