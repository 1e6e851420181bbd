//! Undoing a recovery that D-SACKs show was spurious (RFC 2883 §5, in the
//! style of RFC 3708 §3 and Linux's `undo_retrans`): a recovery remembers
//! the congestion state it reduced and counts the bytes it retransmitted;
//! when the peer has reported as many bytes of that range as duplicates,
//! every retransmission was needless, so the reduction is undone (and the
//! path is taken to reorder). This works without timestamps, and after the
//! recovery has ended, when the D-SACK for its last retransmission arrives
//! a round trip later. Eifel (RFC 3522, in `send.rs`) undoes sooner when
//! timestamps are on; whichever comes first undoes once.

use super::{Connection, Segment};
use crate::congestion::CongestionController;
use crate::seq::SeqNum;
use synack_wire::SackBlock;

/// What a SACK recovery reduced and retransmitted, for a D-SACK undo.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DsackUndo {
    cwnd: u32,
    ssthresh: u32,
    /// The recovery's range: SND.UNA when it began, and its RecoveryPoint.
    low: SeqNum,
    high: SeqNum,
    /// Bytes retransmitted in the range, and bytes of it reported duplicate.
    retransmitted: u32,
    dsacked: u32,
}

impl Connection {
    /// A SACK recovery begins with `cwnd`/`ssthresh` before its reduction.
    pub(super) fn dsack_undo_begin(&mut self, cwnd: u32, ssthresh: u32) {
        let (low, high) = (self.snd_una, self.snd_max);
        if let Some(r) = self.rack.as_mut() {
            r.undo = Some(DsackUndo { cwnd, ssthresh, low, high, retransmitted: 0, dsacked: 0 });
        }
    }

    /// `seq..seq + len` was retransmitted.
    pub(super) fn dsack_undo_on_retransmit(&mut self, seq: SeqNum, len: u32) {
        if let Some(u) = self.rack.as_mut().and_then(|r| r.undo.as_mut()) {
            if u.low <= seq && seq < u.high {
                u.retransmitted = u.retransmitted.saturating_add(len);
            }
        }
    }

    /// Forgets the undo information (a timeout, or Eifel undid the recovery).
    pub(super) fn dsack_undo_forget(&mut self) {
        if let Some(r) = self.rack.as_mut() {
            r.undo = None;
        }
    }

    /// An ACK with a D-SACK (its first block): the block counts if it lies
    /// in the recovery's range; once all that was retransmitted is reported
    /// duplicate, the recovery is undone.
    pub(super) fn dsack_undo_on_ack(&mut self, seg: &Segment<'_>) {
        let Some(u) = self.rack.as_mut().and_then(|r| r.undo.as_mut()) else { return };
        let Some(&SackBlock { left, right }) = seg.options.sack_blocks().first() else { return };
        let (l, r) = (SeqNum(left), SeqNum(right));
        if !(u.low <= l && l < r && r <= u.high) {
            return;
        }
        u.dsacked = u.dsacked.saturating_add(r.since(l));
        if u.retransmitted == 0 || u.dsacked < u.retransmitted {
            return;
        }
        let (cwnd, ssthresh) = (u.cwnd, u.ssthresh);
        self.dsack_undo_forget();
        if self.in_recovery {
            self.end_spurious_recovery();
        }
        self.cc.on_spurious_recovery(cwnd, ssthresh);
        self.note_spurious_recovery();
    }
}
