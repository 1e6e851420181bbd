//! How long the sender was busy, and what held it back meanwhile (Linux's
//! chronographs, tcp_chrono_start/tcp_chrono_stop in net/ipv4/tcp_output.c,
//! reported as tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited).
//!
//! Busy begins when data (or a FIN) is queued with nothing waiting to be
//! sent, and ends when everything sent is acknowledged with nothing left to
//! send. Within it, a transmission pass stopped by the peer's window (with
//! cwnd to spare) starts a receive-window-limited period, which the next
//! pass not stopped by it ends; a pass that leaves nothing to send while the
//! application waits for send-buffer space, cwnd not being the limit,
//! starts a send-buffer-limited period, which ends when the buffer has
//! room again. One period runs at a time; a higher kind (send buffer over
//! window over busy) replaces a lower one, and a stopped period falls back
//! to busy. Linux counts in jiffies (4 ms at HZ 250); this counts in µs.

use super::{Connection, State};
use crate::time::Instant;
use core::time::Duration;

/// What the sender is doing, in Linux's order of precedence (enum tcp_chrono).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SendLimit {
    /// Data outstanding or waiting, nothing else holding it back.
    Busy,
    /// Stopped by the peer's receive window.
    ReceiveWindow,
    /// Out of data while the application waits for send-buffer space.
    SendBuffer,
}

/// Time spent sending, as Linux's tcp_info reports it: `busy` includes the
/// two limited periods. Totals up to `current`'s start; [`SendTimes::at`]
/// adds the period still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendTimes {
    /// Time with data outstanding or waiting (tcpi_busy_time).
    pub busy: Duration,
    /// Of which stopped by the peer's window (tcpi_rwnd_limited).
    pub rwnd_limited: Duration,
    /// Of which short of data for lack of send-buffer space (tcpi_sndbuf_limited).
    pub sndbuf_limited: Duration,
    /// The period running, and since when.
    pub current: Option<(SendLimit, Instant)>,
}

impl SendTimes {
    /// The totals at `now`, the running period counted up to it.
    pub fn at(&self, now: Instant) -> SendTimes {
        let mut t = *self;
        if let Some((kind, since)) = t.current.take() {
            let d = now.saturating_since(since);
            t.busy += d;
            match kind {
                SendLimit::Busy => {}
                SendLimit::ReceiveWindow => t.rwnd_limited += d,
                SendLimit::SendBuffer => t.sndbuf_limited += d,
            }
        }
        t
    }
}

/// A connection's chronograph (allocated when it first has data to send).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SendChrono {
    times: SendTimes,
    /// The application was refused send-buffer space and has not been
    /// told of room since (Linux's SOCK_NOSPACE).
    no_space: bool,
}

impl SendChrono {
    /// Closes the running period at `now` and starts `next` (tcp_chrono_set).
    fn set(&mut self, next: Option<SendLimit>, now: Instant) {
        self.times = self.times.at(now);
        self.times.current = next.map(|k| (k, now));
    }

    /// `kind` begins, unless something of higher precedence runs (tcp_chrono_start).
    fn start(&mut self, kind: SendLimit, now: Instant) {
        if self.times.current.is_none_or(|(k, _)| kind > k) {
            self.set(Some(kind), now);
        }
    }

    /// `kind` ends (tcp_chrono_stop): with nothing sent unacknowledged and
    /// nothing to send, timing stops; else, if `kind` was running, busy
    /// runs instead.
    fn stop(&mut self, kind: SendLimit, now: Instant, queues_empty: bool) {
        if queues_empty {
            self.set(None, now);
        } else if self.times.current.is_some_and(|(k, _)| k == kind) {
            self.set(Some(SendLimit::Busy), now);
        }
    }
}

impl Connection {
    /// Nothing sent unacknowledged and nothing (data or FIN) left to send
    /// (Linux's tcp_rtx_and_write_queues_empty).
    fn send_queues_empty(&self) -> bool {
        self.snd_una == self.snd_max && self.unsent() == 0 && !(self.fin_queued && self.snd_max <= self.fin_seq())
    }

    /// Data or a FIN was queued with nothing waiting before it: busy.
    pub(super) fn chrono_on_queued(&mut self, now: Instant, was_unsent: bool) {
        if !was_unsent {
            self.chrono.get_or_insert_default().start(SendLimit::Busy, now);
        }
    }

