//! Fuzz bodies for the core's internals, checked against simple models
//! (feature `fuzzing`; the targets are in `fuzz/`, and `synack-fuzz` replays
//! their corpora under `cargo test`). Each takes arbitrary bytes, reads them
//! as a sequence of operations, and panics when an invariant breaks.

use crate::connection::{fuzz_reassembly_ops, fuzz_scoreboard_ops, fuzz_sent_log_ops};

/// The SACK scoreboard (RFC 6675) against a model of what was SACKed: its
/// ranges stay sorted, disjoint and inside the flight, never claim a byte
/// the peer did not SACK, and `pipe`, `next_hole` and `unsacked_end` stay
/// within the flight.
pub fn scoreboard(data: &[u8]) {
    fuzz_scoreboard_ops(data);
}

/// Out-of-order reassembly in the receive ring against a model that keeps
/// every byte: whatever the order, overlaps and duplicates, the readable
/// bytes are the covered prefix, each byte in place, and memory stays
/// within the buffer and the range cap.
pub fn reassembly(data: &[u8]) {
    fuzz_reassembly_ops(data);
}

/// RACK's log of transmissions (RFC 8985 §5.2) under arbitrary sends,
/// retransmissions, SACKs, ACKs, loss marks and timeouts: entries stay
/// sorted, disjoint and inside the flight, the running SACKed and lost
/// totals match the entries, and the log stays within its cap.
pub fn sent_log(data: &[u8]) {
    fuzz_sent_log_ops(data);
}
