//! Closing: CLOSE and ABORT (RFC 9293 §3.10.4, §3.10.5), half-close,
//! TIME-WAIT (§3.6), and the resets a connection sends.

use super::{Connection, Rst, Segment, State};
use crate::error::{CloseReason, Error};
use crate::time::Instant;
use crate::Config;

impl Connection {
    /// Shuts down the write side: a FIN follows the queued data (CLOSE of §3.10.4).
    pub(crate) fn shutdown_write(&mut self, now: Instant, cfg: &Config) -> Result<(), Error> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        match self.state {
            // Queued for processing after entering ESTABLISHED (§3.10.4,
            // SYN-RECEIVED; the same for a half-close in SYN-SENT).
            State::SynSent | State::SynReceived => self.fin_queued = true,
            State::Established => {
                self.chrono_on_queued(now, self.unsent() > 0);
                self.fin_queued = true;
                self.set_state(State::FinWait1);
            }
            State::CloseWait => {
                self.chrono_on_queued(now, self.unsent() > 0);
                self.fin_queued = true;
                self.set_state(State::LastAck);
            }
            State::Closed => return Err(Error::NotConnected),
            _ => {}
        }
        self.after_event(now, cfg);
        Ok(())
    }

    /// The user's CLOSE: no more sending or receiving by the user. Unread
    /// data makes it an abort with RST (RFC 2525 §2.17, as Linux does).
    pub(crate) fn close(&mut self, now: Instant, cfg: &Config) {
        self.user_closed = true;
        if self.state == State::Closed {
            return;
        }
        if self.state == State::SynSent {
            // §3.10.4, SYN-SENT: delete the TCB.
            self.enter_closed(CloseReason::Error(Error::ConnectionAborted));
            self.after_event(now, cfg);
            return;
        }
        if !self.rcv_buf.is_empty() {
            self.abort(now, cfg);
            return;
        }
        let _ = self.shutdown_write(now, cfg);
        if self.state == State::FinWait2 {
            self.timers.close = Some(now + cfg.fin_timeout);
        }
    }

    /// ABORT (RFC 9293 §3.10.5): a RST in synchronized states, then CLOSED.
    pub(crate) fn abort(&mut self, now: Instant, cfg: &Config) {
        match self.state {
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                self.send_rst = Some(Rst::Abort);
            }
            _ => {}
        }
        if self.state != State::Closed {
            self.enter_closed(CloseReason::Error(Error::ConnectionAborted));
        }
        self.after_event(now, cfg);
    }

    /// Answers an unacceptable ACK with `<SEQ=SEG.ACK><CTL=RST>` (§3.10.7.3, §3.10.7.4).
    pub(super) fn reply_rst_for_ack(&mut self, seg: &Segment<'_>) {
        self.send_rst = Some(Rst::ForAck(seg.ack));
    }

    /// Enters TIME-WAIT for 2*MSL, turning off the other timers.
    pub(super) fn enter_time_wait(&mut self, now: Instant, cfg: &Config) {
        self.set_state(State::TimeWait);
        self.timers = Default::default();
        self.timers.close = Some(now + cfg.time_wait);
        self.send_buf.release();
        self.unacked_since = None;
        self.pending.closed = None;
    }

    /// A retransmitted FIN in TIME-WAIT restarts the 2*MSL timeout.
    pub(super) fn restart_time_wait(&mut self, now: Instant, cfg: &Config) {
        self.timers.close = Some(now + cfg.time_wait);
    }

    /// True when the connection is CLOSED and has nothing left to send.
    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Closed && self.send_rst.is_none()
    }

    /// RFC 6191 / RFC 9293 §3.6.1: may a new SYN reopen this TIME-WAIT
    /// connection? Yes when its timestamp is newer than the last one seen, or,
    /// without timestamps, when its sequence number is beyond RCV.NXT.
    pub(crate) fn accepts_new_syn(&self, syn: &Segment<'_>) -> bool {
        match (self.ts_ok, syn.options.timestamps) {
            (true, Some((val, _))) => (val.wrapping_sub(self.ts_recent) as i32) > 0,
            _ => syn.seq > self.rcv_nxt,
        }
    }

    /// Ends the connection silently (its TIME-WAIT gave way to a new incarnation).
    pub(crate) fn detach(&mut self) {
        self.enter_closed(CloseReason::Graceful);
        self.pending = Default::default();
    }
}