    /// A write was refused all or part of its data for lack of buffer space.
    pub(super) fn chrono_on_no_space(&mut self) {
        if let Some(c) = self.chrono.as_mut() {
            c.no_space = true;
        }
    }

    /// An ACK was processed: with nothing left outstanding busy stops
    /// (tcp_clean_rtx_queue), and a buffer with room again (a third free,
    /// Linux's sk_stream_is_writeable) ends a send-buffer-limited period.
    pub(super) fn chrono_on_ack(&mut self, now: Instant) {
        if self.chrono.is_none() {
            return;
        }
        let empty = self.send_queues_empty();
        let outstanding = self.snd_max > self.snd_una;
        let room = self.send_capacity() >= self.send_buf.len() / 2;
        let Some(c) = self.chrono.as_mut() else { return };
        if !outstanding {
            c.stop(SendLimit::Busy, now, empty);
        }
        if c.no_space && room {
            c.no_space = false;
            c.stop(SendLimit::SendBuffer, now, empty);
        }
    }

    /// The end of a transmission attempt (the end of Linux's
    /// tcp_write_xmit): with data waiting, stopped by the peer's window
    /// while cwnd has room starts a window-limited period, anything else
    /// ends it; having sent, with nothing left to send and cwnd not the
    /// limit, while the application waits for space, starts a
    /// send-buffer-limited one (tcp_cwnd_validate).
    pub(super) fn chrono_on_pass(&mut self, now: Instant, sent: bool) {
        let unsent = self.unsent();
        // Linux's tcp_write_xmit runs with data waiting: here, data that
        // was waiting or has just been sent. A pass with neither (a pure
        // ACK) changes nothing.
        if self.chrono.is_none() || (unsent == 0 && !sent) {
            return;
        }
        let mss = u32::from(self.snd_mss).max(1);
        let window_limited =
            unsent > 0 && self.cwnd_room() >= mss && (self.peer_room() as usize) < unsent.min(mss as usize);
        let sndbuf_limited = sent
            && unsent == 0
            && self.chrono.as_ref().is_some_and(|c| c.no_space)
            && matches!(self.state, State::Established | State::CloseWait)
            && !self.cwnd_may_grow();
        let Some(c) = self.chrono.as_mut() else { return };
        if window_limited {
            c.start(SendLimit::ReceiveWindow, now);
        } else {
            c.stop(SendLimit::ReceiveWindow, now, false);
        }
        if sndbuf_limited {
            c.start(SendLimit::SendBuffer, now);
        }
    }

    /// The sender's times so far (the running period up to its start).
    pub(super) fn send_times(&self) -> SendTimes {
        self.chrono.as_ref().map(|c| c.times).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    #[test]
    fn a_limited_period_counts_in_busy_too_and_falls_back_to_busy() {
        let mut c = SendChrono::default();
        c.start(SendLimit::Busy, at(0));
        c.start(SendLimit::ReceiveWindow, at(10));
        // Busy does not replace the window limit.
        c.start(SendLimit::Busy, at(20));
        c.stop(SendLimit::ReceiveWindow, at(30), false);
        let t = c.times.at(at(45));
        assert_eq!(t.busy, Duration::from_millis(45));
        assert_eq!(t.rwnd_limited, Duration::from_millis(20));
        assert_eq!(t.sndbuf_limited, Duration::ZERO);
        assert_eq!(c.times.current.map(|(k, _)| k), Some(SendLimit::Busy));
    }

    #[test]
    fn stopping_with_empty_queues_stops_the_clock_whatever_runs() {
        let mut c = SendChrono::default();
        c.start(SendLimit::SendBuffer, at(5));
        // Stopping busy does not end a higher period while data remains...
        c.stop(SendLimit::Busy, at(8), false);
        assert_eq!(c.times.current.map(|(k, _)| k), Some(SendLimit::SendBuffer));
        // ...but empty queues end it.
        c.stop(SendLimit::Busy, at(12), true);
        let t = c.times.at(at(100));
        assert_eq!((t.busy, t.sndbuf_limited), (Duration::from_millis(7), Duration::from_millis(7)));
        assert!(t.current.is_none());
    }
}
