//! Slow start through a bottleneck with a queue one BDP long (RFC 9406):
//! HyStart++ leaves slow start once a round's minimum RTT shows the queue
//! building; standard slow start doubles into the queue and loses a large
//! part of a window. (HyStart++ sees the rise a round late when the queue
//! is only one BDP: it halves the loss here rather than removing it; with
//! CUBIC, Linux's ACK-train detector cuts it further.)

use core::time::Duration;
use synack_core::{Config, CongestionControl};
use synack_sim::bottleneck::{run_synack, Bottleneck};

fn path(rtt_ms: u64) -> Bottleneck {
    Bottleneck::clean(100_000_000, rtt_ms)
}

#[test]
fn hystart_leaves_slow_start_before_the_queue_overflows() {
    for cc in [CongestionControl::NewReno, CongestionControl::Cubic] {
        for rtt in [20, 100] {
            let b = path(rtt);
            let with = run_synack(&b, Config { congestion_control: cc, ..Config::default() }, Duration::from_secs(120));
            let without = run_synack(
                &b,
                Config { congestion_control: cc, hystart: false, ..Config::default() },
                Duration::from_secs(120),
            );
            assert!(with.clean && without.clean);
            let (w, wo) = (with.flows[0], without.flows[0]);
            println!(
                "{cc:?} {rtt} ms: HyStart++ {:.1} Mbit/s, {} drops, {} retransmitted; without {:.1} Mbit/s, {} drops, {} retransmitted",
                w.goodput_bps() / 1e6,
                with.queue_drops,
                w.retransmits,
                wo.goodput_bps() / 1e6,
                without.queue_drops,
                wo.retransmits
            );
            assert!(without.queue_drops > 50, "standard slow start overflows the queue");
            assert!(with.queue_drops * 10 < without.queue_drops * 7, "HyStart++ drops at least 30 % less");
            assert!(w.retransmits * 10 < wo.retransmits * 7, "and retransmits at least 30 % less");
        }
    }
}

/// Linux's ACK-train detector (CUBIC's HyStart) sees the full pipe before
/// the delay rises: with CUBIC it cuts slow start's overflow further.
#[test]
fn with_cubic_the_ack_train_ends_slow_start_sooner() {
    for rtt in [20, 100] {
        let b = path(rtt);
        let with = run_synack(&b, Config::default(), Duration::from_secs(120));
        let without =
            run_synack(&b, Config { hystart_ack_train: false, ..Config::default() }, Duration::from_secs(120));
        assert!(with.clean && without.clean);
        println!(
            "Cubic {rtt} ms: HyStart++ and the ACK train {} drops, {} retransmitted; HyStart++ alone {} drops, {} retransmitted",
            with.queue_drops, with.flows[0].retransmits, without.queue_drops, without.flows[0].retransmits
        );
        assert!(with.queue_drops * 10 < without.queue_drops * 9, "at least 10 % fewer drops");
    }
}
